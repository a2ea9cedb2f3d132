"""Make a Plan from a loaded configuration: open the sources, read each list's current state,
diff every list. The only module that knows the order of those steps."""

from __future__ import annotations

import atexit
import functools
import gc
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import duckdb

from reconciler.address import SQL_NORMALISE, SQL_VALID, invalid_reason
from reconciler.config.loader import LoadedConfig
from reconciler.config.schema import ListConfig
from reconciler.config.text import quoted, refusal
from reconciler.engine.diff import OptInIndex, diff_list
from reconciler.engine.duck import connect, hash_sql, out_of_memory
from reconciler.engine.ownership import Recorder, keep_not_owned
from reconciler.engine.rules import OptIn
from reconciler.errors import PlanError, Problem, SourceError
from reconciler.exports.configured import open_configured_export
from reconciler.exports.files import CsvExportSnapshot
from reconciler.exports.snapshot import CurrentSnapshot, now_utc
from reconciler.model import DropScope, SuppressionReason
from reconciler.plan.gaps import gaps_for
from reconciler.plan.model import ListPlan, Plan
from reconciler.sources.csverrors import (
    collect_row_errors,
    failing_file,
    locate_unreadable,
    translate_duckdb_error,
)
from reconciler.sources.csvfile import CsvFile, sql_ident, sql_str
from reconciler.sources.desired import (
    SCOPE_ALIAS,
    CsvRowSource,
    DesiredSources,
    RowSource,
    collect_sources,
    reason_sql,
)


#: Reads a list's current state live (a provider); ``None`` means export files only.
class Vendors(Protocol):
    """What a live plan asks of the vendors (the runtime, or one provider in tests)."""

    def check_list(self, list_name: str, list_config: ListConfig) -> None: ...

    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot: ...


def check_targets(loaded: LoadedConfig, targets: Sequence[str] | None) -> None:
    unknown = [t for t in targets or () if t not in loaded.config.lists]
    if unknown:
        known = ", ".join(sorted(loaded.config.lists)) or "(none)"
        raise PlanError(f"unknown list {', '.join(map(repr, unknown))} (defined lists: {known})")


def load_desired(con: Any, loaded: LoadedConfig, targets: Sequence[str] | None) -> DesiredSources:
    """Open every source, load suppressions and opt-ins; raise SourceError listing every
    problem (bad CSV rows, invalid addresses, unknown reasons)."""
    desired = collect_sources(loaded, targets)
    for source in desired.all_sources():
        source.prepare(con)
    propagate = loaded.config.suppressions_policy.propagate_vendor_suppressions
    problems = _load_suppressions(con, desired, propagate=propagate)
    problems += _load_opt_ins(con, desired)
    if problems:
        raise SourceError(problems, summary="The suppression and opt-in sources hold bad rows")
    return desired


def opt_in_index(con: Any, desired: DesiredSources) -> OptInIndex:
    index = OptInIndex()
    for e, consent, src, ordinal in con.execute(
        "SELECT e, consent, src, ord FROM opt_rows ORDER BY src, ord"
    ).fetchall():
        lists = desired.opt_in_lists.get(src, {}).get(ordinal)
        index.entries.setdefault(e, []).append(
            (OptIn(consent or "", desired.origin(src, ordinal)), lists)
        )
    return index


def _scoped(desired: DesiredSources, *, propagate: bool) -> list[tuple[str, RowSource]]:
    """Each suppression source with the SQL of its scope: '' for every list, else a list name."""
    pairs: list[tuple[str, RowSource]] = [(sql_str(""), s) for s in desired.suppressions]
    for name, entry in desired.lists.items():
        pairs.extend((sql_str(name), s) for s in entry.suppressions)
    pulled = sql_str("") if propagate else f"coalesce(trim({sql_ident(SCOPE_ALIAS)}), '')"
    pairs.extend((pulled, s) for s in desired.pulled)
    return pairs


def _load_suppressions(con: Any, desired: DesiredSources, *, propagate: bool) -> list[Problem]:
    parts = [
        f"SELECT {scope} AS scope, src, ord, email, {reason_sql(source)} AS reason "
        f"FROM {source.sql()}"
        for scope, source in _scoped(desired, propagate=propagate)
    ]
    body = " UNION ALL ".join(parts) or (
        "SELECT ''::VARCHAR AS scope, 0 AS src, 0::UBIGINT AS ord, ''::VARCHAR AS email, "
        "''::VARCHAR AS reason WHERE false"
    )
    con.execute(
        "CREATE OR REPLACE TABLE sup AS SELECT *, "
        f"{hash_sql('e')} AS h FROM (SELECT *, {SQL_NORMALISE('email')} AS e FROM ({body}))"
    )
    reasons = ", ".join(sql_str(r.value) for r in SuppressionReason)
    bad = con.execute(
        f"SELECT src, ord, email, reason FROM sup WHERE NOT coalesce({SQL_VALID('e')}, false) "
        f"OR reason IS NULL OR reason NOT IN ({reasons}) ORDER BY src, ord LIMIT 1000"
    ).fetchall()
    problems = []
    for src, ordinal, email, reason in bad:
        file, line = desired.locate(src, ordinal)
        why = invalid_reason(email or "")
        if why is None:
            expected = ", ".join(r.value for r in SuppressionReason)
            what = f"unknown suppression reason {quoted(reason)}" if reason else "no reason given"
            why = f"{what} (expected one of: {expected})"
        problems.append(Problem(why, file=file, line=line))
    return problems


def _load_opt_ins(con: Any, desired: DesiredSources) -> list[Problem]:
    parts = [f"SELECT src, ord, email, consent FROM {s.sql()}" for s in desired.opt_ins]
    body = " UNION ALL ".join(parts) or (
        "SELECT 0 AS src, 0::UBIGINT AS ord, ''::VARCHAR AS email, ''::VARCHAR AS consent "
        "WHERE false"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE opt_rows AS SELECT *, {SQL_NORMALISE('email')} AS e FROM ({body})"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE opt AS SELECT DISTINCT {hash_sql('e')} AS h FROM opt_rows"
    )
    problems = []
    for src, ordinal, email, consent in con.execute(
        "SELECT src, ord, email, consent FROM opt_rows ORDER BY src, ord"
    ).fetchall():
        file, line = desired.locate(src, ordinal)
        why = invalid_reason(email or "")
        if why is not None:
            problems.append(Problem(why, file=file, line=line))
        elif not (consent or "").strip():
            problems.append(Problem("an opt-in needs a consent reference", file=file, line=line))
        elif (refused := refusal(consent)) is not None:
            problems.append(Problem(f"consent {refused}", file=file, line=line))
    return problems


def translate_read_error(
    con: Any, desired: DesiredSources | None, exc: Exception, extra: Sequence[CsvFile] = ()
) -> SourceError:
    """A DuckDB read error as a SourceError listing every bad row of the failing file."""
    path = failing_file(exc)
    files = [
        s.file for s in (desired.all_sources() if desired else []) if isinstance(s, CsvRowSource)
    ]
    for csv_file in [*files, *extra]:
        if path is not None and str(csv_file.path) == path:
            try:
                problems = collect_row_errors(con, csv_file)
            except duckdb.Error:
                problems = []
            if not problems and (located := locate_unreadable(csv_file)):
                problems = [located]
            if problems:
                return SourceError(problems, summary=f"{csv_file.display} has bad rows")
            return translate_duckdb_error(exc, csv_file.display)
    return translate_duckdb_error(exc, path or "<input>")


def build_plan(
    loaded: LoadedConfig,
    *,
    targets: Sequence[str] | None = None,
    vendors: Vendors | None = None,
) -> Plan:
    check_targets(loaded, targets)
    # A plan is millions of small objects that all stay alive and hold no cycles: the cyclic
    # GC would re-scan them again and again while they are made, and again on every full
    # collection afterwards (writing batches, rendering). Frozen, it never looks at them;
    # reference counting still frees them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_plan(loaded, targets, vendors)
    finally:
        if gc_was_enabled:
            _freeze_once()
            gc.freeze()
            gc.enable()


@functools.cache
def _freeze_once() -> None:
    # Frozen objects are never collected, not even at exit, where extension modules (DuckDB's
    # nanobind) would report them as leaked: hand them back to the collector first.
    atexit.register(gc.unfreeze)


def _build_plan(
    loaded: LoadedConfig, targets: Sequence[str] | None, vendors: Vendors | None
) -> Plan:
    con = connect()
    desired: DesiredSources | None = None
    current: CurrentSnapshot | None = None
    plans: list[ListPlan] = []
    try:
        desired = load_desired(con, loaded, targets)
        opt_ins = opt_in_index(con, desired)
        for name, entry in desired.lists.items():
            cfg = entry.config
            provider = loaded.config.providers.get(cfg.provider)
            vendor = provider.type if provider else "unknown"
            current = _current(loaded, name, cfg, vendors)
            list_plan = diff_list(
                con, desired, entry, current, opt_ins, provider=cfg.provider, vendor=vendor
            )
            if cfg.drop_scope is DropScope.OWNED:
                recorded = vendors.recorded(name, cfg) if isinstance(vendors, Recorder) else None
                list_plan = keep_not_owned(con, list_plan, recorded)
            if provider is not None:
                list_plan = replace(list_plan, gaps=gaps_for(list_plan, provider.type))
            plans.append(list_plan)
    except duckdb.OutOfMemoryException as exc:
        raise out_of_memory(exc) from exc
    except duckdb.Error as exc:
        extra = [f for f, _ in current.files] if isinstance(current, CsvExportSnapshot) else []
        raise translate_read_error(con, desired, exc, extra) from exc
    finally:
        con.close()
    return Plan(lists=tuple(plans), created_at=now_utc(), config_checksum=loaded.checksum)


def _current(
    loaded: LoadedConfig, name: str, cfg: ListConfig, vendors: Vendors | None
) -> CurrentSnapshot:
    if cfg.export is not None:

        def resolve(relative: str) -> Any:
            return loaded.resolve_path(("lists", name, "export"), relative)

        return open_configured_export(cfg.export, resolve, cfg.managed_fields)
    if vendors is None:
        raise PlanError(
            f"list {name!r} has no 'export:' files and live vendor reads are not available "
            "in this command"
        )
    # What would stop this list's apply at its vendor, found before the plan is shown. A list
    # planned from export files is not asked: such a plan makes no request (apply checks it).
    vendors.check_list(name, cfg)
    return vendors.read_current(name, cfg)
