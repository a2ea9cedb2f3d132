"""``reconciler validate``: every problem in the configuration's sources, without any vendor."""

from __future__ import annotations

import duckdb

from reconciler.config.loader import LoadedConfig
from reconciler.engine.duck import connect, out_of_memory
from reconciler.engine.members import load_members, member_problems
from reconciler.engine.planner import load_desired, translate_read_error
from reconciler.errors import Problem, SourceError
from reconciler.exports.configured import open_configured_export
from reconciler.sources.desired import DesiredSources


def validate_sources(loaded: LoadedConfig) -> list[Problem]:
    """Every problem found in member, suppression, opt-in and export files (all at once)."""
    con = connect()
    desired: DesiredSources | None = None
    problems: list[Problem] = []
    try:
        try:
            desired = load_desired(con, loaded, None)
        except SourceError as exc:
            return list(exc.problems)
        for name, entry in desired.lists.items():
            try:
                source_rows = load_members(con, entry)
            except duckdb.OutOfMemoryException:
                raise
            except duckdb.Error as exc:
                problems.extend(translate_read_error(con, desired, exc).problems)
                continue
            invalid, conflicts = member_problems(con, desired, entry, source_rows)
            problems.extend(invalid)
            problems.extend(conflicts)
            export = entry.config.export
            if export is not None:
                try:
                    open_configured_export(
                        export,
                        lambda p, n=name: loaded.resolve_path(("lists", n, "export"), p),
                        entry.config.managed_fields,
                    )
                except SourceError as exc:
                    problems.extend(exc.problems)
    except duckdb.OutOfMemoryException as exc:
        raise out_of_memory(exc) from exc
    except duckdb.Error as exc:
        problems.extend(translate_read_error(con, desired, exc).problems)
    finally:
        con.close()
    return problems
