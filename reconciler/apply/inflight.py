"""Read what in-flight ledger entries carry, from their batch files on disk."""

from __future__ import annotations

import csv
from pathlib import Path

from reconciler.model import ChangeKind
from reconciler.state.model import IN_FLIGHT, State


def pending_rows(state: State | None) -> dict[str, dict[ChangeKind, tuple[int, frozenset[str]]]]:
    pending: dict[str, dict[ChangeKind, tuple[int, frozenset[str]]]] = {}
    if state is None:
        return pending
    for job in state.jobs:
        if job.status not in IN_FLIGHT:
            continue
        kind = ChangeKind(job.action)
        rows, emails = pending.setdefault(job.list, {}).get(kind, (0, frozenset()))
        pending[job.list][kind] = (rows + job.rows, emails | _emails(Path(job.file)))
    return pending


def _emails(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return frozenset(row[0].strip().lower() for row in reader if row)
