"""The settle window (``reconciler/apply/settle.py``) on a fake clock: an ambiguous submission
is adopted when the vendor's records show its job, marked unsent only by a lookup made after
the window, and, at a vendor that cannot tell, sent again only for an action the provider
declares harmless to send twice; otherwise apply stops and names what to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.engine import Applier
from reconciler.apply.settle import Settler
from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError, UnresolvedSubmission
from reconciler.model import Action
from reconciler.providers.base import (
    Batch,
    BatchFormat,
    JobRef,
    JobState,
    JobStatus,
    Lookup,
    Provider,
)
from reconciler.providers.http import AmbiguousSubmission
from reconciler.state.ledger import InFlight
from tests.unit.test_applier import FakeLedger, NoEvents, one_add

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIST = ListConfig(provider="p", list_id="L1", managed_fields=["first_name"])
CAUSE = "acme POST /imports: timed out after sending (ReadTimeout); the vendor may have accepted it"


class Clock:
    """Wall time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


class Vendor(Provider):
    """Answers lookups from a script of (seconds after T0 from which the job is listed);
    ``listing=False``: documents none."""

    vendor = "acme"
    default_base_url = "https://api.acme.example"
    capabilities = frozenset(Action)

    def __init__(
        self,
        tmp_path: Path,
        clock: Clock,
        *,
        appears_at: float | None = None,
        listing: bool = True,
        harmless: bool = False,
        ambiguous: bool = False,
        resend_unknown: str = "ask",
    ) -> None:
        options = {
            "settle_seconds": 60,
            "poll_interval_seconds": 1,
            "resend_unknown": resend_unknown,
        }
        super().__init__("p", ProviderConfig(type="ongage", options=options), workdir=tmp_path)
        self.clock, self.appears_at, self.listing = clock, appears_at, listing
        self.harmless, self.ambiguous = harmless, ambiguous
        self.lookups: list[float] = []  # seconds after T0 of each lookup

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        return BatchFormat()

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        if self.ambiguous:
            raise AmbiguousSubmission(
                "timed out after sending (ReadTimeout); the vendor may have accepted it",
                vendor="acme",
                endpoint="POST /imports",
            )
        return JobRef("J1")

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        return JobStatus(JobState.SUCCEEDED, "done")

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        if not self.listing:
            return Lookup.cannot_tell("acme documents no listing of its jobs")
        at = (self.clock.now - T0).total_seconds()
        self.lookups.append(at)
        if self.appears_at is not None and at >= self.appears_at:
            return Lookup.found(JobRef("J9"), "acme's job listing")
        return Lookup.absent("acme's job listing")

    def resend_is_harmless(self, action: Action) -> str | None:
        return "an add there is an upsert" if self.harmless else None


class Ledger:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Any]] = []

    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None:
        self.writes.append(("unknown", entry_id, (message, since)))

    def unsent(self, entry_id: str, message: str) -> None:
        self.writes.append(("unsent", entry_id, message))


def batch(tmp_path: Path) -> Batch:
    return Batch("news", "L1", Action.ADD, 1, tmp_path / "news-add-0001.csv", 3, "ab" * 32)


def settle(vendor: Vendor, clock: Clock, ledger: Ledger, notes: list[str], b: Batch) -> Any:
    settler = Settler(ledger, notes.append, clock.sleep, clock)
    return settler.settle(vendor, LIST, "e1", b, since=T0, cause=CAUSE)


def test_a_job_the_vendor_commits_late_is_found_within_the_window(tmp_path: Path) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    vendor = Vendor(tmp_path, clock, appears_at=5)
    job = settle(vendor, clock, ledger, notes, batch(tmp_path))
    assert job == JobRef("J9")
    assert vendor.lookups == [0, 1, 3, 7]  # asked again with backoff: 1 s, 2 s, 4 s
    assert ledger.writes == []  # the caller records the adopted job
    assert notes[0].startswith(f"news/add/0001/{'ab' * 8}: acme may have taken it ({CAUSE}); ")
    assert "asking again until the settle window of 60 s has passed (60 s more)" in notes[0]
    assert notes[-1] == (
        f"news/add/0001/{'ab' * 8}: {CAUSE}; found at acme as job J9 (acme's job listing): "
        "adopted, not sent again"
    )


def test_only_a_lookup_after_the_window_proves_absence(tmp_path: Path) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    vendor = Vendor(tmp_path, clock)
    assert settle(vendor, clock, ledger, notes, batch(tmp_path)) is None
    assert vendor.lookups == [0, 1, 3, 7, 15, 31, 60]  # the last one at the window's end
    assert sum(clock.sleeps) == 60
    ((what, entry, message),) = ledger.writes
    assert (what, entry) == ("unsent", "e1")
    assert message == (
        f"{CAUSE}; not in acme's job listing, asked 7 time(s) until 60 s had passed: never "
        "received, planned and sent again if still needed"
    )
    assert notes[-1].endswith(message)


def test_a_crash_long_ago_is_settled_by_one_lookup(tmp_path: Path) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    clock.now = T0 + timedelta(hours=2)
    vendor = Vendor(tmp_path, clock)
    assert settle(vendor, clock, ledger, notes, batch(tmp_path)) is None
    assert (len(vendor.lookups), clock.sleeps) == (1, [])
    assert ledger.writes[0][0] == "unsent"


def test_by_default_a_vendor_that_cannot_tell_is_asked_about_even_a_harmless_action(
    tmp_path: Path,
) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    vendor = Vendor(tmp_path, clock, listing=False, harmless=True)
    with pytest.raises(UnresolvedSubmission) as caught:
        settle(vendor, clock, ledger, notes, batch(tmp_path))
    assert ledger.writes == [("unknown", "e1", (CAUSE, T0))]
    assert (
        "and acme documents no listing of its jobs; reconciler does not send it again on a "
        "guess (an add there is an upsert: the provider option resend_unknown: if_harmless "
        "would send it again). Check at acme"
    ) in str(caught.value)


def test_a_bad_resend_unknown_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as caught:
        Vendor(tmp_path, Clock(), resend_unknown="always")
    assert str(caught.value) == (
        "acme: option resend_unknown must be one of ask, if_harmless, got 'always'"
    )


def test_a_vendor_that_cannot_tell_resends_a_harmless_action_after_the_window(
    tmp_path: Path,
) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    vendor = Vendor(tmp_path, clock, listing=False, harmless=True, resend_unknown="if_harmless")
    assert settle(vendor, clock, ledger, notes, batch(tmp_path)) is None
    assert clock.sleeps == [60]  # nothing to ask meanwhile: the window waited out at once
    assert "acme documents no listing of its jobs: waiting out the settle window" in notes[0]
    assert ledger.writes == [
        (
            "unsent",
            "e1",
            f"{CAUSE}; acme documents no listing of its jobs; an add there is an upsert, so the "
            "batch is sent again",
        )
    ]
    assert "not in" not in ledger.writes[0][2]  # no claim of a lookup that never happened


def test_a_vendor_that_cannot_tell_stops_apply_for_any_other_action(tmp_path: Path) -> None:
    clock, ledger, notes = Clock(), Ledger(), []
    vendor = Vendor(tmp_path, clock, listing=False, harmless=False)
    with pytest.raises(UnresolvedSubmission) as caught:
        settle(vendor, clock, ledger, notes, batch(tmp_path))
    assert ledger.writes == [("unknown", "e1", (CAUSE, T0))]  # stays unknown
    message = str(caught.value)
    assert message.startswith(
        "news: add batch 1 (3 row(s), ledger entry e1) may have reached acme "
    )
    assert "Check at acme for a job created from 2026-12-01T12:00:00+00:00 on" in message
    assert "`reconciler state resolve e1 --sent JOB_ID`" in message
    assert "`reconciler state resolve e1 --unsent`" in message


# -- through the applier -----------------------------------------------------------------------
class InFlightLedger(FakeLedger):
    def unknown(self, entry_id: str, message: str, *, since: datetime) -> None:
        self.writes.append(("unknown", entry_id, since))


def applier(tmp_path: Path, vendor: Vendor, ledger: FakeLedger, clock: Clock) -> Applier:
    return Applier(
        providers={"p": vendor},
        list_configs={"news": LIST},
        ledger=ledger,
        batch_dir=tmp_path / "batches" / "run1",
        events=NoEvents(),
        sleep=clock.sleep,
        clock=clock,
    )


def test_an_ambiguous_submission_is_adopted_when_the_vendor_commits_it(tmp_path: Path) -> None:
    clock, ledger = Clock(), InFlightLedger()
    vendor = Vendor(tmp_path, clock, appears_at=2, ambiguous=True)
    report = applier(tmp_path, vendor, ledger, clock).apply(one_add())
    assert [(o.state, o.vendor_job_id) for o in report.outcomes] == [(JobState.SUCCEEDED, "J9")]
    assert [w[:2] for w in ledger.writes] == [
        ("submitting", "e1"),
        ("unknown", "e1"),
        ("submitted", "e1"),
        ("finished", "e1"),
    ]
    assert ledger.writes[1][2] == T0  # the window is measured from the ambiguous answer


def in_flight(tmp_path: Path, entry: str, since: datetime) -> InFlight:
    return InFlight(entry, "unknown", batch(tmp_path), "p", None, since, CAUSE)


def test_resume_settles_the_others_then_stops_on_one_that_must_stay_unknown(
    tmp_path: Path,
) -> None:
    clock = Clock()
    clock.now = T0 + timedelta(hours=1)
    stuck = in_flight(tmp_path, "e1", T0)
    ledger = InFlightLedger(
        [stuck, InFlight("e2", "submitted", batch(tmp_path), "p", JobRef("J2"), T0)]
    )
    vendor = Vendor(tmp_path, clock, listing=False)
    with pytest.raises(UnresolvedSubmission, match="ledger entry e1"):
        applier(tmp_path, vendor, ledger, clock).resume()
    assert ("finished", "e2", (JobState.SUCCEEDED, "done")) in ledger.writes  # settled first
    assert ("unsent", "e1") not in [w[:2] for w in ledger.writes]
