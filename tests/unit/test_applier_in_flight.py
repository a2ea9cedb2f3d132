"""How ``Applier`` keeps a list's jobs in flight (``reconciler/apply/engine.py``), with a
hand-written ledger and provider writing into one log: every job ID is in the ledger before
the next batch is sent and before the job is first read; only batches of one action overlap;
a refusal waits for the oldest job and sends the batch again, or, with nothing in flight,
leaves it unsent. The vendor's side of it is in ``tests/integration/test_apply_in_flight.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.apply.engine import Applier
from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan.model import ListChange, ListPlan, Plan
from reconciler.providers.base import (
    Batch,
    BatchFormat,
    JobRef,
    JobState,
    JobStatus,
    Provider,
    SubmissionRefused,
)
from reconciler.state.ledger import InFlight

LIST = ListConfig(provider="p", list_id="L1")


class Log(list[str]):
    """Ledger writes (``ledger …``) and vendor requests (``submit …``, ``poll …``), in order."""


class Ledger:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.entries = 0

    def submitting(self, batch: Batch, *, provider: str, url: str | None) -> str:
        self.entries += 1
        self.log.append(f"ledger submitting {batch.action.value}{batch.index} as e{self.entries}")
        return f"e{self.entries}"

    def submitted(self, entry_id: str, job: JobRef) -> None:
        self.log.append(f"ledger submitted {entry_id} {job.vendor_job_id}")

    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None:
        self.log.append(f"ledger unknown {entry_id}")

    def unsent(self, entry_id: str, message: str) -> None:
        self.log.append(f"ledger unsent {entry_id}")

    def progress(self, entry_id: str, status: JobStatus) -> None:
        return None

    def finished(self, entry_id: str, status: JobStatus) -> None:
        self.log.append(f"ledger finished {entry_id} {status.state.value}")

    def done_keys(self) -> set[str]:
        return set()

    def in_flight(self) -> Sequence[InFlight]:
        return []


class Vendor(Provider):
    """Jobs that end at their second read; refuses a submission while ``room`` of them run."""

    vendor = "omnigage"
    capabilities = frozenset(Action)

    def __init__(self, workdir: Path, log: Log, *, in_flight: int, room: int = 100) -> None:
        config = ProviderConfig(type="omnigage", base_url="https://api.example.com")
        super().__init__("p", config, workdir=workdir)
        self.log, self.limit, self.room = log, in_flight, room
        self.reads: dict[str, int] = {}
        self.reject: set[str] = set()

    def imports_in_flight(self) -> int:
        return self.limit

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        return BatchFormat(max_rows=1)

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        name = f"{batch.action.value}{batch.index}"
        running = sum(1 for reads in self.reads.values() if reads < 2)
        if running >= self.room:
            self.log.append(f"refused {name}")
            raise SubmissionRefused("imports in progress", vendor="omnigage")
        if name in self.reject:
            self.log.append(f"rejected {name}")
            raise ProviderError("bad file", vendor="omnigage")
        self.log.append(f"submit {name}")
        self.reads[name] = 0
        return JobRef(name)

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        self.log.append(f"poll {job.vendor_job_id}")
        self.reads[job.vendor_job_id] += 1
        ended = self.reads[job.vendor_job_id] >= 2
        return JobStatus(JobState.SUCCEEDED if ended else JobState.PENDING, "x")


class Quiet:
    def batch_staging(self, batch: Batch) -> None: ...

    def batch_submitted(self, batch: Batch, job: JobRef) -> None: ...

    def batch_polled(self, batch: Batch, status: JobStatus) -> None: ...

    def batch_finished(self, batch: Batch, status: JobStatus) -> None: ...

    def note(self, message: str) -> None: ...


def plan(**rows: int) -> Plan:
    """One list with ``rows[kind]`` changes of each kind: one batch per row."""
    changes = tuple(
        ListChange(ChangeKind(kind), f"{kind}{i}@example.com", "members.csv", {})
        for kind, n in rows.items()
        for i in range(n)
    )
    news = ListPlan(
        name="news",
        provider="p",
        vendor="omnigage",
        vendor_list_id="L1",
        mode=ListMode.AUTHORITATIVE,
        drop_action=DropAction.UNSUBSCRIBE,
        changes=changes,
    )
    return Plan(lists=(news,), created_at=datetime(2024, 6, 1, tzinfo=UTC))


def applier(tmp_path: Path, provider: Provider, log: Log) -> Applier:
    return Applier(
        providers={"p": provider},
        list_configs={"news": LIST},
        ledger=Ledger(log),
        batch_dir=tmp_path / "batches" / "run1",
        events=Quiet(),
        sleep=lambda _seconds: None,
    )


def test_every_job_id_is_recorded_before_the_next_submit_and_before_its_first_read(
    tmp_path: Path,
) -> None:
    log = Log()
    report = applier(tmp_path, Vendor(tmp_path, log, in_flight=3), log).apply(plan(add=5))
    assert log == [
        "ledger submitting add1 as e1",
        "submit add1",
        "ledger submitted e1 add1",
        "ledger submitting add2 as e2",
        "submit add2",
        "ledger submitted e2 add2",
        "ledger submitting add3 as e3",
        "submit add3",
        "ledger submitted e3 add3",
        # three in flight: the oldest is waited for before the fourth is sent
        "poll add1",
        "poll add1",
        "ledger finished e1 succeeded",
        "ledger submitting add4 as e4",
        "submit add4",
        "ledger submitted e4 add4",
        "poll add2",
        "poll add2",
        "ledger finished e2 succeeded",
        "ledger submitting add5 as e5",
        "submit add5",
        "ledger submitted e5 add5",
        "poll add3",
        "poll add3",
        "ledger finished e3 succeeded",
        "poll add4",
        "poll add4",
        "ledger finished e4 succeeded",
        "poll add5",
        "poll add5",
        "ledger finished e5 succeeded",
    ]
    assert [(o.batch.index, o.state) for o in report.outcomes] == [
        (i, JobState.SUCCEEDED) for i in range(1, 6)
    ]


def test_one_in_flight_is_submit_wait_submit(tmp_path: Path) -> None:
    log = Log()
    applier(tmp_path, Vendor(tmp_path, log, in_flight=1), log).apply(plan(add=2))
    assert [line for line in log if not line.startswith("ledger")] == [
        "submit add1",
        "poll add1",
        "poll add1",
        "submit add2",
        "poll add2",
        "poll add2",
    ]


def test_batches_of_different_actions_never_overlap(tmp_path: Path) -> None:
    log = Log()
    applier(tmp_path, Vendor(tmp_path, log, in_flight=3), log).apply(plan(add=2, unsubscribe=2))
    requests = [line for line in log if not line.startswith("ledger")]
    assert requests == [
        "submit unsubscribe1",
        "submit unsubscribe2",
        "poll unsubscribe1",
        "poll unsubscribe1",
        "poll unsubscribe2",
        "poll unsubscribe2",
        # every unsubscribe has ended before the first add is sent
        "submit add1",
        "submit add2",
        "poll add1",
        "poll add1",
        "poll add2",
        "poll add2",
    ]


def test_a_refusal_waits_for_the_oldest_then_sends_the_batch_again_under_the_same_entry(
    tmp_path: Path,
) -> None:
    log = Log()
    vendor = Vendor(tmp_path, log, in_flight=3, room=2)
    report = applier(tmp_path, vendor, log).apply(plan(add=4))
    assert log[6:] == [
        "ledger submitting add3 as e3",
        "refused add3",
        # nothing was created: no job to record; the oldest ends, then add3 is sent again
        "poll add1",
        "poll add1",
        "ledger finished e1 succeeded",
        "submit add3",
        "ledger submitted e3 add3",
        # from now on at most two in flight: add4 waits for add2 instead of being refused
        "poll add2",
        "poll add2",
        "ledger finished e2 succeeded",
        "ledger submitting add4 as e4",
        "submit add4",
        "ledger submitted e4 add4",
        "poll add3",
        "poll add3",
        "ledger finished e3 succeeded",
        "poll add4",
        "poll add4",
        "ledger finished e4 succeeded",
    ]
    assert [o.batch.index for o in report.outcomes] == [1, 2, 3, 4]


def test_a_refusal_with_nothing_in_flight_leaves_the_batch_unsent_and_stops(
    tmp_path: Path,
) -> None:
    log = Log()
    vendor = Vendor(tmp_path, log, in_flight=3, room=0)
    with pytest.raises(SubmissionRefused):
        applier(tmp_path, vendor, log).apply(plan(add=2))
    assert log == ["ledger submitting add1 as e1", "refused add1", "ledger unsent e1"]
    # The refused batch's file is gone (never sent: nothing to resume); the next apply's sweep
    # of files no ledger entry names removes the second's.
    assert [f.name for f in (tmp_path / "batches").rglob("*.csv")] == ["news-add-0002.csv"]


def test_a_rejected_batch_takes_no_place_and_the_others_go_on(tmp_path: Path) -> None:
    log = Log()
    vendor = Vendor(tmp_path, log, in_flight=2)
    vendor.reject = {"add2"}
    report = applier(tmp_path, vendor, log).apply(plan(add=3))
    assert [line for line in log if not line.startswith("ledger")] == [
        "submit add1",
        "rejected add2",
        "submit add3",
        "poll add1",
        "poll add1",
        "poll add3",
        "poll add3",
    ]
    assert [(o.batch.index, o.state, o.vendor_job_id) for o in report.outcomes] == [
        (1, JobState.SUCCEEDED, "add1"),
        (2, JobState.FAILED, None),
        (3, JobState.SUCCEEDED, "add3"),
    ]
