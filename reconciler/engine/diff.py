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

from reconciler.address import SQL_NORMALISE, SQL_VALID
from reconciler.engine import changeset
from reconciler.engine.concurrent import BackgroundQueries, FileScans
from reconciler.engine.duck import (
    Connection,
    field_hash_sql,
    hash2_sql,
    hash_sql,
    keep_join_sides,
)
from reconciler.engine.hot import HotRows, decide_in_sql, fetch, read_hot_members, undecided_rows
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

__all__ = ["ListDiff", "OptInIndex", "diff_list"]


def diff_list(
    con: Connection,
    desired: DesiredSources,
    entry: ListSources,
    current: CurrentSnapshot,
    opt_ins: OptInIndex,
    *,
    provider: str,
    vendor: str,
) -> ListPlan:
    """The plan of one list. ``suppressions`` (table ``sup``) must already be loaded."""
    return ListDiff(con, desired, entry, current, opt_ins).plan(provider=provider, vendor=vendor)


class ListDiff:
    """One list's diff, in stages on one DuckDB connection. Each stage is one method and
    leaves its result in tables the next ones read:

    - ``special``: the keys always decided one by one (suppressed for this list, opted in);
    - ``des``: the members as keys (:mod:`reconciler.engine.members`);
    - ``vend``: the vendor's rows that may change, paired with the member keys;
    - ``hot_keys``, ``mrows``, ``single``, ``plain_keys``, ``matched``, ``repeated``: the hot
      members re-read and sorted into what SQL decides (:mod:`reconciler.engine.hot`);
    - ``chg``: the changes (:mod:`reconciler.engine.changeset`), ending in the plan's store.

    Every decision is a rule of :mod:`reconciler.engine.rules`, in its Python or its SQL form.
    """

    def __init__(
        self,
        con: Connection,
        desired: DesiredSources,
        entry: ListSources,
        current: CurrentSnapshot,
        opt_ins: OptInIndex,
    ) -> None:
        self.con = con
        self.desired = desired
        self.entry = entry
        self.current = current
        self.opt_ins = opt_ins
        cfg = entry.config
        self.rules = ListRules(cfg.mode, cfg.drop_action, tuple(cfg.managed_fields))
        self.scope = f"scope IN ('', {sql_str(entry.name)})"
        self.export_rows: int | None = None  # counted from the export's lines, where exact
        self.source_rows: dict[int, int] = {}

    def plan(self, *, provider: str, vendor: str) -> ListPlan:
        cfg = self.entry.config
        self.current.prepare(self.con)
        self.load_members()
        self.stream_vendor()
        unaddressable, unaddressable_inactive = self.set_aside_unaddressable()
        self.check_statuses()
        changeset.create_table(self.con, len(self.entry.field_aliases))
        bulk = changeset.BulkRows(len(self.entry.field_aliases))
        read_hot_members(self.con, self.entry, self.source_rows)
        decide_in_sql(self.con, self.desired, self.entry, self.rules, bulk)
        # Counted on a second cursor while Python decides the hot rows (on one core).
        counts = BackgroundQueries(self.con, self._count_queries())
        try:
            invalid = self.decide_in_python(
                undecided_rows(self.con, self.entry, self.scope, self.rules, bulk)
            )
            results = [r[0] for r in counts.results()]
            distinct = _distinct_members(self.con, *results[0])
            if self.export_rows is None:
                current_rows, active_rows = results[1]
            else:
                current_rows = self.export_rows
                active_rows = current_rows - _inactive_rows(self.con) - unaddressable_inactive
        finally:
            counts.join()
        return ListPlan(
            changes=changeset.finish(self.con, cfg.managed_fields, bulk=bulk),
            name=self.entry.name,
            provider=provider,
            vendor=vendor,
            vendor_list_id=cfg.list_id,
            mode=cfg.mode,
            drop_action=cfg.drop_action,
            current=self.current.ref(int(current_rows)),
            desired_members=int(distinct),
            active_members=int(active_rows),
            skipped_invalid=tuple(str(p) for p in invalid) if cfg.skip_invalid else (),
            unaddressable=unaddressable,
        )

    def load_members(self) -> None:
        """Tables ``special`` and ``des``; the member files' lines scanned meanwhile."""
        self.con.execute(
            f"CREATE OR REPLACE TABLE special AS SELECT h FROM sup WHERE {self.scope} "
            "UNION SELECT h FROM opt"
        )
        with FileScans(self.entry, self.current) as scans:
            self.source_rows = load_members(self.con, self.entry, "special")
        self.export_rows = scans.export_rows
        for source in self.entry.members:
            if isinstance(source, CsvRowSource):
                source.file.note_rows(self.source_rows.get(source.src_id, 0))

    def stream_vendor(self) -> None:
        """Table ``vend``: the vendor's rows stream past the member keys, and a row comes out
        when its address may change (unknown to one side, not active, another address under
        the same key, a field that differs, an invalid or special member), with its values."""
        aliases = self.entry.field_aliases
        cur_fh = "".join(f", {field_hash_sql(a)} AS cfh{i}" for i, a in enumerate(aliases))
        cur = (
            f"(SELECT *, {hash_sql('e')} AS h, {hash2_sql('e')} AS h2{cur_fh} FROM "
            f"(SELECT *, {SQL_NORMALISE('email')} AS e FROM {self.current.sql(positions=False)}))"
        )
        changed = "".join(
            f" OR (d.fh{i} IS NOT NULL AND d.fh{i} IS DISTINCT FROM c.cfh{i})"
            for i in range(len(aliases))
        )
        # The vendor's values matter only beside a member (an undeclared row is dropped or
        # left, with no fields), and its raw status only when it is not one reconciler
        # knows: a mass removal streams ten million such rows, which must fit the budget.
        values = "".join(f", CASE WHEN d.h IS NOT NULL THEN c.{a} END AS {a}" for a in aliases)
        pairs = (
            "SELECT d.h AS dh, d.sp AS dsp, c.h AS ch, c.e, c.status, "
            f"CASE WHEN c.status IS NULL THEN c.raw_status END AS raw_status{values}, "
            "coalesce(d.h2 <> c.h2, false) AS shared FROM"
        )
        with keep_join_sides(self.con):
            self.con.execute(
                f"CREATE OR REPLACE TABLE vend AS {pairs} {cur} c FULL OUTER JOIN des d "
                "ON c.h = d.h WHERE d.h IS NULL OR c.h IS NULL "
                "OR c.status IS DISTINCT FROM 'active' OR d.h2 <> c.h2 OR NOT d.ok "
                f"OR d.sp{changed}"
            )
            if fetch(self.con, "SELECT count(*) FROM vend WHERE shared")[0][0]:
                _every_pair_of_shared_keys(self.con, pairs, cur)

    def set_aside_unaddressable(self) -> tuple[Unaddressable | None, int]:
        return _set_aside_unaddressable(self.con)

    def check_statuses(self) -> None:
        """Every vendor row's status must be one reconciler knows."""
        sql = "SELECT count(*) FROM vend WHERE ch IS NOT NULL AND status IS NULL"
        if fetch(self.con, sql)[0][0]:
            _report_statuses(self.con, self.current)

    def _count_queries(self) -> list[str]:
        # Distinct addresses: counting distinct 64-bit keys costs less than both keys, and
        # when no key repeats, that is the count (see _distinct_members).
        queries = ["SELECT count(*), count(DISTINCT h) FROM des WHERE ok"]
        if self.export_rows is None:
            queries.append(
                "SELECT count(*), count(*) FILTER (WHERE status = 'active') "
                f"FROM {self.current.sql(positions=False)}"
            )
        return queries

    def decide_in_python(self, rows: HotRows) -> list[Problem]:
        """The rows SQL did not decide, merged and decided by :func:`rules.decide` into
        ``chg``; returns the invalid member rows (refused unless ``skip_invalid``)."""
        cfg = self.entry.config
        problems: list[Problem] = []
        declared, invalid = merge_declared(
            self.desired, rows.declared, cfg.managed_fields, problems
        )
        vendor_state = merge_vendor(rows.vendor, cfg.managed_fields)
        suppressed = merge_suppressions(self.desired, rows.suppressions)
        if invalid and not cfg.skip_invalid:
            problems[:0] = invalid
        if problems:
            hint = "" if cfg.skip_invalid else " (set skip_invalid: true to plan without bad rows)"
            raise SourceError(
                bounded(problems),
                summary=f"List {self.entry.name!r}: {len(problems)} problem(s) in its sources"
                + hint,
            )
        decided: list[ListChange] = []
        for email in declared.keys() | vendor_state.keys() | suppressed.keys():
            change = decide(
                email,
                self.rules,
                declared=declared.get(email),
                vendor=vendor_state.get(email),
                suppressed=suppressed.get(email),
                opt_in=self.opt_ins.for_list(email, self.entry.name),
            )
            if change is not None:
                decided.append(change)
        changeset.insert_rows(self.con, decided, cfg.managed_fields)
        changeset.locate_reasons(self.con, self.desired)
        return invalid


#: How many of the vendor's unaddressable rows a plan names.
UNADDRESSABLE_SAMPLE = 20


def _set_aside_unaddressable(con: Connection) -> tuple[Unaddressable | None, int]:
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


def _every_pair_of_shared_keys(con: Connection, pairs: str, cur: str) -> None:
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


def _distinct_members(con: Connection, rows: int, keys: int) -> int:
    """The distinct valid addresses, from the valid rows and their distinct first keys: equal
    when no key repeats; otherwise counted by both keys, since two addresses may share the
    first key without being one address."""
    if rows == keys:
        return rows
    return int(fetch(con, "SELECT count(DISTINCT h::UHUGEINT << 64 | h2) FROM des WHERE ok")[0][0])


def _inactive_rows(con: Connection) -> int:
    """The vendor's rows that are not active, all of them hot: in ``vend`` once per member row
    of their address (``mrows`` holds every row of a hot address), or once if none."""
    rows = fetch(
        con,
        "SELECT coalesce(sum(v.n // coalesce(m.k, 1)), 0) FROM "
        "(SELECT ch, count(*) AS n FROM vend WHERE ch IS NOT NULL AND status <> 'active' "
        "GROUP BY ch) v LEFT JOIN (SELECT h, count(*) AS k FROM mrows WHERE h IN "
        "(SELECT ch FROM vend WHERE status <> 'active') GROUP BY h) m ON m.h = v.ch",
    )
    return int(rows[0][0])


def _report_statuses(con: Connection, current: CurrentSnapshot) -> None:
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
