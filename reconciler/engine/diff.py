"""Compute one list's changes: DuckDB narrows millions of addresses down to the few that may
change (the *hot* rows), then :func:`reconciler.engine.rules.decide` decides each of those.

Three reads: the members as 64-bit keys, on every core (``des``, see
:mod:`reconciler.engine.members`); the vendor's current state streamed past those keys, keeping
only the rows that may change, with their values (``vend``); and the members again, keeping the
hot rows, numbered for their ``file:line`` (large one-row-per-line files in parts side by
side). The distinct addresses (and the vendor's rows, where its lines cannot be counted) are
counted on a second cursor while Python decides the hot rows.
"""

from __future__ import annotations

from typing import Any

from reconciler.address import SQL_NORMALISE, SQL_VALID
from reconciler.engine import changeset
from reconciler.engine.concurrent import BackgroundQueries, FileScans
from reconciler.engine.duck import field_hash_sql, hash2_sql, hash_sql, keep_join_sides
from reconciler.engine.hot import fetch, hot_rows
from reconciler.engine.members import load_members
from reconciler.engine.merge import (
    OptInIndex,
    bounded,
    merge_declared,
    merge_suppressions,
    merge_vendor,
)
from reconciler.engine.rules import ListRules, decide
from reconciler.errors import Problem, SourceError
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.plan.model import ListChange, ListPlan, Unaddressable
from reconciler.sources.csvfile import sql_str
from reconciler.sources.desired import CsvRowSource, DesiredSources, ListSources

__all__ = ["OptInIndex", "diff_list"]


def diff_list(
    con: Any,
    desired: DesiredSources,
    entry: ListSources,
    current: CurrentSnapshot,
    opt_ins: OptInIndex,
    *,
    provider: str,
    vendor: str,
) -> ListPlan:
    """The plan of one list. ``suppressions`` (table ``sup``) must already be loaded."""
    cfg = entry.config
    aliases = entry.field_aliases
    rules = ListRules(cfg.mode, cfg.drop_action, tuple(cfg.managed_fields))
    current.prepare(con)
    scope = f"scope IN ('', {sql_str(entry.name)})"
    # Suppressed (for this list) and opted-in addresses are always decided one by one.
    con.execute(
        f"CREATE OR REPLACE TABLE special AS SELECT h FROM sup WHERE {scope} "
        "UNION SELECT h FROM opt"
    )
    with FileScans(entry, current) as scans:
        source_rows = load_members(con, entry, "special")
    for source in entry.members:
        if isinstance(source, CsvRowSource):
            source.file.note_rows(source_rows.get(source.src_id, 0))

    cur_sql = current.sql(positions=False)
    cur_fh = "".join(f", {field_hash_sql(a)} AS cfh{i}" for i, a in enumerate(aliases))
    cur = (
        f"(SELECT *, {hash_sql('e')} AS h, {hash2_sql('e')} AS h2{cur_fh} "
        f"FROM (SELECT *, {SQL_NORMALISE('email')} AS e FROM {cur_sql}))"
    )
    changed = "".join(
        f" OR (d.fh{i} IS NOT NULL AND d.fh{i} IS DISTINCT FROM c.cfh{i})"
        for i in range(len(aliases))
    )
    vendor_cols = "".join(f", c.{a}" for a in aliases)
    pairs = (
        "SELECT d.h AS dh, d.sp AS dsp, c.h AS ch, c.e, c.status, c.raw_status"
        f"{vendor_cols}, coalesce(d.h2 <> c.h2, false) AS shared FROM"
    )
    # The vendor's rows stream past the member keys: a row comes out when its address may
    # change (unknown to one side, not active, another address under the same key, a field
    # that differs, an invalid or special member), with the vendor's values.
    with keep_join_sides(con):
        con.execute(
            f"CREATE OR REPLACE TABLE vend AS {pairs} {cur} c FULL OUTER JOIN des d ON c.h = d.h "
            "WHERE d.h IS NULL OR c.h IS NULL OR c.status IS DISTINCT FROM 'active' "
            f"OR d.h2 <> c.h2 OR NOT d.ok OR d.sp{changed}"
        )
        if fetch(con, "SELECT count(*) FROM vend WHERE shared")[0][0]:
            _every_pair_of_shared_keys(con, pairs, cur)
    unaddressable, unaddressable_inactive = _set_aside_unaddressable(con)
    if fetch(con, "SELECT count(*) FROM vend WHERE ch IS NOT NULL AND status IS NULL")[0][0]:
        _report_statuses(con, current)
    changeset.create_table(con, len(aliases))
    rows = hot_rows(con, desired, entry, source_rows, scope, rules)
    # Counted on a second cursor while Python decides the hot rows (on one core).
    counts = BackgroundQueries(
        con,
        [
            # Distinct addresses: counting distinct 64-bit keys costs less than both keys, and
            # when no key repeats, that is the count (see _distinct_members).
            "SELECT count(*), count(DISTINCT h) FROM des WHERE ok",
            *(
                [f"SELECT count(*), count(*) FILTER (WHERE status = 'active') FROM {cur_sql}"]
                if scans.export_rows is None
                else []
            ),
        ],
    )
    try:
        problems: list[Problem] = []
        declared, invalid = merge_declared(desired, rows.declared, cfg.managed_fields, problems)
        vendor_state = merge_vendor(rows.vendor, cfg.managed_fields)
        suppressed = merge_suppressions(desired, rows.suppressions)
        if invalid and not cfg.skip_invalid:
            problems[:0] = invalid
        if problems:
            raise SourceError(
                bounded(problems),
                summary=f"List {entry.name!r}: {len(problems)} problem(s) in its sources"
                + (
                    "" if cfg.skip_invalid else " (set skip_invalid: true to plan without bad rows)"
                ),
            )

        decided: list[ListChange] = []
        for email in declared.keys() | vendor_state.keys() | suppressed.keys():
            change = decide(
                email,
                rules,
                declared=declared.get(email),
                vendor=vendor_state.get(email),
                suppressed=suppressed.get(email),
                opt_in=opt_ins.for_list(email, entry.name),
            )
            if change is not None:
                decided.append(change)
        changeset.insert_rows(con, decided, cfg.managed_fields)
        changeset.locate_reasons(con, desired)
        results = [r[0] for r in counts.results()]
        distinct = _distinct_members(con, *results[0])
        if scans.export_rows is None:
            current_rows, active_rows = results[1]
        else:
            current_rows = scans.export_rows
            active_rows = current_rows - _inactive_rows(con) - unaddressable_inactive
    finally:
        counts.join()
    return ListPlan(
        changes=changeset.finish(con, cfg.managed_fields),
        name=entry.name,
        provider=provider,
        vendor=vendor,
        vendor_list_id=cfg.list_id,
        mode=cfg.mode,
        drop_action=cfg.drop_action,
        current=current.ref(int(current_rows)),
        desired_members=int(distinct),
        active_members=int(active_rows),
        skipped_invalid=tuple(str(p) for p in invalid) if cfg.skip_invalid else (),
        unaddressable=unaddressable,
    )


#: How many of the vendor's unaddressable rows a plan names.
UNADDRESSABLE_SAMPLE = 20


def _set_aside_unaddressable(con: Any) -> tuple[Unaddressable | None, int]:
    """The vendor's undeclared rows whose address is not a valid one (empty, say), taken out
    of ``vend``: no batch can name them (sending one back would be refused by the vendor, or
    accepted as another address), so they are left as they are, counted and sampled for the
    plan, with how many of them are not active (``vend`` no longer counts them). A declared
    row of such an address is the member's problem and stays."""
    where = f"dh IS NULL AND ch IS NOT NULL AND NOT coalesce({SQL_VALID('e')}, false)"
    count, inactive = fetch(
        con,
        "SELECT count(*), count(*) FILTER (WHERE status IS DISTINCT FROM 'active') "
        f"FROM vend WHERE {where}",
    )[0]
    if not count:
        return None, 0
    sample = fetch(
        con,
        f"SELECT DISTINCT coalesce(e, '') AS e FROM vend WHERE {where} "
        f"ORDER BY e LIMIT {UNADDRESSABLE_SAMPLE}",
    )
    con.execute(f"DELETE FROM vend WHERE {where}")
    return Unaddressable(int(count), tuple(str(r[0]) for r in sample)), int(inactive)


def _every_pair_of_shared_keys(con: Any, pairs: str, cur: str) -> None:
    """Where two addresses share a first key (for ten million addresses, about once in
    400,000 plans), ``vend`` may lack a vendor row whose own pair was unchanged, and Python,
    deciding that key's members, would not see it. So those keys get every pair, at the cost
    of reading the vendor's rows again."""
    con.execute(
        "CREATE OR REPLACE TABLE shared_keys AS SELECT DISTINCT dh AS h FROM vend WHERE shared"
    )
    con.execute(
        "DELETE FROM vend WHERE dh IN (SELECT h FROM shared_keys) "
        "OR ch IN (SELECT h FROM shared_keys)"
    )
    con.execute(
        f"INSERT INTO vend {pairs} (SELECT * FROM {cur} WHERE h IN (SELECT h FROM shared_keys)) c "
        "FULL OUTER JOIN (SELECT * FROM des WHERE h IN (SELECT h FROM shared_keys)) d "
        "ON c.h = d.h"
    )


def _distinct_members(con: Any, rows: int, keys: int) -> int:
    """The distinct valid addresses, from the valid rows and their distinct first keys: equal
    when no key repeats; otherwise counted by both keys, since two addresses may share the
    first key without being one address."""
    if rows == keys:
        return rows
    return int(fetch(con, "SELECT count(DISTINCT h::UHUGEINT << 64 | h2) FROM des WHERE ok")[0][0])


def _inactive_rows(con: Any) -> int:
    """The vendor's rows that are not active, all of them hot: in ``vend`` once per member row
    of their address (``mrows`` holds every row of a hot address), or once if none."""
    rows = fetch(
        con,
        "SELECT coalesce(sum(v.n // coalesce(m.k, 1)), 0) FROM "
        "(SELECT ch, count(*) AS n FROM vend WHERE ch IS NOT NULL AND status <> 'active' "
        "GROUP BY ch) v LEFT JOIN (SELECT h, count(*) AS k FROM mrows GROUP BY h) m ON m.h = v.ch",
    )
    return int(rows[0][0])


def _report_statuses(con: Any, current: CurrentSnapshot) -> None:
    bad = fetch(
        con,
        f"SELECT src_file, ord, raw_status FROM {current.sql(positions=True)} "
        "WHERE status IS NULL "
        "ORDER BY src_file, ord LIMIT 20",
    )
    if bad:
        problems = [
            Problem(f"unknown contact status {raw!r}", file=current.origin(src, ordinal))
            for src, ordinal, raw in bad
        ]
        raise SourceError(
            problems,
            summary="The current state holds statuses reconciler "
            "does not know (expected e.g. active, unjoin-member, bounced, complaint)",
        )
