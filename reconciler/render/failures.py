"""A job's failed rows as one terminal line: the bounded sample by address with the vendor's
reason, the count, and where the full list is. Shared by apply's summary, ``state jobs`` and
the plan's note on the last apply, so all three say it the same way.

The addresses and reasons are the vendor's (or a hand-edited state's) text: each goes through
``render.safe.terminal``, so none can move the cursor or forge a line of its own."""

from __future__ import annotations

from reconciler.failures import FailedRow, JobFailures
from reconciler.render.safe import terminal


def who(row: FailedRow) -> str:
    """How a failed row is named: its address, else its row of the batch file."""
    if row.email is not None:
        return row.email
    return f"row {row.row}" if row.row is not None else "a row without index"


def job_label(job: JobFailures) -> str:
    """``list 'vip' (yesmail), add batch 1``."""
    return (
        f"list '{terminal(job.list)}' ({terminal(job.vendor)}), {terminal(job.action)} "
        f"batch {job.batch}"
    )


def failure_line(job: JobFailures) -> str:
    """``list 'vip' (yesmail), add batch 1: 7 of 8 rows failed; first 5: a@example.com —
    Member does not exist.; …; all 7 in .reconciler/failures/ID.jsonl``; when every failed
    row is named, ``…: 1 of 2 rows failed: zed@example.com — Member does not exist.; listed in
    PATH``."""
    found = job.failures
    path = terminal(found.path)
    if not found.found:
        return f"{job_label(job)}: its failed rows were written to {path}, not found here"
    if not found.failed:
        return f"{job_label(job)}: {path} lists no failed row"
    head = f"{job_label(job)}: {found.failed:,} of {job.rows:,} rows failed"
    named = "; ".join(f"{terminal(who(row))} — {terminal(row.reason)}" for row in found.sample)
    if not named:
        return f"{head}; all {found.failed:,} in {path}"
    if found.failed > len(found.sample):
        return f"{head}; first {len(found.sample)}: {named}; all {found.failed:,} in {path}"
    return f"{head}: {named}; listed in {path}"


__all__ = ["failure_line", "job_label", "who"]
