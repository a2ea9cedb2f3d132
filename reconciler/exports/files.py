"""Current state from vendor export files, by layout: CSV with a column per field, CSV whose
fields may sit in an ``attributes`` JSON column, and a JSON subscriber listing. Which vendor
writes which layout, and its status words, are the provider classes' ``export_formats`` and
``status_words``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from reconciler.config.schema import ExportConfig
from reconciler.config.text import names
from reconciler.errors import Problem, SourceError
from reconciler.exports.snapshot import FileFingerprint, now_utc, status_sql
from reconciler.plan.model import CurrentStateRef
from reconciler.sources.csvfile import CsvFile, open_csv, sql_ident, sql_str
from reconciler.sources.desired import display_path


class ExportLayout(StrEnum):
    CSV = "csv"  # email, status and one column per field
    CSV_ATTRIBUTES = "csv-attributes"  # as CSV; a field may be a key of an attributes JSON column
    LISTING_JSON = "listing-json"  # {"data": {"results": [subscriber, …]}} with per-list statuses


@dataclass
class CsvExportSnapshot:
    """One or more CSV export files; the status comes from a column or from which
    status-filtered export a file is."""

    files: list[tuple[CsvFile, str | None]]  # (file, fixed status or None: status column)
    field_columns: list[dict[str, str]]  # per file: alias -> SQL expression over the file
    fingerprint: FileFingerprint
    status_words: Mapping[str, str]
    status_columns: list[str | None] = field(default_factory=list)

    def prepare(self, con: Any) -> None:
        return None

    def sql(self, *, positions: bool = False) -> str:
        parts = []
        for index, (csv_file, fixed) in enumerate(self.files):
            # Every header column is read under a positional alias c0..cN.
            columns: dict[str, str | None] = {f"c{i}": h for i, h in enumerate(csv_file.header)}
            email = _col(csv_file, "email")
            status = self.status_columns[index]
            if fixed is not None:
                raw = sql_str(fixed)
            elif status is not None:
                raw = _col(csv_file, status)
            else:
                raw = sql_str("active")  # an export without a status column lists active members
            fields = self.field_columns[index]
            field_sql = "".join(f", {expr} AS {sql_ident(alias)}" for alias, expr in fields.items())
            parts.append(
                f"SELECT ord, {index} AS src_file, {email} AS email, {raw} AS raw_status, "
                f"{status_sql(raw, self.status_words)} AS status{field_sql} "
                f"FROM {csv_file.relation(columns, positions=positions)}"
            )
        return "(" + " UNION ALL ".join(parts) + ")"

    def rows_by_lines(self) -> int | None:
        counts = [csv_file.rows_by_lines() for csv_file, _ in self.files]
        return None if None in counts else sum(c for c in counts if c is not None)

    def origin(self, src_file: int, ordinal: int) -> str:
        csv_file = self.files[src_file][0]
        return f"{csv_file.display}:{csv_file.line_of(ordinal)}"

    def ref(self, rows: int) -> CurrentStateRef:
        location = ", ".join(f.display for f, _ in self.files)
        return CurrentStateRef("export", location, rows, self.fingerprint.hexdigest(), now_utc())


@dataclass
class JsonExportSnapshot:
    """A JSON subscriber listing (listmonk: ``GET /api/subscribers``), loaded into a table."""

    path: Path
    list_id: str | None
    managed_fields: Sequence[str]
    fingerprint: FileFingerprint
    status_words: Mapping[str, str]
    table: str = "listmonk_json_export"
    # listmonk's ``total`` less the file's subscribers that are not on the list: the rows a
    # complete file yields (a saved page of a paginated listing yields fewer).
    reported_total: int | None = None

    def prepare(self, con: Any) -> None:
        display = display_path(self.path)
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SourceError(Problem(f"not a readable JSON export: {exc}", file=display)) from exc
        results = data.get("data", {}).get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise SourceError(
                Problem('expected listmonk\'s {"data": {"results": [...]}}', file=display)
            )
        aliases = [f"f{i}" for i in range(len(self.managed_fields))]
        cols = ", ".join(f"{a} VARCHAR" for a in aliases)
        con.execute(
            f"CREATE OR REPLACE TABLE {self.table} (ord UBIGINT, email VARCHAR, "
            f"raw_status VARCHAR{', ' + cols if cols else ''})"
        )
        rows = [
            [
                i + 1,
                sub.get("email"),
                _listmonk_status(sub, self.list_id),
                *(_listmonk_field(sub, name) for name in self.managed_fields),
            ]
            for i, sub in enumerate(results)
            if isinstance(sub, dict) and _on_list(sub, self.list_id)
        ]
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            con.executemany(f"INSERT INTO {self.table} VALUES ({marks})", rows)
        total = data["data"].get("total")
        if isinstance(total, int) and not isinstance(total, bool):
            self.reported_total = total - (
                sum(1 for s in results if isinstance(s, dict)) - len(rows)
            )

    def sql(self, *, positions: bool = False) -> str:
        aliases = [f"f{i}" for i in range(len(self.managed_fields))]
        extra = "".join(f", {a}" for a in aliases)
        status = status_sql("raw_status", self.status_words)
        return (
            f"(SELECT ord, 0 AS src_file, email, raw_status, {status} AS status"
            f"{extra} FROM {self.table})"
        )

    def origin(self, src_file: int, ordinal: int) -> str:
        return f"{display_path(self.path)} (subscriber #{ordinal})"

    def ref(self, rows: int) -> CurrentStateRef:
        return CurrentStateRef(
            "export",
            display_path(self.path),
            rows,
            self.fingerprint.hexdigest(),
            now_utc(),
            self.reported_total,
        )


def _on_list(sub: dict[str, Any], list_id: str | None) -> bool:
    if list_id is None:
        return True
    return any(str(lst.get("id")) == list_id for lst in sub.get("lists") or [])


def _listmonk_status(sub: dict[str, Any], list_id: str | None) -> str:
    if sub.get("status") == "blocklisted":
        return "blocklisted"
    for lst in sub.get("lists") or []:
        if list_id is None or str(lst.get("id")) == list_id:
            return str(lst.get("subscription_status") or "unconfirmed")
    return str(sub.get("status") or "enabled")


def _listmonk_field(sub: dict[str, Any], name: str) -> str | None:
    if name == "name":
        value = sub.get("name")
    else:
        attribs = sub.get("attribs") or {}
        value = attribs.get(name) if isinstance(attribs, dict) else None
    return None if value is None else str(value)


def open_export(
    export: ExportConfig,
    resolve: Any,
    managed_fields: Sequence[str],
    layout: ExportLayout,
    status_words: Mapping[str, str],
) -> CsvExportSnapshot | JsonExportSnapshot:
    """Open the export files a list's ``export:`` names (headers only), written in ``layout``
    with the vendor's ``status_words``."""
    if layout is ExportLayout.LISTING_JSON:
        assert export.path is not None
        path = resolve(export.path)
        return JsonExportSnapshot(
            path, export.list_id, managed_fields, FileFingerprint([path]).start(), status_words
        )
    pairs: list[tuple[Path, str | None]] = (
        [(resolve(export.path), None)]
        if export.path is not None
        else [(resolve(p), status) for status, p in (export.by_status or {}).items()]
    )
    problems: list[Problem] = []
    files: list[tuple[CsvFile, str | None]] = []
    field_columns: list[dict[str, str]] = []
    status_columns: list[str | None] = []
    for path, fixed in pairs:
        try:
            csv_file = open_csv(path, display=display_path(path), delimiter=export.delimiter)
        except SourceError as exc:
            problems.extend(exc.problems)
            continue
        if csv_file.column("email") is None:
            problems.append(
                Problem(
                    f"no 'email' column (columns: {names(csv_file.header)})",
                    file=csv_file.display,
                    line=1,
                )
            )
            continue
        files.append((csv_file, fixed))
        status_columns.append(csv_file.column("status"))
        field_columns.append(_field_exprs(layout, csv_file, managed_fields))
    if problems:
        raise SourceError(problems, summary="The export files cannot be read")
    fingerprint = FileFingerprint([f.path for f, _ in files]).start()
    return CsvExportSnapshot(files, field_columns, fingerprint, status_words, status_columns)


def _col(csv_file: CsvFile, name: str) -> str:
    """The positional alias (c0..cN) of header column ``name`` (matched case-insensitively)."""
    header = csv_file.column(name)
    assert header is not None
    return f"c{csv_file.header.index(header)}"


def _field_exprs(layout: ExportLayout, csv_file: CsvFile, managed: Sequence[str]) -> dict[str, str]:
    """SQL per managed field over the file's columns (aliases f0..fN)."""
    exprs: dict[str, str] = {}
    has_attributes = csv_file.column("attributes") is not None
    for index, name in enumerate(managed):
        if csv_file.column(name) is not None:
            exprs[f"f{index}"] = _col(csv_file, name)
        elif layout is ExportLayout.CSV_ATTRIBUTES and has_attributes:
            attrs = _col(csv_file, "attributes")
            exprs[f"f{index}"] = f"json_extract_string({attrs}, {sql_str('$.' + name)})"
        else:
            exprs[f"f{index}"] = "NULL::VARCHAR"
    return exprs
