"""DuckDB's CSV errors as problems naming the file and line: every bad row through DuckDB's
reject tables, and, where DuckDB names no line, a slow walk that finds it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import Problem, SourceError
from reconciler.sources.csvfile import CsvFile, py_encoding

_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
_FILE_RE = re.compile(r"^\s*file = (.+)$", re.MULTILINE)


def failing_file(exc: Exception) -> str | None:
    """The path DuckDB names in a CSV error, if any."""
    match = _FILE_RE.search(str(exc))
    return match.group(1).strip() if match else None


def collect_row_errors(con: Any, csv_file: CsvFile) -> list[Problem]:
    """Every bad row of ``csv_file`` (not only the first), through DuckDB's reject tables."""
    columns: dict[str, str | None] = {f"c{i}": h for i, h in enumerate(csv_file.header)}
    con.execute(f"SELECT count(*) FROM {csv_file.relation(columns, rejects=True)}").fetchall()
    rows = con.execute(
        "SELECT line, error_type, error_message FROM reject_errors ORDER BY line LIMIT 1000"
    ).fetchall()
    return rejects_to_problems(rows, csv_file.display)


def locate_unreadable(csv_file: CsvFile) -> Problem | None:
    """The first line of a file DuckDB refused without naming a line, found by reading it the
    slow way: mixed line endings, then a row Python's CSV reader cannot read or whose number of
    columns differs from the header's. Only called after such a failure."""
    return line_ending_problem(csv_file.path, csv_file.display) or _first_bad_row(csv_file)


def _first_bad_row(csv_file: CsvFile) -> Problem | None:
    width = len(csv_file.header)
    start = 1
    try:
        with csv_file.path.open(encoding=py_encoding(csv_file.encoding), newline="") as fh:
            reader = csv.reader(fh, delimiter=csv_file.delimiter, quotechar='"', strict=True)
            try:
                if csv_file.has_header:
                    next(reader, None)
                start = reader.line_num + 1
                for row in reader:
                    if row and len(row) != width:
                        return Problem(
                            f"wrong number of columns (expected {width}, found {len(row)})",
                            file=csv_file.display,
                            line=start,
                        )
                    start = reader.line_num + 1
            except csv.Error as exc:
                return Problem(f"unreadable CSV ({exc})", file=csv_file.display, line=start)
    except (OSError, UnicodeError, LookupError):
        return None
    return None


def line_ending_problem(path: Path, display: str) -> Problem | None:
    """Where ``path`` switches between LF, CRLF and CR line endings (outside quoted fields).

    DuckDB's reader follows one kind of line ending per file and fails on a switch with "the
    CSV parser state machine reached an invalid state", naming no line. Only called after such
    a failure, so a line-by-line scan costs nothing on good files."""
    first: tuple[str, int] | None = None
    in_quotes = False
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                ending = "CRLF" if raw.endswith(b"\r\n") else "LF" if raw.endswith(b"\n") else ""
                body = raw[: len(raw) - len(ending)]
                quotes = body.count(b'"')
                if not in_quotes and not quotes and b"\r" in body:
                    ending, body = "CR", b""  # a bare carriage return ends a record here
                in_quotes ^= quotes % 2 == 1
                if not ending or in_quotes:
                    continue
                if first is None:
                    first = (ending, number)
                elif ending != first[0]:
                    return Problem(
                        f"line ends with {ending} where line {first[1]} ends with {first[0]}: "
                        "mixed line endings; save the file with one kind of line ending",
                        file=display,
                        line=number,
                    )
    except OSError:
        return None
    return None


def translate_duckdb_error(exc: Exception, display: str) -> SourceError:
    """Turn a DuckDB CSV error into a SourceError naming the file and line."""
    text = str(exc)
    match = _LINE_RE.search(text)
    line = int(match.group(1)) if match else None
    message = _duck_reason(text)
    return SourceError(Problem(message, file=display, line=line))


def _duck_reason(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Expected Number of Columns"):
            return f"wrong number of columns ({ln.lower()})"
        if "unterminated quote" in ln:
            return "value with an unterminated quote"
        if "not utf-8 encoded" in ln or "Invalid unicode" in ln:
            return "not valid UTF-8 text; set 'encoding' for this source"
        if "maximum line size" in ln.lower():
            return "a line is longer than 1 MiB"
    return lines[0].removeprefix("Invalid Input Error: ") if lines else "unreadable CSV"


def rejects_to_problems(rows: Iterable[Sequence[Any]], display: str) -> list[Problem]:
    """Problems from DuckDB's ``reject_errors`` rows ``(line, error_type, error_message)``."""
    problems = []
    for line, error_type, message in rows:
        text = str(message)
        if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
            text = f"wrong number of columns ({text.lower()})"
        elif error_type == "UNQUOTED VALUE" or "quote" in text.lower():
            text = "value with an unterminated or stray quote"
        elif error_type == "INVALID ENCODING":
            text = "not valid UTF-8 text; set 'encoding' for this source"
        elif "maximum line size" in text.lower():
            text = "a line is longer than 1 MiB"
        problems.append(Problem(text, file=display, line=int(line)))
    return problems
