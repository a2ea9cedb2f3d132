"""Turn the configuration's sources into row sources the engine can read.

A *row source* is one CSV file (a glob expands to several) or one inline YAML list. Each can
produce SQL for DuckDB (``sql``) and tell the ``file:line`` of any of its rows (``origin``).
Opening a CSV source reads only its header here; rows are read by the engine.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from reconciler.config.loader import LoadedConfig
from reconciler.config.locations import KeyPath
from reconciler.config.schema import (
    CsvOptIns,
    CsvSource,
    CsvSuppressions,
    InlineMembers,
    InlineOptIns,
    InlineSuppressions,
    ListConfig,
)
from reconciler.config.text import names, quoted
from reconciler.config.warehouse import SqlOptIns, SqlSource, SqlSuppressions
from reconciler.errors import Problem, SourceError
from reconciler.model import SuppressionReason
from reconciler.sources.csvfile import CsvFile, open_csv, sql_ident, sql_str
from reconciler.sources.sqlsource import open_sql_source


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when below it (clickable in a
    terminal or CI log), absolute otherwise."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


class RowSource(Protocol):
    src_id: int

    @property
    def display(self) -> str: ...

    def prepare(self, con: Any) -> None: ...

    def sql(self) -> str:
        """``(SELECT ord, src, email, <field aliases...>)`` for this source."""
        ...

    def locate(self, ordinal: int) -> tuple[str, int | None]:
        """The file and line of data row ``ordinal``."""
        ...


@dataclass
class CsvRowSource:
    src_id: int
    file: CsvFile
    columns: dict[str, str | None]  # alias -> header column (None: absent)
    fixed_reason: SuppressionReason | None = None  # suppressions: one reason for every row

    @property
    def display(self) -> str:
        return self.file.display

    def prepare(self, con: Any) -> None:
        return None

    def sql(self, *, positions: bool = True, parts: int = 1, rows: int | None = None) -> str:
        rel = self.file.relation(self.columns, positions=positions, parts=parts, rows=rows)
        cols = ", ".join(sql_ident(a) for a in self.columns)
        return f"(SELECT ord, {self.src_id}::INTEGER AS src, {cols} FROM {rel})"

    def locate(self, ordinal: int) -> tuple[str, int | None]:
        return self.display, self.file.line_of(ordinal)


@dataclass
class InlineRowSource:
    src_id: int
    display: str
    rows: list[dict[str, str | None]]  # alias -> value
    lines: list[int | None]
    aliases: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"inline_src_{self.src_id}"

    def prepare(self, con: Any) -> None:
        cols = ", ".join(f"{sql_ident(a)} VARCHAR" for a in self.aliases)
        con.execute(f"CREATE OR REPLACE TABLE {self.table} (ord UBIGINT, {cols})")
        if self.rows:
            marks = ", ".join("?" for _ in range(len(self.aliases) + 1))
            con.executemany(
                f"INSERT INTO {self.table} VALUES ({marks})",
                [[i + 1, *(row.get(a) for a in self.aliases)] for i, row in enumerate(self.rows)],
            )

    def sql(self) -> str:
        cols = ", ".join(sql_ident(a) for a in self.aliases)
        return f"(SELECT ord, {self.src_id}::INTEGER AS src, {cols} FROM {self.table})"

    def locate(self, ordinal: int) -> tuple[str, int | None]:
        line = self.lines[ordinal - 1] if 0 < ordinal <= len(self.lines) else None
        return self.display, line


@dataclass
class ListSources:
    """Everything that declares the desired state of one list."""

    name: str
    config: ListConfig
    members: list[RowSource] = field(default_factory=list)
    suppressions: list[RowSource] = field(default_factory=list)  # list-level only

    @property
    def field_aliases(self) -> tuple[str, ...]:
        return tuple(f"f{i}" for i in range(len(self.config.managed_fields)))


@dataclass
class DesiredSources:
    lists: dict[str, ListSources]
    suppressions: list[RowSource]  # global
    opt_ins: list[RowSource]
    opt_in_lists: dict[int, dict[int, tuple[str, ...] | None]]  # src -> ord -> lists filter
    by_id: dict[int, RowSource]
    # The write-back file of `suppressions pull`: each row scoped to the list in its `list`
    # column (alias SCOPE_ALIAS), unless the policy propagates them to every list.
    pulled: list[RowSource] = field(default_factory=list)

    def locate(self, src: int, ordinal: int) -> tuple[str, int | None]:
        return self.by_id[src].locate(ordinal)

    def origin(self, src: int, ordinal: int) -> str:
        file, line = self.locate(src, ordinal)
        return f"{file}:{line}" if line else file

    def all_sources(self) -> list[RowSource]:
        return list(self.by_id.values())


MEMBER_ALIASES = ("email",)
SUPPRESSION_ALIASES = ("email", "reason")
OPT_IN_ALIASES = ("email", "consent")
SCOPE_ALIAS = "scope_list"


class _Collector:
    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.problems: list[Problem] = []
        self.by_id: dict[int, RowSource] = {}
        self.opt_in_lists: dict[int, dict[int, tuple[str, ...] | None]] = {}

    def _next_id(self) -> int:
        return len(self.by_id)

    def _register(self, source: RowSource) -> RowSource:
        self.by_id[source.src_id] = source
        return source

    def _config_display(self, key_path: KeyPath) -> tuple[str, int | None]:
        loc = self.loaded.source_map.locate(*key_path)
        if loc is None:
            return display_path(self.loaded.root), None
        return display_path(Path(loc.file)), loc.line

    def csv_sources(
        self, key_path: KeyPath, spec: CsvSource, wanted: Mapping[str, str]
    ) -> list[RowSource]:
        """Open every file ``spec.csv`` names; ``wanted`` maps alias -> field name."""
        pattern = self.loaded.resolve_path((*key_path, "csv"), spec.csv)
        paths = (
            sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
            if glob.has_magic(str(pattern))
            else [pattern]
        )
        if not paths:
            where, line = self._config_display((*key_path, "csv"))
            self.problems.append(Problem(f"no file matches {spec.csv!r}", file=where, line=line))
            return []
        sources: list[RowSource] = []
        for path in paths:
            try:
                csv_file = open_csv(
                    path,
                    display=display_path(path),
                    delimiter=spec.delimiter,
                    encoding=spec.encoding,
                    has_header=spec.header,
                )
            except SourceError as exc:
                self.problems.extend(exc.problems)
                continue
            columns: dict[str, str | None] = {}
            for alias, field_name in wanted.items():
                column_name = spec.columns.get(field_name, field_name)
                column = csv_file.column(column_name)
                required = field_name == "email" or field_name in spec.columns
                if column is None and required:
                    self.problems.append(
                        Problem(
                            f"no column {quoted(column_name)} for {quoted(field_name)}"
                            f" (columns: {names(csv_file.header)})",
                            file=csv_file.display,
                            line=1,
                        )
                    )
                columns[alias] = column
            sources.append(self._register(CsvRowSource(self._next_id(), csv_file, columns)))
        return sources

    def sql_source(
        self,
        key_path: KeyPath,
        spec: SqlSource,
        wanted: Mapping[str, str],
        fixed: SuppressionReason | None = None,
    ) -> list[RowSource]:
        """Connect to ``spec``'s warehouse and check its query's columns (no row is read)."""
        try:
            source = open_sql_source(
                self.loaded,
                spec,
                wanted,
                self._next_id(),
                self._config_display(key_path),
                fixed,
            )
        except SourceError as exc:
            self.problems.extend(exc.problems)
            return []
        return [] if source is None else [self._register(source)]

    def inline_source(
        self, key_path: KeyPath, rows: Sequence[dict[str, str | None]], aliases: tuple[str, ...]
    ) -> RowSource:
        where, _ = self._config_display(key_path)
        lines = []
        for index in range(len(rows)):
            loc = self.loaded.source_map.locate(*key_path, "inline", index)
            lines.append(loc.line if loc else None)
        source = InlineRowSource(self._next_id(), where, list(rows), lines, aliases)
        return self._register(source)


def _suppression_sources(
    collector: _Collector,
    key_path: KeyPath,
    specs: Sequence[CsvSuppressions | SqlSuppressions | InlineSuppressions],
) -> list[RowSource]:
    out: list[RowSource] = []
    for index, spec in enumerate(specs):
        path = (*key_path, index)
        if isinstance(spec, InlineSuppressions):
            rows: list[dict[str, str | None]] = [
                {"email": s.email, "reason": s.reason.value} for s in spec.inline
            ]
            out.append(collector.inline_source(path, rows, SUPPRESSION_ALIASES))
            continue
        if isinstance(spec, SqlSuppressions):
            # A fixed reason for every row, or else the reason column (required then).
            wanted_sql = {"email": "email"}
            if spec.reason is None:
                wanted_sql["reason"] = "reason"
            out.extend(collector.sql_source(path, spec, wanted_sql, spec.reason))
            continue
        wanted = {"email": "email", "reason": "reason"}
        sources = collector.csv_sources(path, spec, wanted)
        if spec.reason is not None:
            # A fixed reason for the whole file: the column, if any, is ignored.
            for source in sources:
                assert isinstance(source, CsvRowSource)
                source.columns["reason"] = None
                source.fixed_reason = spec.reason
        else:
            for source in sources:
                assert isinstance(source, CsvRowSource)
                if source.columns.get("reason") is None:
                    collector.problems.append(
                        Problem(
                            "no 'reason' column and no 'reason:' for this suppression source"
                            f" (expected one of: {', '.join(r.value for r in SuppressionReason)})",
                            file=source.display,
                            line=1,
                        )
                    )
        out.extend(sources)
    return out


def collect_sources(loaded: LoadedConfig, targets: Sequence[str] | None = None) -> DesiredSources:
    """Open every source of the configuration (headers only); raise SourceError listing every
    problem found."""
    collector = _Collector(loaded)
    config = loaded.config
    lists: dict[str, ListSources] = {}
    for name, list_config in config.lists.items():
        if targets and name not in targets:
            continue
        entry = ListSources(name, list_config)
        aliases = entry.field_aliases
        # alias -> field name, for the sources that map columns (CSV and SQL)
        wanted = {"email": "email", **dict(zip(aliases, list_config.managed_fields, strict=True))}
        for index, spec in enumerate(list_config.members):
            path: KeyPath = ("lists", name, "members", index)
            if isinstance(spec, SqlSource):
                entry.members.extend(collector.sql_source(path, spec, wanted))
            elif isinstance(spec, InlineMembers):
                rows = [
                    {
                        "email": m.email,
                        **{
                            a: m.fields.get(f)
                            for a, f in zip(aliases, list_config.managed_fields, strict=True)
                        },
                    }
                    for m in spec.inline
                ]
                entry.members.append(collector.inline_source(path, rows, ("email", *aliases)))
            else:
                entry.members.extend(collector.csv_sources(path, spec, wanted))
        entry.suppressions = _suppression_sources(
            collector, ("lists", name, "suppressions"), list_config.suppressions
        )
        lists[name] = entry
    global_sup = _suppression_sources(collector, ("suppressions",), config.suppressions)
    opt_ins: list[RowSource] = []
    for index, opt_spec in enumerate(config.resubscribe):
        path = ("resubscribe", index)
        if isinstance(opt_spec, InlineOptIns):
            opt_rows: list[dict[str, str | None]] = [
                {"email": o.email, "consent": o.consent} for o in opt_spec.inline
            ]
            source = collector.inline_source(path, opt_rows, OPT_IN_ALIASES)
            collector.opt_in_lists[source.src_id] = {
                i + 1: (tuple(o.lists) if o.lists else None) for i, o in enumerate(opt_spec.inline)
            }
            opt_ins.append(source)
        elif isinstance(opt_spec, SqlOptIns):
            opt_ins.extend(
                collector.sql_source(path, opt_spec, {"email": "email", "consent": "consent"})
            )
        else:
            assert isinstance(opt_spec, CsvOptIns)
            opt_ins.extend(
                collector.csv_sources(path, opt_spec, {"email": "email", "consent": "consent"})
            )
    pulled = _pulled_sources(collector)
    if collector.problems:
        raise SourceError(collector.problems, summary="The sources cannot be read")
    return DesiredSources(
        lists, global_sup, opt_ins, collector.opt_in_lists, collector.by_id, pulled
    )


def _pulled_sources(collector: _Collector) -> list[RowSource]:
    """The write-back file, once a pull has written it (before that there is nothing to read)."""
    writeback = collector.loaded.config.writeback
    if writeback is None:
        return []
    path = collector.loaded.resolve_path(("writeback", "path"), writeback.path)
    if not path.is_file():
        return []
    spec = CsvSuppressions(csv=str(path.absolute()))
    wanted = {"email": "email", "reason": "reason", SCOPE_ALIAS: "list"}
    sources = collector.csv_sources(("writeback",), spec, wanted)
    for source in sources:
        assert isinstance(source, CsvRowSource)
        if source.columns.get("reason") is None:
            collector.problems.append(
                Problem("the write-back file has no 'reason' column", file=source.display, line=1)
            )
    return sources


def fixed_reason(source: RowSource) -> SuppressionReason | None:
    # CSV and SQL sources may carry one; inline rows each give their own.
    fixed: SuppressionReason | None = getattr(source, "fixed_reason", None)
    return fixed


def reason_sql(source: RowSource) -> str:
    fixed = fixed_reason(source)
    return sql_str(fixed.value) if fixed else "lower(trim(reason))"
