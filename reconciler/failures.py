"""Rows a vendor refused: the one place that samples them, for every output that names them.

A provider hands every refused row to apply in ``JobStatus.failures`` (the row of the batch
file, the address, the vendor's status and reason). The ledger writes them all to
``.reconciler/failures/ENTRY.jsonl``; the state points at that file and holds no address
(``specs/reliability.md``, "Personal data"). Every output that names failed rows (apply's
summary, ``state jobs``, drift reports, the next plan) reads them back from that file with
:func:`read_failures`: only the first :data:`SAMPLE` rows are parsed, the rest are counted in
one streaming pass, so a file of a million refusals costs neither memory nor a parse each.

Addresses and reasons here are the vendor's text, kept as they are: whoever shows them makes
them inert for where they go (``render.safe``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: Failed rows named per job; the rest are counted (every one is in the failures file).
SAMPLE = 5
#: A vendor's reason is cut to this many characters: one row's line must stay one line.
REASON_CHARS = 200
#: An address is cut to this many characters (a valid one has at most 254).
EMAIL_CHARS = 320
#: A line of a failures file longer than this is counted, not parsed: the ledger writes one
#: short object a line, and a longer one is not its own.
LINE_BYTES = 16 << 10
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FailedRow:
    row: int | None  # 1-based row of the batch file, None when the vendor gave no index
    email: str | None  # None when the row could not be told (no index)
    reason: str  # the vendor's reason (or status), whitespace collapsed, at most REASON_CHARS


@dataclass(frozen=True, slots=True)
class FailedRows:
    """What a failures file says: how many rows failed, and the first of them."""

    path: str  # as the ledger recorded it
    failed: int  # lines of the file: one per refused row
    sample: tuple[FailedRow, ...]  # at most SAMPLE, in file order
    found: bool = True  # False: not on this machine (another runner applied, or removed)


@dataclass(frozen=True, slots=True)
class JobFailures:
    """The refused rows of one batch, with what identifies the batch to a reader."""

    list: str
    vendor: str
    action: str
    batch: int  # the batch's index within (list, action)
    rows: int  # rows the batch sent
    finished_at: datetime | None
    failures: FailedRows


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_of(failure: Mapping[str, Any]) -> str:
    """The vendor's reason for one failure (its status when it gave none), on one line."""
    raw = failure.get("error") or failure.get("status") or "?"
    return _cut(" ".join(str(raw).split()), REASON_CHARS)


def failed_row(failure: Mapping[str, Any]) -> FailedRow:
    """One failure as a provider reports it (``JobStatus.failures``) or the ledger wrote it."""
    row = failure.get("row")
    email = failure.get("email")
    return FailedRow(
        row if isinstance(row, int) and not isinstance(row, bool) and row > 0 else None,
        _cut(email, EMAIL_CHARS) if isinstance(email, str) and email else None,
        reason_of(failure),
    )


def rows_message(failures: Sequence[Mapping[str, Any]], failed: int) -> str:
    """The first failed rows (row of the batch file and the vendor's reason) for a job's
    message. Rows, not addresses: the message is also the ledger's, and the state holds no
    address; the ledger writes every failure, address included, to the job's failures file,
    from which apply's summary names them by address."""
    named = []
    for failure in failures[:SAMPLE]:
        row = failed_row(failure).row
        who = f"row {row}" if row is not None else "a row without index"
        named.append(f"{who} ({reason_of(failure)})")
    text = ", ".join(named)
    if failed > len(named):
        text += f" and {failed - len(named)} more"
    # The ledger names the file (by its job's entry ID), which a provider does not know.
    return text + "; their addresses are in the job's failures file under .reconciler/failures/"


def read_failures(path: Path, shown_as: str, *, sample: int = SAMPLE) -> FailedRows:
    """The failures file at ``path`` (``shown_as`` is how outputs name it): its line count and
    the rows of its first ``sample`` lines. A missing or unreadable file is ``found=False``."""
    try:
        with path.open("rb") as fh:
            rows: list[FailedRow] = []
            count = 0
            # Only the first lines are parsed (one the ledger did not write is left out).
            while count < sample:
                line = _line(fh)
                if line is None:
                    return FailedRows(shown_as, count, tuple(rows))
                count += 1
                parsed = _parse(line)
                if parsed is not None:
                    rows.append(parsed)
            return FailedRows(shown_as, count + _count_lines(fh), tuple(rows))
    except OSError:
        return FailedRows(shown_as, 0, (), found=False)


def _line(fh: Any) -> bytes | None:
    """The next line (b"" for one too long to parse, which is consumed whole), None at EOF."""
    line: bytes = fh.readline(LINE_BYTES)
    if not line:
        return None
    if line.endswith(b"\n") or len(line) < LINE_BYTES:
        return line
    while True:  # the rest of an overlong line
        more: bytes = fh.readline(LINE_BYTES)
        if not more or more.endswith(b"\n"):
            return b""


def _count_lines(fh: Any) -> int:
    """Lines left from here to the end (a last line without a line feed counts too)."""
    count = 0
    last = b"\n"
    while chunk := fh.read(_CHUNK):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (last != b"\n")


def _parse(line: bytes) -> FailedRow | None:
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return failed_row(data) if isinstance(data, dict) else None


__all__ = [
    "EMAIL_CHARS",
    "LINE_BYTES",
    "REASON_CHARS",
    "SAMPLE",
    "FailedRow",
    "FailedRows",
    "JobFailures",
    "failed_row",
    "read_failures",
    "reason_of",
    "rows_message",
]
