"""Transient vendor faults during ``reconciler apply`` (Ongage through the embedded sandbox):
429 storms with Retry-After, 5xx bursts, requests that hang past the timeout. Each case ends
with the vendor's list as declared, every batch accepted exactly once, and the state settled.

A job-creating request is retried only when the vendor certainly did not act (429, 503, no
connection); a 500/502 or a timeout after sending is resolved by asking the vendor's import
listing, which adopts the job if it exists and otherwise marks the batch unsent and stops, so
that the next apply sends it once (``reconciler/providers/http.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import FaultProject, assert_state_settled, finished
from tests.reliability.scenarios import ONGAGE, ONGAGE_SUBMISSIONS

IMPORT = "/ongage/1001/api/import"
#: The read timeout of the runs with a hang: thousands of times a normal answer of the sandbox
#: (milliseconds), so that on a loaded machine only a hung request times out.
TIMEOUT_SECONDS = 10
TIMEOUT = {"timeout_seconds": TIMEOUT_SECONDS}
#: Far past the timeout (the sandbox caps it at 120 s): a hang never ends before the client
#: gives up on it, and ends when the command stops its sandbox, unlogged.
HANG = 3600


def apply(p: FaultProject, code: int = 0) -> str:
    run = finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve"), code)
    return run.out + run.err


def statuses(p: FaultProject, method: str, path: str) -> list[int]:
    return [r["status"] for r in p.requests() if (r["method"], r["path"]) == (method, path)]


def converged(p: FaultProject) -> None:
    assert ONGAGE.contacts(p) == ONGAGE.expected
    assert ONGAGE.submissions(p) == ONGAGE_SUBMISSIONS  # each batch accepted exactly once
    assert_state_settled(p.state())


def test_429_storm_with_retry_after_on_imports_and_polls(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    # Retry-After in fractions of a second keeps the test fast; the value is honoured as given
    # (tests/reliability/test_http_policy.py checks the waits themselves).
    p.inject(path=IMPORT, method="POST", kind="status", status=429, retry_after=0.2, count=3)
    p.inject(path=f"{IMPORT}/", method="GET", kind="status", status=429, retry_after=0.1, count=4)
    apply(p)
    assert statuses(p, "POST", IMPORT) == [429, 429, 429, 200, 200, 200, 200]
    assert statuses(p, "GET", f"{IMPORT}/1")[:5] == [429, 429, 429, 429, 200]
    converged(p)


def test_5xx_bursts_that_are_safe_to_retry(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    p.inject(path=IMPORT, method="POST", kind="status", status=503, count=2)
    p.inject(path=f"{IMPORT}/", method="GET", kind="status", status=502)
    p.inject(path="/ongage/1001/api/export", method="POST", kind="status", status=500)
    apply(p)
    assert statuses(p, "POST", IMPORT)[:3] == [503, 503, 200]
    assert statuses(p, "GET", f"{IMPORT}/1")[:2] == [502, 200]
    assert statuses(p, "POST", "/ongage/1001/api/export")[:2] == [500, 200]  # a read: retried
    converged(p)


def test_500_on_an_import_the_vendor_never_received_stops_then_the_rerun_sends_it_once(
    tmp_path: Path,
) -> None:
    p = ONGAGE.project(tmp_path)
    p.inject(path=IMPORT, method="POST", kind="status", status=500)
    out = apply(p, 1)
    assert "Error: ongage POST /1001/api/import: answered 500 after sending: injected 500\n" in out
    (entry,) = p.state().jobs
    assert (entry.action, entry.status) == ("complaint", "unsent")  # asked the listing: absent
    apply(p)
    converged(p)


def test_502_after_the_vendor_accepted_adopts_the_job_in_the_same_run(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    p.inject(path=IMPORT, method="POST", kind="status", status=502, after=True)
    apply(p)
    assert statuses(p, "POST", IMPORT) == [200] * 4  # logged with the vendor's own answer
    assert [j.status for j in p.state().jobs] == ["succeeded"] * 4
    converged(p)


@pytest.mark.slow  # waits out the timeout
def test_a_hanging_status_read_is_retried_after_the_timeout(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path, options=TIMEOUT)
    p.inject(path=f"{IMPORT}/", method="GET", kind="hang", seconds=HANG)
    apply(p)
    assert p.faults_pending() == 0  # the first status read met the hang
    log = p.requests()
    accepted = next(r for r in log if (r["method"], r["path"]) == ("POST", IMPORT))
    reads = [r for r in log if (r["method"], r["path"]) == ("GET", f"{IMPORT}/1")]
    # The hung read is never logged (its answer never came): the job's four steps were all
    # read afterwards, the first of them only once the hung read had waited out the timeout.
    assert [r["status"] for r in reads] == [200] * 4
    assert reads[0]["time"] - accepted["time"] >= TIMEOUT_SECONDS
    converged(p)


@pytest.mark.slow  # waits out the timeout
def test_an_import_hanging_before_the_vendor_acts_is_unsent_then_sent_once(
    tmp_path: Path,
) -> None:
    p = ONGAGE.project(tmp_path, options=TIMEOUT)
    p.inject(path=IMPORT, method="POST", kind="hang", seconds=HANG)
    out = apply(p, 1)
    assert (
        "Error: ongage POST /1001/api/import: timed out after sending (ReadTimeout); the vendor "
        "may have accepted it\n"
    ) in out
    assert [j.status for j in p.state().jobs] == ["unsent"]
    apply(p)
    converged(p)


@pytest.mark.parametrize("kind", [pytest.param("hang", marks=pytest.mark.slow), "status"])
def test_an_import_accepted_whose_answer_is_lost_is_adopted(tmp_path: Path, kind: str) -> None:
    p = ONGAGE.project(tmp_path, options=TIMEOUT)
    p.inject(path=IMPORT, method="POST", kind=kind, status=504, seconds=HANG, after=True)
    apply(p)
    complaint = p.state().jobs[0]
    assert (complaint.action, complaint.status, complaint.vendor_job_id) == (
        "complaint",
        "succeeded",
        "1",
    )
    converged(p)
