"""The ledger's failed rows, read back: which jobs have a failures file, and what it holds.

The state names each file (``jobs[].failures_file``) and the file holds the addresses. A state
can be edited by hand or pushed, so only a file the ledger itself would have written is read:
``…/failures/ENTRY.jsonl`` for the entry's own ID. The path is recorded as apply saw it (relative
to the directory it ran in, as a relative configuration path gives); when that is not where the
command runs, the configuration's ``.reconciler/failures/`` is looked in too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.failures import SAMPLE, FailedRows, JobFailures, read_failures
from reconciler.state.model import JobEntry, State
from reconciler.workspace import failures_dir

#: Job statuses whose rows the vendor has judged: a job in flight has no failures yet.
FINAL = frozenset({"succeeded", "failed"})


def failures_path(entry: JobEntry, base: Path) -> Path | None:
    """Where ``entry``'s failures file is read from, or None when the state names none or a
    file the ledger did not write (which is never opened)."""
    if not entry.failures_file:
        return None
    recorded = Path(entry.failures_file)
    if recorded.name != f"{entry.id}.jsonl" or recorded.parent.name != "failures":
        return None
    if recorded.is_absolute() or recorded.exists():
        return recorded
    return failures_dir(base) / recorded.name


def job_failures(
    state: State, entry: JobEntry, base: Path, *, sample: int = SAMPLE
) -> JobFailures | None:
    """The failed rows of one job, or None when the vendor reported none by row."""
    if not entry.failures_file:
        return None
    path = failures_path(entry, base)
    shown = entry.failures_file
    rows = (
        read_failures(path, shown, sample=sample)
        if path is not None
        else FailedRows(shown, 0, (), found=False)
    )
    listed = state.lists.get(entry.list)
    return JobFailures(
        list=entry.list,
        vendor=listed.vendor if listed is not None else entry.provider,
        action=entry.action,
        batch=entry.index,
        rows=entry.rows,
        finished_at=entry.finished_at,
        failures=rows,
    )


def failures_of(
    state: State, entries: Iterable[JobEntry], base: Path, *, sample: int = SAMPLE
) -> list[JobFailures]:
    """The failed rows of each of ``entries`` that has some, in their order."""
    found = (job_failures(state, entry, base, sample=sample) for entry in entries)
    return [item for item in found if item is not None]


def entries(state: State, ids: Sequence[str]) -> list[JobEntry]:
    """The ledger entries with these IDs, in the order of ``ids``."""
    by_id = {entry.id: entry for entry in state.jobs}
    return [by_id[i] for i in ids if i in by_id]


def last_apply(state: State, list_name: str) -> list[JobEntry]:
    """The jobs of ``list_name`` sent by the last run whose jobs for it reached their end: what
    "the last apply" of the list did (a run that sent nothing to it does not count)."""
    jobs = [job for job in state.jobs if job.list == list_name]
    last_run = next((job.run_id for job in reversed(jobs) if job.status in FINAL), None)
    return [job for job in jobs if job.run_id == last_run and job.status in FINAL]


def last_apply_failures(
    state: State | None, base: Path, lists: Iterable[str], *, sample: int = SAMPLE
) -> dict[str, list[JobFailures]]:
    """Per list (of ``lists``, in their order), the failed rows of its last apply; lists
    without any are left out."""
    if state is None:
        return {}
    out = {}
    for name in lists:
        found = failures_of(state, last_apply(state, name), base, sample=sample)
        if found:
            out[name] = found
    return out


__all__ = [
    "FINAL",
    "entries",
    "failures_of",
    "failures_path",
    "job_failures",
    "last_apply",
    "last_apply_failures",
]
