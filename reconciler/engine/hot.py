"""The hot rows of one list: after the vendor's rows have streamed past the member keys
(table ``vend``, see :mod:`reconciler.engine.diff`), the members of the addresses that may
change are read again with their values, and, with the vendor's hot rows, split into plain
adds and drops (built in bulk), matched members (decided straight from their row) and the
rest (merged, then decided one by one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.engine.duck import keep_join_sides
from reconciler.engine.members import prepare_raw_keys, raw_members
from reconciler.engine.merge import SharedValues, plain_adds
from reconciler.model import ListMode
from reconciler.plan.model import ListChange
from reconciler.sources.csvfile import sql_str
from reconciler.sources.desired import CsvRowSource, DesiredSources, ListSources

#: Below this share of hot keys among the member rows, the re-read skips the other rows by
#: their raw address before normalising them (see members.raw_members).
RAW_KEY_SHARE = 0.25


def fetch(con: Any, sql: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
    return rows


@dataclass
class HotRows:
    """The rows DuckDB hands to Python: plain adds and drops (decided in bulk) and the rows of
    every other hot address (decided one by one)."""

    plain_adds: list[ListChange]  # sorted by address
    exact_reasons: bool  # every member row's reason is computed (no src, ord columns)
    plain_drops: list[str]  # sorted addresses
    matched: list[tuple[Any, ...]]  # e, reason, [src, ord,] f0.., status, vendor f0..
    declared: list[tuple[Any, ...]]  # src, ord, email, e, ok, f0..
    vendor: list[tuple[Any, ...]]  # e, status, raw_status, f0..
    suppressions: list[tuple[Any, ...]]  # e, reason, src, ord


def hot_rows(
    con: Any,
    desired: DesiredSources,
    entry: ListSources,
    source_rows: dict[int, int],
    scope: str,
) -> HotRows:
    """After table ``vend``: the hot members re-read with their values and split, with the
    vendor's hot rows, into plain adds and drops and the rest."""
    aliases = entry.field_aliases
    field_cols = "".join(f", {a}" for a in aliases)
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
            f"CREATE OR REPLACE TABLE mrows AS SELECT src, ord, email, e, ok, h{field_cols} "
            f"FROM {raw_members(entry, 'hot_keys', source_rows, raw_keys=by_raw_key)}"
        )
    # A plain add: one valid row, unknown to the vendor, neither suppressed nor opted in. A
    # plain drop: one active row at the vendor, not declared, not special, authoritative list.
    # Neither needs a rule beyond that, which keeps million-row plans fast.
    con.execute(
        "CREATE OR REPLACE TABLE plain_keys AS "
        "(SELECT h FROM mrows GROUP BY h HAVING count(*) = 1 AND bool_and(ok)) "
        "INTERSECT (SELECT dh FROM vend WHERE ch IS NULL AND NOT dsp)"
    )
    # Fetched in order (a table's rows come back in no set order) and built a chunk at a
    # time: a first sync plans millions of adds, and holding every fetched row next to its
    # change would double the plan's memory.
    reason, exact = reason_sql(desired, entry)
    cursor = con.execute(
        f"SELECT e, {reason} AS reason{'' if exact else ', src, ord'}{field_cols} FROM mrows "
        "WHERE h IN (SELECT h FROM plain_keys) ORDER BY e"
    )
    adds: list[ListChange] = []
    shared = SharedValues(entry.config.managed_fields)
    while chunk := cursor.fetchmany(1 << 16):
        adds += plain_adds(desired, chunk, entry.config.managed_fields, exact, shared)
    # A matched member: one valid row and one vendor row for the address, not special. Most
    # updates and held members are such; they skip merging (see rules.decide_at_vendor).
    matched: list[tuple[Any, ...]] = []
    con.execute("CREATE OR REPLACE TABLE matched AS SELECT NULL::UBIGINT AS h WHERE false")
    # Without a single pair of a member and a vendor row (a first sync), nothing is matched,
    # and the joins below would cost half a second per million plain adds for nothing.
    if fetch(con, "SELECT count(*) FROM vend WHERE dh IS NOT NULL AND ch IS NOT NULL")[0][0]:
        con.execute(
            "CREATE OR REPLACE TABLE matched AS SELECT m.h FROM mrows m JOIN vend v ON v.dh = m.h "
            "WHERE m.e = v.e "
            "AND m.h IN (SELECT h FROM mrows GROUP BY h HAVING count(*) = 1 AND bool_and(ok)) "
            "AND m.h IN (SELECT dh FROM vend WHERE dh IS NOT NULL GROUP BY dh "
            "HAVING count(*) = 1 AND bool_and(ch IS NOT NULL AND NOT dsp))"
        )
        member_values = "".join(f", m.{a}" for a in aliases)
        vendor_values = "".join(f", v.{a}" for a in aliases)
        matched = fetch(
            con,
            f"SELECT m.e, {reason_sql(desired, entry, 'm.')[0]} AS reason"
            f"{'' if exact else ', m.src, m.ord'}{member_values}, v.status{vendor_values} "
            "FROM mrows m JOIN vend v ON v.dh = m.h WHERE m.h IN (SELECT h FROM matched) "
            "ORDER BY m.e",
        )
    declared = fetch(
        con,
        f"SELECT src, ord, email, e, ok{field_cols} FROM mrows "
        "WHERE h NOT IN (SELECT h FROM plain_keys) AND h NOT IN (SELECT h FROM matched)",
    )
    drop_keys = (
        "SELECT ch FROM vend WHERE ch IS NOT NULL GROUP BY ch "
        "HAVING count(*) = 1 AND bool_and(dh IS NULL AND status = 'active') "
        "EXCEPT SELECT h FROM special"
    )
    if entry.config.mode is not ListMode.AUTHORITATIVE:
        drop_keys = "SELECT NULL::UBIGINT AS ch WHERE false"
    con.execute(f"CREATE OR REPLACE TABLE drop_keys AS {drop_keys}")
    drops = [
        r[0]
        for r in fetch(con, "SELECT e FROM vend WHERE ch IN (SELECT ch FROM drop_keys) ORDER BY e")
    ]
    vendor = fetch(
        con,
        f"SELECT e, status, raw_status{field_cols} FROM vend "
        "WHERE ch IS NOT NULL AND ch NOT IN (SELECT ch FROM drop_keys) "
        "AND ch NOT IN (SELECT h FROM matched)",
    )
    suppressions = fetch(
        con,
        f"SELECT e, reason, src, ord FROM sup WHERE {scope} "
        "AND h IN (SELECT h FROM hot_keys UNION SELECT ch FROM vend)",
    )
    return HotRows(adds, exact, drops, matched, declared, vendor, suppressions)


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
