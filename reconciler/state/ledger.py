"""The job ledger that apply writes through: every change is on disk before it returns.

What a vendor answers (messages, statuses, job details, refused rows) is kept with every known
secret masked: a vendor that echoes the token in an error must not put it into the state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.model import Action
from reconciler.private import open_private, private_dir
from reconciler.providers.base import Batch, JobRef, JobStatus
from reconciler.redact import scrub, scrub_data
from reconciler.state.model import IN_FLIGHT, JobEntry, RunEntry, State, now
from reconciler.state.store import StateStore


@dataclass(frozen=True)
class InFlight:
    """A ledger entry whose batch may be at the vendor and has not reached its end."""

    entry_id: str
    state: str  # submitting | submitted | unknown
    batch: Batch
    provider: str
    job: JobRef | None
    since: datetime  # when its fate became unknown (or it was recorded): the settle window's
    message: str = ""  # start, and what is known of it


#: What is known of a `submitting` entry a run left behind.
CRASHED = (
    "a run ended after recording this batch as being sent, before recording the vendor's answer"
)


def without_query(url: str | None) -> str | None:
    """A URL safe to keep: pre-signed URLs carry their signature in the query string."""
    if url is None:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _scrubbed(text: str | None) -> str | None:
    return None if text is None else scrub(text)


class StateLedger:
    def __init__(self, store: StateStore, state: State, *, run_id: str, failures_dir: Path) -> None:
        self.store = store
        self.state = state
        self.run_id = run_id
        self.failures_dir = failures_dir
        #: Entries whose job reached its end in this run, in that order: whose failed rows
        #: the command names when it ends.
        self.finished_ids: list[str] = []

    def _save(self) -> None:
        self.state = self.store.write(self.state)

    def _entry(self, entry_id: str) -> JobEntry:
        for entry in self.state.jobs:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, operation: str, plan_checksum: str = "") -> None:
        self.state.runs.append(
            RunEntry(run_id=self.run_id, operation=operation, plan_checksum=plan_checksum)
        )
        self._save()

    def finish_run(self, outcome: str, *, settled: bool = False) -> None:
        """End this run. ``settled``: it planned every list afresh and sent its plan to the
        end, so the runs a crash left open are closed too, having been resumed by it. Any
        other run (a poll, an apply with --target, one blocked, cancelled or refused) leaves
        them open: their applied batches stay in :meth:`done_keys`, or the next apply would
        send them again to a vendor whose list cannot be read back."""
        for run in self.state.runs:
            if run.run_id == self.run_id:
                run.finished_at = now()
                run.outcome = outcome
            elif run.finished_at is None and settled:
                run.finished_at = now()
                run.outcome = f"interrupted; resumed by {self.run_id}"
        self._save()

    # -- the Ledger protocol of apply ---------------------------------------------------------
    def submitting(self, batch: Batch, *, provider: str, url: str | None) -> str:
        entry = JobEntry(
            batch_key=batch.key,
            run_id=self.run_id,
            provider=provider,
            list=batch.list_name,
            vendor_list_id=batch.vendor_list_id,
            action=batch.action.value,
            index=batch.index,
            rows=batch.rows,
            sha256=batch.sha256,
            file=str(batch.path),
            url=without_query(url),
        )
        self.state.jobs.append(entry)
        self._save()
        return entry.id

    def submitted(self, entry_id: str, job: JobRef) -> None:
        entry = self._entry(entry_id)
        entry.status = "submitted"
        entry.vendor_job_id = job.vendor_job_id
        entry.job_detail = scrub_data(dict(job.detail))
        entry.submitted_at = now()
        self._save()

    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None:
        """The submission's fate is unknown since ``since`` (kept when it already was)."""
        entry = self._entry(entry_id)
        entry.status = "unknown"
        entry.message = scrub(message)
        entry.unknown_since = entry.unknown_since or since
        self._save()

    def unsent(self, entry_id: str, message: str) -> None:
        entry = self._entry(entry_id)
        entry.status = "unsent"
        entry.message = scrub(message)
        entry.finished_at = now()
        self._save()

    def progress(self, entry_id: str, status: JobStatus) -> None:
        entry = self._entry(entry_id)
        entry.vendor_status = _scrubbed(status.vendor_status)
        entry.counts = dict(status.counts)
        self._save()

    def finished(self, entry_id: str, status: JobStatus) -> None:
        entry = self._entry(entry_id)
        entry.status = "succeeded" if status.state.value == "succeeded" else "failed"
        entry.vendor_status = _scrubbed(status.vendor_status)
        entry.counts = dict(status.counts)
        entry.message = scrub(status.message)
        entry.finished_at = now()
        if status.failures:
            private_dir(self.failures_dir)  # the addresses that failed, and why
            path = self.failures_dir / f"{entry.id}.jsonl"
            with open_private(path, "w", encoding="utf-8") as fh:
                for failure in status.failures:
                    fh.write(json.dumps(scrub_data(dict(failure)), sort_keys=True) + "\n")
            entry.failures_file = str(path)
        self.finished_ids.append(entry.id)
        self._save()

    def done_keys(self) -> set[str]:
        """Batches already applied by runs that did not finish (a crash) and that no apply has
        settled since: a re-run must not send them again even when the vendor's state cannot
        be read back."""
        unfinished = {r.run_id for r in self.state.runs if r.finished_at is None}
        return {
            j.batch_key
            for j in self.state.jobs
            if j.status == "succeeded" and j.run_id in unfinished
        }

    def in_flight(self) -> Sequence[InFlight]:
        items = []
        for entry in self.state.jobs:
            if entry.status not in IN_FLIGHT:
                continue
            batch = Batch(
                entry.list,
                entry.vendor_list_id,
                Action(entry.action),
                entry.index,
                Path(entry.file),
                entry.rows,
                entry.sha256,
                entry.url,
            )
            job = (
                JobRef(entry.vendor_job_id, entry.job_detail)
                if entry.vendor_job_id is not None
                else None
            )
            # A crashed run's `submitting` entry: its request left after it was recorded.
            since = entry.unknown_since or entry.created_at
            message = entry.message or (CRASHED if entry.status == "submitting" else "")
            items.append(
                InFlight(entry.id, entry.status, batch, entry.provider, job, since, message)
            )
        return items

    def pending_rows(self, list_name: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.state.jobs:
            if entry.list == list_name and entry.status in IN_FLIGHT:
                counts[entry.action] = counts.get(entry.action, 0) + entry.rows
        return counts
