"""Apply a plan: batches to vendor jobs, each recorded in the ledger before it is waited on.

The order of every batch's life, and why:

1. the batch file is written (deterministic bytes, so its sha256 identifies it across runs);
2. it is staged when the vendor pulls files by URL;
3. the ledger records it as ``submitting`` and the state is written: a crash after the request
   left but before its answer came back is then visible on the next run, which asks the vendor
   (``Provider.find_submitted``) before ever sending that batch again;
4. the request is sent; the vendor's job ID is recorded and written *before* any polling. An
   answer that leaves it unclear whether the vendor created the job (``AmbiguousSubmission``)
   makes the entry ``unknown``, settled by the vendor's records after a settle window
   (``reconciler/apply/settle.py``): the job adopted, or the batch ``unsent``, or apply stops
   and asks the user;
5. the job is polled to its end; its final status and counts are recorded;
6. the staged file is retired, and the batch file removed: it holds addresses and field values,
   and once the job is final the ledger's row count and sha256 say all that is needed. Files of
   jobs still in flight stay (the next run resumes them; ``plan`` shows their rows as pending).

Suppression actions go first (complaint, bounce, unsubscribe, remove), then resubscribes, adds
and updates, so that an address is never mailed in the window between two batches.

Jobs in flight: a list's batches of one action may overlap at the vendor, up to the provider's
``imports_in_flight()`` (Ongage's option ``max_imports_in_flight``; every other vendor one). Each
is submitted, its job ID recorded (step 4), while the ones before it run; once that many run,
the oldest is waited for (step 5) before the next is sent. Batches of one action hold distinct
addresses, so the order in which they end does not matter; batches of different actions never
overlap: the window is empty before the list's next action starts, so a suppression is in place
before any add or resubscribe of the list is sent. A vendor that refuses a batch for now (a
rate limit, or too many jobs in progress: ``SubmissionRefused``) created nothing: while jobs of
the list are in flight, the oldest is waited for and the batch sent again, and no more jobs
than the vendor took are kept in flight from then on; with none in flight, the batch is left
unsent and apply stops (the next run sends it). An error that stops apply while jobs are in
flight leaves them in the ledger as ``submitted``: the next apply or poll settles them.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from reconciler.apply.batches import write_batches
from reconciler.apply.settle import Settler
from reconciler.config.schema import ListConfig
from reconciler.errors import ProviderError, UnresolvedSubmission
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListPlan, Plan
from reconciler.providers.base import (
    Batch,
    JobRef,
    JobState,
    JobStatus,
    Provider,
    SubmissionRefused,
)
from reconciler.providers.http import AmbiguousSubmission
from reconciler.staging.base import Stager
from reconciler.state.ledger import InFlight

ACTION_ORDER: tuple[Action, ...] = tuple(Action)  # the enum is declared in sending order


class Ledger(Protocol):
    """What apply needs from the state's job ledger. Every method persists before returning."""

    def submitting(self, batch: Batch, *, provider: str, url: str | None) -> str: ...

    def submitted(self, entry_id: str, job: JobRef) -> None: ...

    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None: ...

    def unsent(self, entry_id: str, message: str) -> None: ...

    def progress(self, entry_id: str, status: JobStatus) -> None: ...

    def finished(self, entry_id: str, status: JobStatus) -> None: ...

    def done_keys(self) -> set[str]: ...

    def in_flight(self) -> Sequence[InFlight]: ...


@dataclass
class BatchOutcome:
    batch: Batch
    state: JobState
    vendor_job_id: str | None
    counts: Mapping[str, int] = field(default_factory=dict)
    message: str = ""
    resumed: bool = False


@dataclass(frozen=True)
class _Sent:
    """A batch the vendor accepted as a job, recorded in the ledger, not yet waited for."""

    entry_id: str
    batch: Batch
    job: JobRef
    stager: Stager | None


@dataclass
class _Window:
    """One list's jobs of one action in flight at the vendor, oldest first, and how many may
    be (the provider's imports_in_flight, lowered to what the vendor took when it refuses)."""

    limit: int
    sent: deque[_Sent] = field(default_factory=deque)


@dataclass
class ApplyReport:
    outcomes: list[BatchOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[BatchOutcome]:
        return [o for o in self.outcomes if o.state is JobState.FAILED]

    def per_list(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        for outcome in self.outcomes:
            entry = summary.setdefault(
                outcome.batch.list_name, {"batches": 0, "failed": 0, "rows": 0}
            )
            entry["batches"] += 1
            entry["rows"] += outcome.batch.rows
            entry["failed"] += outcome.state is JobState.FAILED
        return summary


class Events(Protocol):
    """Progress reporting (a rich progress bar on a terminal, log lines in CI)."""

    def batch_staging(self, batch: Batch) -> None: ...

    def batch_submitted(self, batch: Batch, job: JobRef) -> None: ...

    def batch_polled(self, batch: Batch, status: JobStatus) -> None: ...

    def batch_finished(self, batch: Batch, status: JobStatus) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class Applier:
    providers: Mapping[str, Provider]
    list_configs: Mapping[str, ListConfig]
    ledger: Ledger
    batch_dir: Path
    events: Events
    stager_for: Callable[[str], Stager | None] = lambda _provider: None
    max_poll_interval: float = 15.0
    job_timeout: float = 6 * 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def _settler(self) -> Settler:
        return Settler(self.ledger, self.events.note, self.sleep, self.clock)

    # -- resume -------------------------------------------------------------------------------
    def resume(self) -> list[BatchOutcome]:
        """Settle every batch a previous run left in flight before anything new is sent; one
        that must stay ``unknown`` is raised (UnresolvedSubmission) once the others are."""
        outcomes = []
        unresolved: list[str] = []
        for item in self.ledger.in_flight():
            provider = self.providers.get(item.provider)
            list_config = self.list_configs.get(item.batch.list_name)
            if provider is None or list_config is None:
                self.events.note(
                    f"ledger entry {item.entry_id} names provider {item.provider!r} / list "
                    f"{item.batch.list_name!r}, which the configuration no longer has: left as is"
                )
                continue
            job = item.job
            if job is None:  # submitting or unknown: the vendor's records settle it
                self.ledger.unknown(item.entry_id, item.message, since=item.since)
                try:
                    job = self._settler().settle(
                        provider,
                        list_config,
                        item.entry_id,
                        item.batch,
                        since=item.since,
                        cause=item.message,
                    )
                except UnresolvedSubmission as exc:
                    unresolved.append(str(exc))
                    continue
                if job is None:
                    _remove_batch_file(item.batch)
                    continue
                self.ledger.submitted(item.entry_id, job)
            status = self._wait(provider, list_config, item.entry_id, item.batch, job)
            # Its staged copy too (a web directory, a bucket): it holds addresses.
            _retire(self.stager_for(item.provider), item.batch)
            _remove_batch_file(item.batch)
            outcomes.append(self._outcome(item.batch, job, status, resumed=True))
        if unresolved:
            raise UnresolvedSubmission("\n".join(unresolved))
        return outcomes

    # -- apply --------------------------------------------------------------------------------
    def apply(self, plan: Plan) -> ApplyReport:
        report = ApplyReport(self.resume())
        self._remove_orphaned_batch_files()
        done = self.ledger.done_keys()
        for list_plan in plan.lists:
            provider = self.providers[list_plan.provider]
            list_config = self.list_configs[list_plan.name]
            for action in ACTION_ORDER:
                if not list_plan.counts[ChangeKind(action.value)]:
                    continue
                batches = []
                for batch in self._batches(provider, list_config, list_plan, action):
                    if batch.key in done:
                        self.events.note(f"{batch.key}: already applied, skipped")
                        _remove_batch_file(batch)
                        continue
                    batches.append(batch)
                report.outcomes += self._send_all(provider, list_config, batches)
        return report

    def _remove_orphaned_batch_files(self) -> None:
        """Files a crashed run wrote but never recorded (or never settled): ``batch_dir`` is
        ``<batches>/<run id>``, and apply holds the state's lock, so every file under
        ``<batches>`` that no ledger entry in flight refers to is nobody's."""
        keep = {item.batch.path.resolve() for item in self.ledger.in_flight()}
        for path in self.batch_dir.parent.glob("*/*/*.csv"):
            if path.resolve() not in keep:
                _remove_batch_file(path)

    def _batches(
        self, provider: Provider, list_config: ListConfig, list_plan: ListPlan, action: Action
    ) -> list[Batch]:
        fmt = provider.batch_format(list_config, action)
        return write_batches(list_plan, action, fmt, self.batch_dir / list_plan.name)

    def _send_all(
        self, provider: Provider, list_config: ListConfig, batches: Sequence[Batch]
    ) -> list[BatchOutcome]:
        """One list's batches of one action, up to the provider's imports_in_flight() of them
        in flight at once (module docstring); every job has ended when this returns."""
        window = _Window(max(1, provider.imports_in_flight()))
        outcomes: list[BatchOutcome] = []
        for batch in batches:
            while len(window.sent) >= window.limit:
                outcomes.append(self._settle(provider, list_config, window.sent.popleft()))
            sent = self._submit(provider, list_config, batch, window, outcomes)
            if isinstance(sent, BatchOutcome):
                outcomes.append(sent)  # rejected: no job
            else:
                window.sent.append(sent)
        while window.sent:
            outcomes.append(self._settle(provider, list_config, window.sent.popleft()))
        return sorted(outcomes, key=lambda outcome: outcome.batch.index)

    def _submit(
        self,
        provider: Provider,
        list_config: ListConfig,
        batch: Batch,
        window: _Window,
        outcomes: list[BatchOutcome],
    ) -> _Sent | BatchOutcome:
        """Stage and send one batch; its job ID is in the ledger when this returns. A refusal
        while jobs of the window run waits for the oldest (its outcome joins ``outcomes``) and
        sends the batch again: the vendor created nothing."""
        fmt = provider.batch_format(list_config, batch.action)
        stager = self.stager_for(provider.name) if fmt.needs_url else None
        if fmt.needs_url:
            if stager is None:
                raise ProviderError(
                    "needs a staging backend to publish batch files (providers.NAME.staging)",
                    vendor=provider.vendor,
                )
            self.events.batch_staging(batch)
            batch = replace(batch, url=stager.publish(batch.path))
        entry_id = self.ledger.submitting(batch, provider=provider.name, url=batch.url)
        while True:
            try:
                job = provider.submit(list_config, batch)
                break
            except SubmissionRefused as exc:
                if not window.sent:
                    # None of ours runs: the vendor is busy with other work, or kept limiting
                    # the rate through every retry. Nothing was created: the next run sends it.
                    self.ledger.unsent(entry_id, str(exc))
                    _retire(stager, batch)
                    _remove_batch_file(batch)
                    raise
                window.limit = len(window.sent)
                oldest = window.sent.popleft()
                self.events.note(
                    f"{batch.list_name}: {batch.action.value} batch {batch.index} refused for "
                    f"now ({exc}); sent again once job {oldest.job.vendor_job_id} has ended, "
                    f"with at most {window.limit} of this list's jobs in flight from now on"
                )
                outcomes.append(self._settle(provider, list_config, oldest))
            except AmbiguousSubmission as exc:
                since = self.clock()
                self.ledger.unknown(entry_id, str(exc), since=since)
                found = self._settler().settle(
                    provider, list_config, entry_id, batch, since=since, cause=str(exc)
                )
                if found is None:  # unsent: the next run plans and sends it
                    _remove_batch_file(batch)
                    raise
                job = found
                break
            except ProviderError as exc:
                failed = JobStatus(JobState.FAILED, "rejected", message=str(exc))
                self.ledger.finished(entry_id, failed)
                _retire(stager, batch)
                _remove_batch_file(batch)
                return self._outcome(batch, None, failed)
        self.ledger.submitted(entry_id, job)  # before anything else: the next submit or a poll
        self.events.batch_submitted(batch, job)
        return _Sent(entry_id, batch, job, stager)

    def _settle(self, provider: Provider, list_config: ListConfig, sent: _Sent) -> BatchOutcome:
        """Wait for a submitted batch's job to end, then retire its staged and batch files."""
        status = self._wait(provider, list_config, sent.entry_id, sent.batch, sent.job)
        _retire(sent.stager, sent.batch)
        _remove_batch_file(sent.batch)
        return self._outcome(sent.batch, sent.job, status)

    def _wait(
        self, provider: Provider, list_config: ListConfig, entry_id: str, batch: Batch, job: JobRef
    ) -> JobStatus:
        interval = provider.poll_interval
        deadline = time.monotonic() + self.job_timeout
        last_vendor_status = None
        while True:
            status = provider.poll(list_config, job)
            if status.state is not JobState.PENDING:
                self.ledger.finished(entry_id, status)
                self.events.batch_finished(batch, status)
                return status
            if status.vendor_status != last_vendor_status:
                self.ledger.progress(entry_id, status)
                last_vendor_status = status.vendor_status
            self.events.batch_polled(batch, status)
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"job {job.vendor_job_id} still {status.vendor_status!r} after "
                    f"{self.job_timeout:.0f}s; it stays in the ledger: run `reconciler poll` "
                    "later",
                    vendor=provider.vendor,
                )
            self.sleep(interval)
            interval = min(self.max_poll_interval, interval * 1.5)

    @staticmethod
    def _outcome(
        batch: Batch, job: JobRef | None, status: JobStatus, *, resumed: bool = False
    ) -> BatchOutcome:
        return BatchOutcome(
            batch,
            status.state,
            job.vendor_job_id if job else None,
            dict(status.counts),
            status.message,
            resumed,
        )


def _remove_batch_file(batch: Batch | Path) -> None:
    """The job of a batch is final (or will never be): its file, and its list's and run's
    directories once empty, are no longer needed."""
    path = batch if isinstance(batch, Path) else batch.path
    path.unlink(missing_ok=True)
    for directory in (path.parent, path.parent.parent):
        with contextlib.suppress(OSError):  # not empty: other batches are still in flight
            directory.rmdir()


def _retire(stager: Stager | None, batch: Batch) -> None:
    if stager is not None and batch.url:
        stager.retire(batch.url)
