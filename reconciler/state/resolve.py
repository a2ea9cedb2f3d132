"""``reconciler state resolve``: the user records what a vendor holds for a batch whose fate is
unknown, when the vendor documents nothing apply could ask (``reconciler/apply/settle.py``)."""

from __future__ import annotations

from reconciler.errors import StateError
from reconciler.state.model import JobEntry, State, now

#: The statuses of a batch that may or may not have become a job, and has no job ID.
UNRESOLVED = frozenset({"submitting", "unknown"})
#: The shortest prefix of an entry's ID that names it.
MIN_PREFIX = 6


def find_entry(state: State, entry_id: str) -> JobEntry:
    """The ledger entry ``entry_id`` names: its whole ID, or a prefix of at least 6
    characters that only it starts with."""
    if entry_id in {job.id for job in state.jobs}:
        return next(job for job in state.jobs if job.id == entry_id)
    matches = [job for job in state.jobs if job.id.startswith(entry_id)]
    if len(entry_id) >= MIN_PREFIX and len(matches) == 1:
        return matches[0]
    if len(matches) > 1 and len(entry_id) >= MIN_PREFIX:
        raise StateError(f"{entry_id!r} begins {len(matches)} ledger entries' IDs: give more of it")
    raise StateError(
        f"no ledger entry {entry_id!r} (its ID, or the first {MIN_PREFIX} characters or more of "
        "it, as apply's error named it; `reconciler state show` has every entry)"
    )


def resolve(state: State, entry_id: str, *, job_id: str | None) -> JobEntry:
    """Record the entry as sent, with the vendor's ``job_id`` (``submitted``: the next apply or
    poll follows that job), or, with None, as never received (``unsent``: the next apply
    sends the batch again if its plan still needs it). Only an entry whose fate is unknown."""
    entry = find_entry(state, entry_id)
    if entry.status not in UNRESOLVED or entry.vendor_job_id is not None:
        raise StateError(
            f"ledger entry {entry.id} is {entry.status}"
            + (f" with job {entry.vendor_job_id}" if entry.vendor_job_id else "")
            + ": only a batch whose fate is unknown is resolved by hand; nothing was changed"
        )
    was = f"; was: {entry.message}" if entry.message else ""
    if job_id is not None:
        if not job_id.strip():
            raise StateError("--sent needs the vendor's job ID (e.g. a Yesmail ticket number)")
        entry.status = "submitted"
        entry.vendor_job_id = job_id.strip()
        entry.job_detail = {"file": entry.file, "recorded": "by hand"}
        entry.submitted_at = now()
        entry.message = f"recorded by hand as sent, job {entry.vendor_job_id}{was}"
    else:
        entry.status = "unsent"
        entry.finished_at = now()
        entry.message = f"recorded by hand as never received{was}"
    return entry
