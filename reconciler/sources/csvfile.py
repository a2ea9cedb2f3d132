"""CSV files as DuckDB relations, with exact file:line error reporting.

Files are read by DuckDB (fast, multi-threaded) with a dialect decided here rather than by
DuckDB's sniffer, so that a broken row is reported as a row error (with its line) instead of a
"could not detect the dialect" failure. ``WITH ORDINALITY`` numbers rows in file order; a row's
line is its ordinal plus the header, corrected for quoted fields that span lines. DuckDB's
errors become problems with their lines in :mod:`reconciler.sources.csverrors`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config.text import quoted
from reconciler.errors import Problem, SourceError
from reconciler.sources.lines import LineScan

DELIMITERS = {",": ",", ";": ";", "|": "|", "\t": "\t", "tab": "\t", "t": "\t"}
_SNIFF_BYTES = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class CsvFile:
    """A CSV file with its dialect and header decided."""

    path: Path
    display: str  # how messages name the file (relative to the config when possible)
    delimiter: str
    encoding: str
    header: tuple[str, ...]  # column names (or col0, col1, ... when the file has no header)
    has_header: bool = True
    # ordinal -> line; empty when every row is one line (the common, fast case)
    _multiline: dict[int, int] = field(default_factory=dict, compare=False, repr=False)
    _line_map_ready: bool = field(default=False, compare=False, repr=False)
    _scan: LineScan | None = field(default=None, compare=False, repr=False)
    _rows: int | None = field(default=None, compare=False, repr=False)

    def column(self, wanted: str) -> str | None:
        """The header column matching ``wanted`` exactly, else case-insensitively."""
        if wanted in self.header:
            return wanted
        folded = {h.strip().casefold(): h for h in self.header}
        return folded.get(wanted.strip().casefold())

    def relation(
        self,
        columns: Mapping[str, str | None],
        *,
        rejects: bool = False,
        positions: bool = True,
        parts: int = 1,
        rows: int | None = None,
    ) -> str:
        """SQL for ``SELECT ord, <alias> ... FROM`` this file: ``columns`` maps an output alias
        to a header column (None: a NULL column). ``ord`` is the 1-based data row number; it
        costs parallelism (DuckDB numbers rows in one thread), so ``positions=False`` gives
        ``ord`` as NULL and reads the file on every core; ``parts`` > 1 numbers that many parts
        of a large file side by side where the file has one row per line and ``rows`` rows."""
        spec = ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in self.header)
        options = [
            f"delim={sql_str(self.delimiter)}",
            "quote='\"'",
            "escape='\"'",
            f"header={'true' if self.has_header else 'false'}",
            "auto_detect=false",
            "strict_mode=true",
            f"columns={{{spec}}}",
            f"encoding={sql_str(_duck_encoding(self.encoding))}",
            "max_line_size=1048576",
        ]
        if rejects:
            options.append("store_rejects=true")
        selected = ", ".join(
            (f"{sql_ident(col)} AS {sql_ident(alias)}" if col else f"NULL::VARCHAR AS {alias}")
            for alias, col in columns.items()
        )
        reader = f"read_csv({sql_str(str(self.path))}, {', '.join(options)})"
        if not positions:
            return f"(SELECT NULL::UBIGINT AS ord, {selected} FROM {reader})"
        starts = self.part_starts(parts, rows) if not rejects else None
        if not starts:
            return f"(SELECT ordinality::UBIGINT AS ord, {selected} FROM {reader} WITH ORDINALITY)"
        # Numbering rows keeps a read on one core; with one row per line, part k of the file is
        # read from its first line on (``skip``) and numbered from there, so the parts are
        # numbered side by side. A LIMIT stops each part at the next part's first row.
        header_lines = 1 if self.has_header else 0
        ends: list[int | None] = [*starts[1:], None]
        parts_sql = []
        for first, end in zip(starts, ends, strict=True):
            part_options = [o for o in options if not o.startswith("header=")]
            if first:
                part_options += ["header=false", f"skip={first + header_lines}"]
            else:
                part_options.append(f"header={'true' if self.has_header else 'false'}")
            part = f"read_csv({sql_str(str(self.path))}, {', '.join(part_options)})"
            limit = f" LIMIT {end - first}" if end is not None else ""
            parts_sql.append(
                f"SELECT ordinality::UBIGINT + {first} AS ord, {selected} "
                f"FROM (SELECT * FROM {part} WITH ORDINALITY{limit})"
            )
        return "(" + " UNION ALL ".join(parts_sql) + ")"

    def part_starts(self, parts: int, rows: int | None) -> list[int] | None:
        """0-based data rows at which ``parts`` parts of this file start (``[0, r1, ...]``), or
        None when the file cannot be split: not UTF-8, small, or not one row per line. ``rows``
        is how many rows DuckDB read from the file: the line count must agree, or else a part
        would start at the wrong row."""
        if parts < 2 or _duck_encoding(self.encoding) != "utf-8" or self.line_offset() is None:
            return None
        scan = self.scan()
        if not scan.simple or scan.size < MIN_SPLIT_BYTES or scan.rows(self.has_header) != rows:
            return None
        cuts = [scan.size * k // parts for k in range(1, parts)]
        header_lines = 1 if self.has_header else 0
        starts = [0]
        for cut in cuts:
            lines = scan.lines_before(cut)
            if lines is None or lines - header_lines <= starts[-1]:
                continue
            starts.append(lines - header_lines)
        return starts if len(starts) > 1 else None

    def line_offset(self) -> int | None:
        """The constant line - row offset when every row is one line, else None."""
        if not self._line_map_ready:
            self._build_line_map()
        return None if self._multiline else (1 if self.has_header else 0)

    def line_of(self, ordinal: int) -> int:
        """The 1-based line on which data row ``ordinal`` starts."""
        if not self._line_map_ready:
            self._build_line_map()
        offset = 1 if self.has_header else 0
        return self._multiline.get(ordinal, ordinal + offset)

    def scan(self, *, blank_lines: bool = False) -> LineScan:
        """One pass over the file's bytes (cached), looking for blank lines when asked; see
        :class:`LineScan`."""
        scan = self._scan
        if scan is None or (blank_lines and scan.simple and scan.blank is None):
            scan = LineScan.of(self.path, blank_lines=blank_lines)
            object.__setattr__(self, "_scan", scan)
        return scan

    def rows_by_lines(self) -> int | None:
        """The data rows counted as lines, where every row is one line: no quote, no bare
        carriage return, no blank line, and an encoding with a one-byte newline."""
        if _duck_encoding(self.encoding) not in ("utf-8", "latin-1"):
            return None
        scan = self.scan(blank_lines=True)
        return None if scan.blank else scan.rows(self.has_header)

    def note_rows(self, rows: int) -> None:
        """How many rows DuckDB read from this file: when that is its number of lines and no
        quote or bare carriage return can make a row span lines, every row is one line, with
        no need to look for blank lines."""
        object.__setattr__(self, "_rows", rows)

    def _build_line_map(self) -> None:
        """Rows and lines differ only around quoted fields that span lines and blank lines
        (which DuckDB skips in multi-column files). A file with neither maps rows to lines
        directly; otherwise walk it once with :mod:`csv` (only when a line is asked for)."""
        known = self._rows is not None
        scan = self.scan(blank_lines=not known)
        if scan.simple and (scan.rows(self.has_header) == self._rows if known else not scan.blank):
            object.__setattr__(self, "_line_map_ready", True)
            return
        mapping: dict[int, int] = {}
        blank_rows_count = len(self.header) == 1
        with self.path.open(encoding=py_encoding(self.encoding), newline="") as fh:
            reader = csv.reader(fh, delimiter=self.delimiter, quotechar='"', doublequote=True)
            if self.has_header:
                next(reader, None)
            offset = 1 if self.has_header else 0
            start_line = reader.line_num + 1
            ordinal = 0
            for row in reader:
                if row or blank_rows_count:
                    ordinal += 1
                    if start_line != ordinal + offset:
                        mapping[ordinal] = start_line
                start_line = reader.line_num + 1
        object.__setattr__(self, "_multiline", mapping)
        object.__setattr__(self, "_line_map_ready", True)


#: Files smaller than this are numbered in one part: splitting would cost more than it saves.
MIN_SPLIT_BYTES = 16 << 20


def py_encoding(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _duck_encoding(encoding: str) -> str:
    normal = encoding.lower().replace("_", "-")
    if normal in ("utf-8", "utf8", "utf-8-sig"):
        return "utf-8"
    if normal in ("latin-1", "latin1", "iso-8859-1"):
        return "latin-1"
    if normal in ("utf-16", "utf16"):
        return "utf-16"
    return normal


def open_csv(
    path: Path,
    *,
    display: str,
    delimiter: str = "auto",
    encoding: str = "utf-8",
    has_header: bool = True,
) -> CsvFile:
    """Decide the dialect and read the header of ``path``; raise SourceError when unreadable."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise SourceError(Problem(f"file not found: {display}", file=display)) from None
    except OSError as exc:
        raise SourceError(Problem(f"cannot read file: {exc.strerror}", file=display)) from exc
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    if not head.strip():
        raise SourceError(Problem("file is empty (expected a header row)", file=display, line=1))
    try:
        text = head.decode(encoding if encoding.lower() != "utf-8-sig" else "utf-8")
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise SourceError(
            Problem(
                f"not valid {encoding} text (byte 0x{head[exc.start]:02x}); "
                "set 'encoding' for this source",
                file=display,
                line=line,
            )
        ) from exc
    except LookupError:
        raise SourceError(Problem(f"unknown encoding {encoding!r}", file=display)) from None
    first_line = text.splitlines()[0] if text else ""
    delim = _decide_delimiter(first_line, delimiter, display)
    header_row = next(csv.reader(io.StringIO(first_line), delimiter=delim, quotechar='"'), [])
    if has_header:
        names = tuple(h.strip() for h in header_row)
        _check_header(names, display)
    else:
        names = tuple(f"col{i}" for i in range(len(header_row)))
    return CsvFile(path, display, delim, encoding, names, has_header)


def _decide_delimiter(first_line: str, wanted: str, display: str) -> str:
    if wanted != "auto":
        return DELIMITERS[wanted]
    counts = {d: first_line.count(d) for d in (",", ";", "|", "\t")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return ","  # a single column
    return best


def _check_header(names: Sequence[str], display: str) -> None:
    problems = []
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if not name:
            problems.append(Problem(f"header column {index} is empty", file=display, line=1))
        key = name.casefold()
        if key in seen and name:
            problems.append(
                Problem(
                    f"header column {quoted(name)} appears twice (columns {seen[key]} and {index})",
                    file=display,
                    line=1,
                )
            )
        seen.setdefault(key, index)
    if problems:
        raise SourceError(problems)
