"""Compute one list's changes: DuckDB narrows millions of addresses down to the few that may
change (the *hot* set), then :func:`reconciler.engine.rules.decide` decides each of those.

Pass 1 works on 64-bit keys only (a hash of the normalised address plus a second, independent
hash against collisions, and hashes of managed field values), which keeps 10M-row lists inside
the memory budget. Pass 2 re-reads only the hot rows with their real values.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any

from reconciler.address import SQL_NORMALISE, SQL_VALID, invalid_reason
from reconciler.engine.duck import field_hash_sql, hash2_sql, hash_sql
from reconciler.engine.rules import (
    REASON_RANK,
    AtVendor,
    Declared,
    ListRules,
    OptIn,
    Suppressed,
    decide,
)
from reconciler.errors import Problem, SourceError
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.model import KIND_ORDER, ChangeKind, ContactStatus, ListMode, SuppressionReason
from reconciler.plan.model import NO_VALUES, ListChange, ListPlan
from reconciler.sources.desired import CsvRowSource, DesiredSources, ListSources

_STATUS_RANK = {
    ContactStatus.ACTIVE: 0,
    ContactStatus.UNSUBSCRIBED: 1,
    ContactStatus.BOUNCED: 2,
    ContactStatus.COMPLAINT: 3,
}
_KIND_POS = {kind: i for i, kind in enumerate(KIND_ORDER)}
MAX_REPORTED = 1000  # problems listed per kind before "... and N more"


@dataclass
class OptInIndex:
    """Resubscribe opt-ins by normalised address."""

    entries: dict[str, list[tuple[OptIn, tuple[str, ...] | None]]] = field(default_factory=dict)

    def for_list(self, email: str, list_name: str) -> OptIn | None:
        for opt_in, lists in self.entries.get(email, []):
            if lists is None or list_name in lists:
                return opt_in
        return None


def members_sql(entry: ListSources) -> str:
    """Every member row of a list: ``src, ord, email (raw), f0..fN``."""
    aliases = entry.field_aliases
    parts = []
    for source in entry.members:
        cols = "".join(f", {a}" for a in aliases)
        parts.append(f"SELECT src, ord, email{cols} FROM {source.sql()}")
    if not parts:
        cols = "".join(f", NULL::VARCHAR AS {a}" for a in aliases)
        return (
            "(SELECT NULL::INTEGER AS src, NULL::UBIGINT AS ord, NULL::VARCHAR AS email"
            f"{cols} WHERE false)"
        )
    union = " UNION ALL ".join(parts)
    # A row with no value at all is a blank line, not a member (DuckDB yields one for a blank
    # line in a one-column file); a row with fields but no address is reported as invalid.
    blank = " AND ".join(f"nullif(trim({c}), '') IS NULL" for c in ("email", *aliases))
    return f"(SELECT * FROM ({union}) WHERE NOT ({blank}))"


def _fetch(con: Any, sql: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
    return rows


@contextmanager
def _in_background(con: Any, sql: str) -> Iterator[None]:
    """Run ``sql`` on a cursor in a thread while the block runs; re-raise its error after."""
    cursor = con.cursor()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            cursor.execute(sql)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=work, name="reconciler-read-current")
    thread.start()
    try:
        yield
    finally:
        thread.join()
        cursor.close()
    if failure:
        raise failure[0]


def load_members(con: Any, entry: ListSources) -> None:
    """Table ``des``: every member row as its position and 64-bit keys (``src, ord, h, h2,
    fh0..``) with its validity. Raw values are not kept (10M rows of them would not fit the
    memory budget): :func:`raw_members` re-reads the few rows that need them."""
    fh = "".join(f", {field_hash_sql(a)} AS fh{i}" for i, a in enumerate(entry.field_aliases))
    con.execute(
        "CREATE OR REPLACE TABLE des AS SELECT src, ord, "
        f"{hash_sql('e')} AS h, {hash2_sql('e')} AS h2{fh}, {SQL_VALID('e')} AS ok "
        f"FROM (SELECT *, {SQL_NORMALISE('email')} AS e FROM {members_sql(entry)})"
    )


def raw_members(entry: ListSources, keys: str) -> str:
    """SQL: the member rows (``src, ord, email, f0..``) whose ``(src, ord)`` are in table
    ``keys``, with their raw values, re-read from the sources."""
    return f"(SELECT m.* FROM {members_sql(entry)} m SEMI JOIN {keys} USING (src, ord))"


def member_problems(
    con: Any, desired: DesiredSources, entry: ListSources
) -> tuple[list[Problem], list[Problem]]:
    """After :func:`load_members`: (invalid addresses, conflicting field values), checked over
    every row without any vendor state (what ``validate`` reports)."""
    aliases = entry.field_aliases
    conflicting = " OR ".join(f"count(DISTINCT fh{i}) > 1" for i in range(len(aliases)))
    suspect = (
        f"SELECT h FROM des WHERE ok GROUP BY h HAVING {conflicting}"
        if aliases
        else ("SELECT NULL::UBIGINT AS h WHERE false")
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE suspect_rows AS SELECT src, ord, ok FROM des "
        f"WHERE NOT ok OR h IN ({suspect})"
    )
    field_cols = "".join(f", {a}" for a in aliases)
    rows = _fetch(
        con,
        f"SELECT src, ord, email, {SQL_NORMALISE('email')} AS e, ok{field_cols} "
        f"FROM {raw_members(entry, 'suspect_rows')} JOIN suspect_rows USING (src, ord)",
    )
    conflicts: list[Problem] = []
    _, invalid, _ = _merge_declared(desired, rows, entry.config.managed_fields, conflicts)
    return invalid, conflicts


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
    cur_fh = "".join(f", {field_hash_sql(a)} AS cfh{i}" for i, a in enumerate(aliases))
    cur_sql = current.sql(positions=False)
    cur_e = SQL_NORMALISE("email")
    # Read the vendor's state while the members are read (a second connection to the same
    # in-memory database): numbering the member rows keeps part of that read on one core.
    with _in_background(
        con,
        "CREATE OR REPLACE TABLE cur AS SELECT "
        f"{hash_sql('e')} AS h, {hash2_sql('e')} AS h2, status{cur_fh} "
        f"FROM (SELECT *, {cur_e} AS e FROM {cur_sql})",
    ):
        load_members(con, entry)
    desired_rows, invalid_rows = _fetch(
        con, "SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM des"
    )[0]
    current_rows, active_rows, unknown = _fetch(
        con,
        "SELECT count(*), count(*) FILTER (WHERE status = 'active'), "
        "count(*) FILTER (WHERE status IS NULL) FROM cur",
    )[0]
    if unknown:
        _report_statuses(con, current)

    field_changed = " OR ".join(
        f"(d.fh{i} IS NOT NULL AND d.fh{i} IS DISTINCT FROM c.cfh{i})" for i in range(len(aliases))
    )
    changed = f" OR {field_changed}" if field_changed else ""
    # The common cases — a plain add (declared once, valid, unknown to the vendor, neither
    # suppressed nor opted in) and a plain drop (active at the vendor, undeclared, not
    # suppressed, authoritative list) — need no rules beyond that: they skip the per-address
    # decision, which keeps million-row adds fast. Everything else goes through decide().
    scope = f"scope IN ('', {_lit(entry.name)})"
    con.execute(f"""
        CREATE OR REPLACE TABLE special AS
        SELECT h FROM des GROUP BY h HAVING count(*) > 1 OR NOT bool_and(ok)
        UNION SELECT h FROM sup WHERE {scope}
        UNION SELECT h FROM opt
    """)
    con.execute(f"""
        CREATE OR REPLACE TABLE joined AS
        SELECT coalesce(d.h, c.h) AS h, c.h IS NULL AS only_declared,
               d.h IS NULL AND c.status = 'active' AS only_active
        FROM des d FULL OUTER JOIN cur c ON d.h = c.h
        WHERE d.h IS NULL OR c.h IS NULL OR c.status <> 'active' OR d.h2 <> c.h2{changed}
    """)
    con.execute("CREATE OR REPLACE TABLE hot AS SELECT h FROM joined UNION SELECT h FROM special")
    con.execute(
        "CREATE OR REPLACE TABLE plain_add AS SELECT h FROM joined "
        "WHERE only_declared AND h NOT IN (SELECT h FROM special)"
    )
    drops = cfg.mode is ListMode.AUTHORITATIVE
    con.execute(
        "CREATE OR REPLACE TABLE plain_drop AS SELECT h FROM joined "
        "WHERE only_active AND h NOT IN (SELECT h FROM special)" + ("" if drops else " AND false")
    )
    con.execute(
        "CREATE OR REPLACE TABLE hot_des AS SELECT src, ord, ok, h FROM des "
        "WHERE NOT ok OR h IN (SELECT h FROM hot)"
    )
    field_cols = "".join(f", {a}" for a in aliases)
    # Plain adds (usually nearly all of a big plan's rows) come sorted, with their reason
    # computed by DuckDB where a source's lines are a constant offset from its rows (sorting
    # into a table first is faster than fetching an ORDER BY).
    reason, exact = _reason_sql(desired, entry)
    con.execute(
        f"CREATE OR REPLACE TABLE hot_raw AS SELECT r.*, {SQL_NORMALISE('r.email')} AS e, "
        f"d.ok, d.h IN (SELECT h FROM plain_add) AS plain "
        f"FROM {raw_members(entry, 'hot_des')} r JOIN hot_des d USING (src, ord)"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE plain_rows AS SELECT e, {reason} AS reason"
        f"{'' if exact else ', src, ord'}{field_cols} FROM hot_raw WHERE plain ORDER BY e"
    )
    plain_adds = _fetch(con, "SELECT * FROM plain_rows")
    declared_rows = _fetch(
        con, f"SELECT src, ord, email, e, ok{field_cols} FROM hot_raw WHERE NOT plain"
    )
    con.execute("DROP TABLE plain_rows; DROP TABLE hot_raw")
    # The vendor's hot rows: one more parallel read of the export, filtered by key.
    vendor_rows = _fetch(
        con,
        f"SELECT e, status, raw_status, h IN (SELECT h FROM plain_drop) AS plain{field_cols} "
        f"FROM (SELECT * FROM (SELECT *, {cur_e} AS e, {hash_sql(cur_e)} AS h FROM {cur_sql}) "
        "SEMI JOIN hot USING (h))",
    )
    plain_drops = sorted(r[0] for r in vendor_rows if r[3])
    vendor_rows = [(*r[:3], *r[4:]) for r in vendor_rows if not r[3]]
    sup_rows = _fetch(
        con,
        f"SELECT e, reason, src, ord FROM sup WHERE scope IN ('', {_lit(entry.name)}) "
        "AND h IN (SELECT h FROM hot)",
    )

    problems: list[Problem] = []
    declared, invalid, duplicates = _merge_declared(
        desired, declared_rows, cfg.managed_fields, problems
    )
    vendor_state = _merge_vendor(vendor_rows, cfg.managed_fields)
    suppressed = _merge_suppressions(desired, sup_rows)

    if invalid and not cfg.skip_invalid:
        problems[:0] = invalid
    if problems:
        raise SourceError(
            _bounded(problems),
            summary=f"List {entry.name!r}: {len(problems)} problem(s) in its sources"
            + ("" if cfg.skip_invalid else " (set skip_invalid: true to plan without bad rows)"),
        )

    groups: dict[ChangeKind, list[ListChange]] = {kind: [] for kind in KIND_ORDER}
    groups[ChangeKind.ADD] = _plain_adds(desired, plain_adds, cfg.managed_fields, exact)
    if plain_drops:
        kind = ChangeKind(rules.drop_action.value)
        reason = f"not declared (authoritative list, drop action: {kind})"
        groups[kind] = [
            _new_change((kind, email, reason, NO_VALUES, NO_VALUES)) for email in plain_drops
        ]
    decided = False
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
            groups[change.kind].append(change)
            decided = True
    if decided:
        # Each group is one or two sorted runs: sorting by address alone is nearly linear.
        for rows in groups.values():
            rows.sort(key=_EMAIL)
    return ListPlan.from_groups(
        groups,
        name=entry.name,
        provider=provider,
        vendor=vendor,
        vendor_list_id=cfg.list_id,
        mode=cfg.mode,
        drop_action=cfg.drop_action,
        current=current.ref(int(current_rows)),
        desired_members=int(desired_rows) - int(invalid_rows) - duplicates,
        active_members=int(active_rows),
        skipped_invalid=tuple(str(p) for p in invalid) if cfg.skip_invalid else (),
    )


#: ``ListChange(*row)`` without the named tuple's Python-level ``__new__`` (plans hold millions
#: of rows); it takes every field, defaults are not applied.
_new_change = partial(tuple.__new__, ListChange)
_EMAIL = itemgetter(1)


def _reason_sql(desired: DesiredSources, entry: ListSources) -> tuple[str, bool]:
    """SQL for a member row's ``file:line`` where the line is ``ord`` plus a constant (NULL
    where :meth:`DesiredSources.locate` must tell: inline rows, multi-line CSV), and whether
    that covers every source."""
    cases = []
    exact = True
    for source in entry.members:
        offset = source.file.line_offset() if isinstance(source, CsvRowSource) else None
        if offset is None:
            exact = False
            continue
        prefix = _lit(f"{source.display}:")
        cases.append(f"WHEN {source.src_id} THEN {prefix} || (ord + {offset})")
    return (f"CASE src {' '.join(cases)} END" if cases else "NULL::VARCHAR"), exact


def _plain_adds(
    desired: DesiredSources, rows: Sequence[tuple[Any, ...]], managed: Sequence[str], exact: bool
) -> list[ListChange]:
    """Changes for plain adds (see diff_list), in address order, built in bulk. Rows are
    ``email, reason, [src, ord,] values...`` (``src, ord`` unless every reason is ``exact``)."""
    add = ChangeKind.ADD
    if not exact:
        rows = [
            (email, reason or desired.origin(src, ordinal), *values)
            for email, reason, src, ordinal, *values in rows
        ]
    if not managed:
        return [_new_change((add, row[0], row[1], NO_VALUES, NO_VALUES)) for row in rows]
    if len(managed) == 1:
        name = managed[0]
        return [
            _new_change(
                (add, email, reason, {name: s} if v and (s := v.strip()) else NO_VALUES, NO_VALUES)
            )
            for email, reason, v in rows
        ]
    return [
        _new_change(
            (
                add,
                email,
                reason,
                {n: v.strip() for n, v in zip(managed, values, strict=True) if v and v.strip()},
                NO_VALUES,
            )
        )
        for email, reason, *values in rows
    ]


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bounded(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_REPORTED:
        return problems
    rest = len(problems) - MAX_REPORTED
    return [*problems[:MAX_REPORTED], Problem(f"... and {rest:,} more")]


def _merge_declared(
    desired: DesiredSources,
    rows: Sequence[tuple[Any, ...]],
    managed: Sequence[str],
    problems: list[Problem],
) -> tuple[dict[str, Declared], list[Problem], int]:
    """Merge duplicate declarations (every duplicate is hot, so they are all here); a field
    given two different values is an error naming both places. Returns the declarations, the
    invalid rows and how many rows repeated an address already declared."""
    invalid: list[Problem] = []
    first: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
    duplicates = 0
    for src, ordinal, raw, email, ok, *values in sorted(rows, key=lambda r: (r[0], r[1])):
        file, line = desired.locate(src, ordinal)
        if not ok:
            reason = invalid_reason(raw or "") or f"invalid e-mail address {raw!r}"
            invalid.append(Problem(reason, file=file, line=line))
            continue
        origin = f"{file}:{line}" if line else file
        if email in first:
            duplicates += 1
        else:
            first[email] = (origin, {})
        seen = first[email][1]
        for name, value in zip(managed, values, strict=True):
            clean = (value or "").strip()
            if not clean:
                continue
            known = seen.get(name)
            if known is None:
                seen[name] = (clean, origin)
            elif known[0] != clean:
                problems.append(
                    Problem(
                        f"conflicting {name} for {email}: {known[0]!r} at {known[1]}, "
                        f"{clean!r} at {origin}",
                        file=file,
                        line=line,
                    )
                )
    declared = {
        email: Declared(origin, {name: value for name, (value, _) in seen.items()})
        for email, (origin, seen) in first.items()
    }
    return declared, invalid, duplicates


def _merge_vendor(rows: Sequence[tuple[Any, ...]], managed: Sequence[str]) -> dict[str, AtVendor]:
    """One contact per address; if the vendor holds an address twice (case variants), the most
    restrictive status wins so that nobody is mailed by mistake."""
    state: dict[str, AtVendor] = {}
    for row in rows:
        email, status = row[0], ContactStatus(row[1])
        fields = {name: row[3 + i] for i, name in enumerate(managed)}
        known = state.get(email)
        if known is None or _STATUS_RANK[status] > _STATUS_RANK[known.status]:
            state[email] = AtVendor(status, fields)
    return state


def _merge_suppressions(
    desired: DesiredSources, rows: Sequence[tuple[Any, ...]]
) -> dict[str, Suppressed]:
    out: dict[str, Suppressed] = {}
    for email, reason_text, src, ordinal in sorted(rows, key=lambda r: (r[2], r[3])):
        reason = SuppressionReason(reason_text)
        known = out.get(email)
        if known is None or REASON_RANK[reason] > REASON_RANK[known.reason]:
            out[email] = Suppressed(reason, desired.origin(src, ordinal))
    return out


def _report_statuses(con: Any, current: CurrentSnapshot) -> None:
    bad = _fetch(
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
