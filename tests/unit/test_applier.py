"""The ledger writes of ``Applier`` (``reconciler/apply/engine.py``) while it waits on a job,
with a hand-written ledger and provider: a job's progress is recorded each time the vendor's
status changes, and only then (every record is a state write: one per poll of a job that
stays ``processing`` for hours would rewrite the state thousands of times, and none at all
would leave a killed run's ledger without the vendor's last word).

The reliability tests cannot see this: the state file keeps only a job's latest status."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.engine import Applier
from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan.model import ListChange, ListPlan, Plan
from reconciler.providers.base import Batch, BatchFormat, JobRef, JobState, JobStatus, Provider
from reconciler.state.ledger import InFlight

P = JobState.PENDING


def status(state: JobState, vendor_status: str, **counts: int) -> JobStatus:
    return JobStatus(state, vendor_status, counts)


class FakeLedger:
    """Records every write as (what, entry, detail), in order, instead of persisting it."""

    def __init__(self, in_flight: Sequence[InFlight] = ()) -> None:
        self.writes: list[tuple[str, str, Any]] = []
        self._in_flight = list(in_flight)

    def submitting(self, batch: Batch, *, provider: str, url: str | None) -> str:
        self.writes.append(("submitting", "e1", batch.key))
        return "e1"

    def submitted(self, entry_id: str, job: JobRef) -> None:
        self.writes.append(("submitted", entry_id, job.vendor_job_id))

    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None:
        self.writes.append(("unknown", entry_id, message))

    def unsent(self, entry_id: str, message: str) -> None:
        self.writes.append(("unsent", entry_id, message))

    def progress(self, entry_id: str, status: JobStatus) -> None:
        self.writes.append(("progress", entry_id, (status.vendor_status, dict(status.counts))))

    def finished(self, entry_id: str, status: JobStatus) -> None:
        self.writes.append(("finished", entry_id, (status.state, status.vendor_status)))
        self._in_flight = [i for i in self._in_flight if i.entry_id != entry_id]

    def done_keys(self) -> set[str]:
        return set()

    def in_flight(self) -> Sequence[InFlight]:
        return list(self._in_flight)


class ScriptedProvider(Provider):
    """Answers each status read with the next status of its script."""

    vendor = "omnigage"
    capabilities = frozenset(Action)

    def __init__(self, workdir: Path, script: Sequence[JobStatus]) -> None:
        config = ProviderConfig(
            type="omnigage",
            base_url="https://api.example.com",
            options={"poll_interval_seconds": 1},
        )
        super().__init__("p", config, workdir=workdir)
        self.script: Iterator[JobStatus] = iter(script)
        self.polls = 0

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        return BatchFormat()

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        return JobRef("J1")

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        assert job.vendor_job_id == "J1"
        self.polls += 1
        return next(self.script)  # StopIteration: polled past the end of the job


class NoEvents:
    def batch_staging(self, batch: Batch) -> None: ...

    def batch_submitted(self, batch: Batch, job: JobRef) -> None: ...

    def batch_polled(self, batch: Batch, status: JobStatus) -> None: ...

    def batch_finished(self, batch: Batch, status: JobStatus) -> None: ...

    def note(self, message: str) -> None: ...


LIST = ListConfig(provider="p", list_id="L1", managed_fields=["first_name"])


def applier(tmp_path: Path, provider: Provider, ledger: FakeLedger, sleeps: list[float]) -> Applier:
    return Applier(
        providers={"p": provider},
        list_configs={"news": LIST},
        ledger=ledger,
        batch_dir=tmp_path / "batches" / "run1",
        events=NoEvents(),
        sleep=sleeps.append,
    )


def one_add() -> Plan:
    change = ListChange(ChangeKind.ADD, "ann@example.com", "members.csv:2", {"first_name": "Ann"})
    news = ListPlan(
        name="news",
        provider="p",
        vendor="omnigage",
        vendor_list_id="L1",
        mode=ListMode.ADDITIVE,
        drop_action=DropAction.REMOVE,
        changes=(change,),
    )
    return Plan(lists=(news,), created_at=datetime(2024, 6, 1, tzinfo=UTC))


def test_apply_records_progress_once_per_vendor_status(tmp_path: Path) -> None:
    script = [
        status(P, "queued", total=1),
        status(P, "queued", total=1),
        status(P, "processing", total=1, created=0),
        status(P, "processing", total=1, created=0),
        status(P, "processing", total=1, created=1),
        status(JobState.SUCCEEDED, "completed", total=1, created=1),
    ]
    provider = ScriptedProvider(tmp_path, script)
    ledger = FakeLedger()
    sleeps: list[float] = []
    report = applier(tmp_path, provider, ledger, sleeps).apply(one_add())
    (outcome,) = report.outcomes
    assert (outcome.state, outcome.vendor_job_id) == (JobState.SUCCEEDED, "J1")
    assert ledger.writes == [
        ("submitting", "e1", outcome.batch.key),
        ("submitted", "e1", "J1"),
        # The first status read is recorded, then each change of the vendor's word: a count
        # that moves under the same word (created 0 -> 1) is not a new status.
        ("progress", "e1", ("queued", {"total": 1})),
        ("progress", "e1", ("processing", {"total": 1, "created": 0})),
        ("finished", "e1", (JobState.SUCCEEDED, "completed")),
    ]
    assert provider.polls == 6
    assert sleeps == [1.0, 1.5, 2.25, 3.375, 5.0625]  # backing off between the reads


def test_resume_records_a_status_that_comes_back_as_a_new_one(tmp_path: Path) -> None:
    # retrying -> processing again is a change the ledger must show: the last word recorded
    # is the vendor's latest, not the first time it was seen.
    script = [
        status(P, "accepted"),
        status(P, "accepted"),
        status(P, "processing"),
        status(P, "retrying"),
        status(P, "retrying"),
        status(P, "processing"),
        status(JobState.FAILED, "failed"),
    ]
    provider = ScriptedProvider(tmp_path, script)
    path = tmp_path / "batches" / "run0" / "news" / "news-add-0001.csv"
    batch = Batch("news", "L1", Action.ADD, 1, path, 1, "0" * 64)
    ledger = FakeLedger(
        [InFlight("e7", "submitted", batch, "p", JobRef("J1"), datetime(2026, 1, 1, tzinfo=UTC))]
    )
    sleeps: list[float] = []
    (outcome,) = applier(tmp_path, provider, ledger, sleeps).resume()
    assert (outcome.state, outcome.resumed) == (JobState.FAILED, True)
    assert ledger.writes == [
        ("progress", "e7", ("accepted", {})),
        ("progress", "e7", ("processing", {})),
        ("progress", "e7", ("retrying", {})),
        ("progress", "e7", ("processing", {})),
        ("finished", "e7", (JobState.FAILED, "failed")),
    ]
    assert provider.polls == 7


@pytest.mark.parametrize("final", [JobState.SUCCEEDED, JobState.FAILED])
def test_a_job_final_at_its_first_read_records_no_progress(tmp_path: Path, final: JobState) -> None:
    provider = ScriptedProvider(tmp_path, [status(final, "completed", total=1)])
    ledger = FakeLedger()
    sleeps: list[float] = []
    (outcome,) = applier(tmp_path, provider, ledger, sleeps).apply(one_add()).outcomes
    assert [(what, detail) for what, _, detail in ledger.writes] == [
        ("submitting", outcome.batch.key),
        ("submitted", "J1"),
        ("finished", (final, "completed")),
    ]
    assert sleeps == []
