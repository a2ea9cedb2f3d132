"""Progress of reads and of apply: rich progress on a terminal, plain log lines elsewhere (CI).

What a vendor answers (job IDs, statuses, counts, messages) and what the repository names
(lists, locations) is shown through ``render.safe.terminal``; rich is told to take it as plain
text, never as its ``[markup]``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from reconciler.providers.base import Batch, JobRef, JobStatus
from reconciler.render.jobstatus import duration, eta, status_text
from reconciler.render.safe import terminal

#: Without a terminal (CI), a job still running gets a line this often, not one per poll
#: (a log would fill with them) nor none (a long silence reads as a hang).
LOG_EVERY_SECONDS = 30.0


def _counts(status: JobStatus) -> str:
    return ", ".join(f"{terminal(k)}={terminal(v)}" for k, v in status.counts.items() if v)


def _label(batch: Batch) -> str:
    return f"{terminal(batch.list_name)}: {batch.action.value} batch {batch.index}"


class LogEvents:
    def __init__(
        self,
        stream: TextIO,
        *,
        every: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.every = every
        self.clock = clock
        self._started: dict[str, float] = {}  # batch key -> when its job was first seen
        self._told: dict[str, float] = {}  # batch key -> its last line

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def batch_staging(self, batch: Batch) -> None:
        return None  # the submission line follows at once; CI logs stay one line per event

    def batch_submitted(self, batch: Batch, job: JobRef) -> None:
        self._started[batch.key] = self._told[batch.key] = self.clock()
        self._line(
            f"{_label(batch)} ({batch.rows:,} rows) submitted, job {terminal(job.vendor_job_id)}"
        )

    def batch_polled(self, batch: Batch, status: JobStatus) -> None:
        now = self.clock()
        # A job resumed from the ledger was not submitted by this run: timed from its first poll.
        started = self._started.setdefault(batch.key, now)
        if now - self._told.setdefault(batch.key, now) < self.every:
            return
        self._told[batch.key] = now
        elapsed = now - started
        left = eta(status.done, elapsed)
        self._line(
            f"{_label(batch)}: {status_text(status)}, {duration(elapsed)} so far"
            + (f", about {left} left" if left else "")
        )

    def batch_finished(self, batch: Batch, status: JobStatus) -> None:
        counts = _counts(status)
        self._line(
            f"{_label(batch)} {status.state.value} "
            f"({terminal(status.words or status.vendor_status)}{'; ' + counts if counts else ''})"
        )

    def note(self, message: str) -> None:
        self._line(terminal(message))


class LogReadEvents:
    """Without a terminal (CI): a line on stderr for each vendor read still running, every
    ``every`` seconds, so a long export is no silence that reads as a hang; a quick read prints
    nothing (the plan says where each state came from)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        every: float = LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.every = every
        self.clock = clock
        self._reads: dict[str, tuple[str, float]] = {}  # list -> (where, since)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._run, name="read-progress", daemon=True)

    def __enter__(self) -> LogReadEvents:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()

    def reading(self, list_name: str, where: str) -> None:
        with self._lock:
            self._reads[list_name] = (where, self.clock())

    def read(self, list_name: str) -> None:
        with self._lock:
            self._reads.pop(list_name, None)

    def tick(self) -> None:
        """One line per read running for ``every`` seconds or more."""
        now = self.clock()
        with self._lock:
            running = [
                (n, w, now - s) for n, (w, s) in self._reads.items() if now - s >= self.every
            ]
        for name, where, elapsed in running:
            self.stream.write(
                f"still reading the current state of {terminal(repr(name))} from "
                f"{terminal(where)}: {duration(elapsed)} so far\n"
            )
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.tick()


class RichReadEvents:
    """On a terminal: a spinner per list while its current state is read (on stderr, which
    leaves stdout to the plan), cleared once every list is read."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
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
            f"reading the current state of {list_name!r} from {terminal(where)}", total=None
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
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),  # from the vendor's own counters, once it reports any
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
        return (
            f"{terminal(batch.list_name)} {batch.action.value} #{batch.index} ({batch.rows:,} rows)"
        )

    def batch_staging(self, batch: Batch) -> None:
        self._tasks[batch.key] = self.progress.add_task(
            f"{self._label(batch)}: uploading the batch file", total=None
        )

    def batch_submitted(self, batch: Batch, job: JobRef) -> None:
        text = f"{self._label(batch)} job {terminal(job.vendor_job_id)}"
        task = self._tasks.get(batch.key)
        if task is None:
            self._tasks[batch.key] = self.progress.add_task(text, total=None)
        else:
            self.progress.update(task, description=text)

    def batch_polled(self, batch: Batch, status: JobStatus) -> None:
        task = self._tasks.get(batch.key)
        if task is not None:
            description = f"{self._label(batch)}: {status_text(status)}"
            if status.done is None:
                self.progress.update(task, description=description)
            else:  # the bar fills as the vendor counts, and rich estimates what is left
                self.progress.update(
                    task, description=description, total=100, completed=status.done * 100
                )

    def batch_finished(self, batch: Batch, status: JobStatus) -> None:
        task = self._tasks.get(batch.key)
        text = (
            f"{self._label(batch)}: {status.state.value} "
            f"({terminal(status.words or status.vendor_status)})"
        )
        if task is None:
            task = self.progress.add_task(text, total=1)
        self.progress.update(task, description=text, total=1, completed=1)

    def note(self, message: str) -> None:
        self.progress.console.print(terminal(message), markup=False, highlight=False)
