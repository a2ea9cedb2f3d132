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
    return line_ending_problem(
        csv_file.path, csv_file.display, csv_file.delimiter
    ) or _first_bad_row(csv_file)


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


def line_ending_problem(path: Path, display: str, delimiter: str = ",") -> Problem | None:
    """Where ``path`` switches between LF, CRLF and CR line endings (outside quoted fields).

    DuckDB's reader follows one kind of line ending per file and fails on a switch with "the
    CSV parser state machine reached an invalid state", naming no line. Only called after such
    a failure, so a line-by-line scan costs nothing on good files. A quote opens a quoted field
    only at the start of a field, as DuckDB reads it: ``a@example.com"`` is an unquoted value
    with a stray quote, and the line ending after it still ends the record."""
    first: tuple[str, int] | None = None
    in_quotes = False
    delim = delimiter.encode()
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                ending, cut = (
                    ("CRLF", 2)
                    if raw.endswith(b"\r\n")
                    else ("LF", 1)
                    if raw.endswith(b"\n")
                    else ("", 0)
                )
                ends, in_quotes = _record_ends(raw[: len(raw) - cut], in_quotes, delim)
                if ending and not in_quotes:
                    ends.append(ending)
                for kind in ends:
                    if first is None:
                        first = (kind, number)
                    elif kind != first[0]:
                        return Problem(
                            f"line ends with {kind} where line {first[1]} ends with {first[0]}: "
                            "mixed line endings; save the file with one kind of line ending",
                            file=display,
                            line=number,
                        )
    except OSError:
        return None
    return None


_QUOTE, _CR = ord('"'), ord("\r")


def _record_ends(body: bytes, in_quotes: bool, delim: bytes) -> tuple[list[str], bool]:
    """The bare carriage returns that end a record in one line's ``body`` (its line ending cut
    off), and whether a quoted field is still open after it."""
    if _QUOTE not in body:
        return ([] if in_quotes else ["CR"] * body.count(b"\r")), in_quotes
    ends: list[str] = []
    at_field_start = not in_quotes
    i, size = 0, len(body)
    while i < size:
        byte = body[i]
        if in_quotes:
            if byte == _QUOTE:
                if body.startswith(b'"', i + 1):  # a doubled quote stands for one quote
                    i += 1
                else:
                    in_quotes = False
        elif byte == _QUOTE and at_field_start:
            in_quotes = True
        elif delim and body.startswith(delim, i):
            at_field_start = True
            i += len(delim)
            continue
        elif byte == _CR:
            ends.append("CR")
            at_field_start = True
            i += 1
            continue
        at_field_start = False
        i += 1
    return ends, in_quotes


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
        problem = Problem(text, file=display, line=int(line))
        # DuckDB can reject one row for two reasons that read the same in the user's words.
        if problem not in problems:
            problems.append(problem)
    return problems
