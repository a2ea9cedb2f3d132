"""Write the vendors' unsubscribes, bounces and complaints back into the repository.

The file is a suppression CSV (``email,reason,vendor,list,seen_at``) that reconciler reads as
one more suppression source (``writeback.path`` in the configuration). Writing is a merge:
rows already in the file keep their date, a stronger reason replaces a weaker one for the same
address and list, rows are sorted by address then list, so running a pull twice leaves the
file byte for byte the same and a scheduled job's pull request shows only what is new.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reconciler.address import normalise
from reconciler.config.text import names, quoted
from reconciler.drift.model import Drift
from reconciler.engine.rules import REASON_RANK
from reconciler.errors import Problem, SourceError
from reconciler.model import SuppressionReason

HEADER: tuple[str, ...] = ("email", "reason", "vendor", "list", "seen_at")


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    email: str
    reason: SuppressionReason
    vendor: str
    list: str
    seen_at: str  # ISO date the first pull saw it

    @property
    def key(self) -> tuple[str, str]:
        return self.email, self.list


@dataclass(frozen=True)
class Merged:
    rows: tuple[SuppressionRow, ...]
    added: int
    updated: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def pulled_rows(drift: Drift, seen_at: date) -> list[SuppressionRow]:
    """One row per vendor-side suppression the repository must absorb."""
    return [
        SuppressionRow(item.email, item.reason, ld.vendor, ld.name, seen_at.isoformat())
        for ld in drift.lists
        for item in ld.absorb
    ]


def merge(existing: Iterable[SuppressionRow], pulled: Iterable[SuppressionRow]) -> Merged:
    rows: dict[tuple[str, str], SuppressionRow] = {}
    for row in existing:
        known = rows.get(row.key)
        if known is None or REASON_RANK[row.reason] > REASON_RANK[known.reason]:
            rows[row.key] = row
    added = updated = 0
    for row in pulled:
        known = rows.get(row.key)
        if known is None:
            added += 1
        elif REASON_RANK[row.reason] > REASON_RANK[known.reason]:
            updated += 1
        else:
            continue
        rows[row.key] = row
    ordered = tuple(sorted(rows.values(), key=lambda r: (r.email, r.list, r.vendor)))
    return Merged(ordered, added, updated)


def render_csv(rows: Sequence[SuppressionRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([row.email, row.reason.value, row.vendor, row.list, row.seen_at])
    return out.getvalue()


def read_rows(path: Path, display: str) -> list[SuppressionRow]:
    """The rows of an existing write-back file (none when it does not exist yet)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [name.strip().lower() for name in reader.fieldnames or ()]
        missing = [name for name in ("email", "reason") if name not in header]
        extra = [name for name in header if name not in HEADER]
        if missing or extra:
            raise SourceError(
                Problem(
                    f"the write-back file must have the columns {', '.join(HEADER)} "
                    f"(missing: {', '.join(missing) or '-'}; unknown: {names(extra) or '-'})",
                    file=display,
                    line=1,
                ),
                summary="Cannot merge into the write-back file",
            )
        reader.fieldnames = header
        return [_row(values, display, reader.line_num) for values in reader]


def _row(values: dict[str, str | None], display: str, line: int) -> SuppressionRow:
    def get(name: str) -> str:
        return (values.get(name) or "").strip()

    try:
        reason = SuppressionReason(get("reason").lower())
    except ValueError:
        raise SourceError(
            Problem(_reason_problem(get("reason")), file=display, line=line),
            summary="Cannot merge into the write-back file",
        ) from None
    return SuppressionRow(
        normalise(get("email")), reason, get("vendor"), get("list"), get("seen_at")
    )


def _reason_problem(written: str) -> str:
    expected = ", ".join(r.value for r in SuppressionReason)
    what = f"unknown suppression reason {quoted(written)}" if written else "no reason given"
    return f"{what} (expected one of: {expected})"


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
