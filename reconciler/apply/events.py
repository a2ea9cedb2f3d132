"""Progress of reads and of apply: rich progress on a terminal, plain log lines elsewhere (CI)."""

from __future__ import annotations

from typing import Any, TextIO

from reconciler.providers.base import Batch, JobRef, JobStatus


class LogEvents:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def batch_staging(self, batch: Batch) -> None:
        return None  # the submission line follows at once; CI logs stay one line per event

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


class RichReadEvents:
    """On a terminal: a spinner per list while its current state is read (on stderr, which
    leaves stdout to the plan), cleared once every list is read."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichReadEvents:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def reading(self, list_name: str, where: str) -> None:
        self._tasks[list_name] = self.progress.add_task(
            f"reading the current state of {list_name!r} from {where}", total=None
        )

    def read(self, list_name: str) -> None:
        task = self._tasks.pop(list_name, None)
        if task is not None:
            self.progress.remove_task(task)


class RichEvents:
    """Progress on a terminal: one live line per batch, from submitted to its end."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichEvents:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @staticmethod
    def _label(batch: Batch) -> str:
        return f"{batch.list_name} {batch.action.value} #{batch.index} ({batch.rows:,} rows)"

    def batch_staging(self, batch: Batch) -> None:
        self._tasks[batch.key] = self.progress.add_task(
            f"{self._label(batch)}: uploading the batch file", total=None
        )

    def batch_submitted(self, batch: Batch, job: JobRef) -> None:
        text = f"{self._label(batch)} job {job.vendor_job_id}"
        task = self._tasks.get(batch.key)
        if task is None:
            self._tasks[batch.key] = self.progress.add_task(text, total=None)
        else:
            self.progress.update(task, description=text)

    def batch_polled(self, batch: Batch, status: JobStatus) -> None:
        task = self._tasks.get(batch.key)
        if task is not None:
            self.progress.update(task, description=f"{self._label(batch)}: {status.vendor_status}")

    def batch_finished(self, batch: Batch, status: JobStatus) -> None:
        task = self._tasks.get(batch.key)
        text = f"{self._label(batch)}: {status.state.value} ({status.vendor_status})"
        if task is None:
            task = self.progress.add_task(text, total=1)
        self.progress.update(task, description=text, total=1, completed=1)

    def note(self, message: str) -> None:
        self.progress.console.print(message)
