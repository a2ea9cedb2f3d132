"""Progress of apply as plain log lines (CI) — one line per batch event."""

from __future__ import annotations

from typing import TextIO

from reconciler.providers.base import Batch, JobRef, JobStatus


class LogEvents:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def batch_submitted(self, batch: Batch, job: JobRef) -> None:
        self._line(
            f"{batch.list_name}: {batch.action.value} batch {batch.index} "
            f"({batch.rows:,} rows) submitted, job {job.vendor_job_id}"
        )

    def batch_polled(self, batch: Batch, status: JobStatus) -> None:
        return None

    def batch_finished(self, batch: Batch, status: JobStatus) -> None:
        counts = ", ".join(f"{k}={v}" for k, v in status.counts.items() if v)
        self._line(
            f"{batch.list_name}: {batch.action.value} batch {batch.index} "
            f"{status.state.value} ({status.vendor_status}{'; ' + counts if counts else ''})"
        )

    def note(self, message: str) -> None:
        self._line(message)
