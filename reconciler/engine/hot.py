"""The hot rows of one list, three stages of :class:`reconciler.engine.diff.ListDiff`: after
the vendor's rows have streamed past the member keys (table ``vend``), the members of the
addresses that may change are read again with their values (:func:`read_hot_members`); plain
adds and drops and matched members are decided in SQL, into table ``chg``
(:func:`decide_in_sql`); the rest is handed to Python to merge and decide one by one
(:func:`undecided_rows`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.engine.changeset import KIND_NUMBER, BulkRows
from reconciler.engine.duck import Connection, keep_join_sides
from reconciler.engine.members import prepare_raw_keys, raw_members
from reconciler.engine.rules import ListRules, add_sql, at_vendor_sql, compare_sql, drop_sql
from reconciler.model import ChangeKind, ListMode
from reconciler.sources.csvfile import sql_str
from reconciler.sources.desired import CsvRowSource, DesiredSources, ListSources

#: Below this share of hot keys among the member rows, the re-read skips the other rows by
#: their raw address before normalising them (see members.raw_members).
RAW_KEY_SHARE = 0.25


def fetch(con: Connection, sql: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
    return rows


@dataclass
class HotRows:
    """The rows DuckDB hands to Python: those of the hot addresses that SQL did not decide
    (suppressed, opted in, declared twice or invalid), to be merged and decided one by one."""

    declared: list[tuple[Any, ...]]  # src, ord, email, e, ok, f0..
    vendor: list[tuple[Any, ...]]  # e, status, raw_status, f0..
    suppressions: list[tuple[Any, ...]]  # e, reason, src, ord


def read_hot_members(con: Connection, entry: ListSources, source_rows: dict[int, int]) -> None:
    """Tables ``hot_keys`` (the member keys ``vend`` names) and ``mrows`` (every member row of
    those keys, with its values), then ``single``: the keys of exactly one valid row."""
    field_cols = "".join(f", {a}" for a in entry.field_aliases)
    con.execute(
        "CREATE OR REPLACE TABLE hot_keys AS SELECT DISTINCT dh AS h FROM vend WHERE dh IS NOT NULL"
    )
    # When most rows are hot (a first sync), skipping the others by their raw address saves
    # nothing, and its second table of keys, as large as the first, would not fit the memory
    # budget next to them at ten million rows (DuckDB ran out of memory in most such plans).
    hot = fetch(con, "SELECT count(*) FROM hot_keys")[0][0]
    by_raw_key = hot < RAW_KEY_SHARE * sum(source_rows.values())
    if by_raw_key:
        prepare_raw_keys(con, "hot_keys")
    with keep_join_sides(con):
        con.execute(
            # The raw address only names an invalid row (merge.merge_declared): a first sync
            # holds ten million valid ones here.
            "CREATE OR REPLACE TABLE mrows AS SELECT src, ord, "
            f"CASE WHEN ok THEN NULL ELSE email END AS email, e, ok, h{field_cols} "
            f"FROM {raw_members(entry, 'hot_keys', source_rows, raw_keys=by_raw_key)}"
        )
    con.execute(
        "CREATE OR REPLACE TABLE single AS "
        "SELECT h FROM mrows GROUP BY h HAVING count(*) = 1 AND bool_and(ok)"
    )


def decide_in_sql(
    con: Connection,
    desired: DesiredSources,
    entry: ListSources,
    rules: ListRules,
    bulk: BulkRows,
) -> None:
    """Plain adds, matched members and plain drops, decided in SQL straight into ``chg`` (or,
    in bulk, to Parquet): a first sync or a mass update plans a row per member, and none of
    them becomes a Python object here. A reason SQL cannot compute (inline rows, multi-line
    CSV) is NULL, with the row's source and ordinal for changeset.locate_reasons, and such
    rows go through ``chg``."""
    reason, exact = reason_sql(desired, entry)
    out = _Out(con, bulk, exact)
    # The keys the vendor holds more than once (hardly ever any), found by counting keys
    # alone: grouping ten million rows with their addresses took four seconds, mostly
    # spilling them. A matched member and a plain drop are neither.
    con.execute(
        "CREATE OR REPLACE TABLE repeated AS SELECT ch FROM vend WHERE ch IS NOT NULL "
        "GROUP BY ch HAVING count(*) > 1"
    )
    _plain_adds(con, entry, reason, out)
    _matched(con, entry, rules, reason, out)
    _plain_drops(con, entry, rules, out)


class _Out:
    """Where a rule's rows go: ``chg``, or a part file when there are many and every reason
    is computed."""

    def __init__(self, con: Connection, bulk: BulkRows, exact: bool) -> None:
        self.con, self.bulk, self.exact = con, bulk, exact
        self.place = "" if exact else ", src, ord"

    def insert(self, select: str, estimate_sql: str, kind: ChangeKind | None = None) -> None:
        estimate = fetch(self.con, estimate_sql)[0][0] if self.exact else 0
        self.bulk.insert(self.con, select, estimate=int(estimate), kind=kind)


def _plain_adds(con: Connection, entry: ListSources, reason: str, out: _Out) -> None:
    """A plain add: one valid row, unknown to the vendor, neither suppressed nor opted in."""
    # A semi-join, not INTERSECT (which hashes both sides): a key of one member row has one
    # row in vend when the vendor holds none under it, so no key comes out twice.
    con.execute(
        "CREATE OR REPLACE TABLE plain_keys AS SELECT dh AS h FROM vend "
        "WHERE ch IS NULL AND NOT dsp AND dh IN (SELECT h FROM single)"
    )
    out.insert(
        f"SELECT {add_sql(KIND_NUMBER, reason, entry.field_aliases)}{out.place} "
        "FROM mrows WHERE h IN (SELECT h FROM plain_keys)",
        "SELECT count(*) FROM plain_keys",
        ChangeKind.ADD,
    )


def _matched(con: Connection, entry: ListSources, rules: ListRules, reason: str, out: _Out) -> None:
    """A matched member: one valid row and one vendor row for the address, not special. Most
    updates and held members are such. The pair is kept with both sides' values, so that
    deciding it needs no second join."""
    aliases = entry.field_aliases
    # The values are compared as the pairs are found (compare_sql), so that the decision
    # reads them once: computed again in every column and condition that names them, they
    # doubled the time of a mass update.
    compared = "".join(f", {compare_sql(f'm.{a}', f'v.{a}', i)}" for i, a in enumerate(aliases))
    pair = f"m.h, m.e, m.src, m.ord, v.status{compared}"
    # Without a single pair of a member and a vendor row (a first sync), nothing is matched,
    # and the joins below would cost half a second per million plain adds for nothing.
    if not fetch(con, "SELECT count(*) FROM vend WHERE dh IS NOT NULL AND ch IS NOT NULL")[0][0]:
        con.execute(
            f"CREATE OR REPLACE TABLE matched AS SELECT {pair} FROM mrows m, vend v WHERE false"
        )
        return
    # A single key's rows in vend are its vendor rows (each paired with its one member row),
    # so "one vendor row" is "not repeated": no grouping of vend by member key.
    con.execute(
        f"CREATE OR REPLACE TABLE matched AS SELECT {pair} FROM mrows m "
        "JOIN vend v ON v.dh = m.h WHERE v.ch IS NOT NULL AND NOT v.dsp AND m.e = v.e "
        "AND m.h IN (SELECT h FROM single) AND m.h NOT IN (SELECT ch FROM repeated)"
    )
    decided, changes = at_vendor_sql(rules, KIND_NUMBER, "origin")
    out.insert(
        f"SELECT {decided}{out.place} FROM (SELECT *, {reason} AS origin FROM matched) "
        f"WHERE {changes}",
        "SELECT count(*) FROM matched",
    )


#: A vendor row that is a plain drop, over ``vend`` and table ``repeated`` (see _plain_drops).
PLAIN_DROP = (
    "ch IS NOT NULL AND dh IS NULL AND status = 'active' "
    "AND ch NOT IN (SELECT h FROM special) AND ch NOT IN (SELECT ch FROM repeated)"
)


def _plain_drops(con: Connection, entry: ListSources, rules: ListRules, out: _Out) -> None:
    """A plain drop: one active row at the vendor, not declared, not special, on an
    authoritative list."""
    if entry.config.mode is ListMode.AUTHORITATIVE:
        # vend holds every plain drop, and is counted without a scan.
        out.insert(
            f"SELECT {drop_sql(rules, KIND_NUMBER)} FROM vend WHERE {PLAIN_DROP}",
            "SELECT count(*) FROM vend",
            ChangeKind(rules.drop_action.value),
        )


def undecided_rows(
    con: Connection, entry: ListSources, scope: str, rules: ListRules, bulk: BulkRows
) -> HotRows:
    """The hot rows SQL did not decide (suppressed, opted in, declared twice or invalid), for
    Python to merge and decide one by one."""
    field_cols = "".join(f", {a}" for a in entry.field_aliases)
    authoritative = entry.config.mode is ListMode.AUTHORITATIVE
    plain_drop = PLAIN_DROP if authoritative else "false"
    (members, single, plain, matched, paired, dropped), *_ = fetch(
        con,
        "SELECT (SELECT count(*) FROM mrows), (SELECT count(*) FROM single), "
        "(SELECT count(*) FROM plain_keys), (SELECT count(*) FROM matched), "
        "(SELECT count(*) FROM vend WHERE ch IS NOT NULL), "
        f"(SELECT count(*) FROM chg WHERE k = {KIND_NUMBER[ChangeKind(rules.drop_action.value)]})",
    )
    # In a first sync or a mass update, SQL decides every row: finding none left would cost an
    # anti-join of every key. Plain and matched keys are single keys, apart; a single key has
    # one row; a matched key one vendor row; a plain drop one vendor row and no member.
    dropped += bulk.counts[ChangeKind(rules.drop_action.value)]
    declared: list[tuple[Any, ...]] = []
    if not (members == single == plain + matched):
        declared = fetch(
            con,
            f"SELECT src, ord, email, e, ok{field_cols} FROM mrows WHERE h NOT IN "
            "(SELECT h FROM plain_keys UNION ALL SELECT h FROM matched)",
        )
    vendor: list[tuple[Any, ...]] = []
    if paired != matched + (dropped if authoritative else 0):
        vendor = fetch(
            con,
            f"SELECT e, status, raw_status{field_cols} FROM vend WHERE ch IS NOT NULL "
            f"AND NOT ({plain_drop}) AND ch NOT IN (SELECT h FROM matched)",
        )
    suppressions = fetch(
        con,
        f"SELECT e, reason, src, ord FROM sup WHERE {scope} "
        # Suppressed keys are special: the vendor's rows are looked up among those few.
        "AND (h IN (SELECT h FROM hot_keys) "
        "OR h IN (SELECT ch FROM vend WHERE ch IN (SELECT h FROM special)))",
    )
    return HotRows(declared, vendor, suppressions)


def reason_sql(desired: DesiredSources, entry: ListSources, alias: str = "") -> tuple[str, bool]:
    """SQL for a member row's ``file:line`` where the line is ``ord`` plus a constant (NULL
    where :meth:`DesiredSources.locate` must tell: inline rows, multi-line CSV), and whether
    that covers every source."""
    cases = []
    exact = True
    for source in entry.members:
        # A source that computes its rows' reasons itself (SQL rows, named by their key).
        origin_sql = getattr(source, "origin_sql", None)
        if origin_sql is not None:
            cases.append(f"WHEN {source.src_id} THEN {origin_sql(alias)}")
            continue
        offset = source.file.line_offset() if isinstance(source, CsvRowSource) else None
        if offset is None:
            exact = False
            continue
        prefix = sql_str(f"{source.display}:")
        cases.append(f"WHEN {source.src_id} THEN {prefix} || ({alias}ord + {offset})")
    return (f"CASE {alias}src {' '.join(cases)} END" if cases else "NULL::VARCHAR"), exact
