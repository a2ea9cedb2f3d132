"""The retry policy of every vendor request (``reconciler/providers/http.py``), against the
sandbox's injected faults, with the waits recorded instead of slept."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import closing

import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import AmbiguousSubmission, RetryPolicy, VendorHttp
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.server import EmbeddedSandbox

OG = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "a"}
IMPORTS = "/1001/api/import"
#: Thousands of times a normal answer of the sandbox (milliseconds): on a loaded machine only a
#: hung request times out, so a retry is never caused by a slow answer.
READ_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        yield running


@pytest.fixture
def waits() -> list[float]:
    return []


def client(sandbox: EmbeddedSandbox, waits: list[float]) -> VendorHttp:
    return VendorHttp(
        "ongage",
        f"{sandbox.base_url}/ongage",
        headers=OG,
        policy=RetryPolicy(read_timeout=READ_TIMEOUT),
        sleep=waits.append,
    )


@pytest.fixture
def http(sandbox: EmbeddedSandbox, waits: list[float]) -> Iterator[VendorHttp]:
    sandbox.app.reset()
    with closing(client(sandbox, waits)) as http:
        yield http


def fault(sandbox: EmbeddedSandbox, **spec: object) -> None:
    sandbox.app.faults.add(Fault(path=f"/ongage{IMPORTS}", **spec))  # type: ignore[arg-type]


def statuses(sandbox: EmbeddedSandbox) -> list[int]:
    return [r["status"] for r in sandbox.app.request_log()]


def test_retry_after_is_waited_as_given(
    sandbox: EmbeddedSandbox, http: VendorHttp, waits: list[float]
) -> None:
    fault(sandbox, kind="status", status=429, retry_after=2, count=3)
    assert http.request("GET", IMPORTS).status_code == 200
    assert (waits, statuses(sandbox)) == ([2.0, 2.0, 2.0], [429, 429, 429, 200])


def test_a_huge_retry_after_is_capped(
    sandbox: EmbeddedSandbox, http: VendorHttp, waits: list[float]
) -> None:
    fault(sandbox, kind="status", status=429, retry_after=86400)
    http.request("GET", IMPORTS)
    assert waits == [120.0]


class DrawRecorder(random.Random):
    """A seeded random source that records the range of every draw: the upper end of each is
    the un-jittered backoff, which the waits alone cannot show."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return super().uniform(a, b)


def test_without_retry_after_the_backoff_doubles_with_jitter(
    sandbox: EmbeddedSandbox, waits: list[float]
) -> None:
    # The exact jittered values of a seeded source are tests/unit/test_retry_policy.py's; here,
    # against the sandbox's 503s: the bound doubles from 0.5 s, and the waits are not it.
    sandbox.app.reset()
    fault(sandbox, kind="status", status=503, count=4)
    rng = DrawRecorder(20240601)
    policy = RetryPolicy(read_timeout=READ_TIMEOUT)
    url = f"{sandbox.base_url}/ongage"
    with closing(
        VendorHttp("ongage", url, headers=OG, policy=policy, sleep=waits.append, rng=rng)
    ) as http:
        assert http.request("GET", IMPORTS).status_code == 200
    bounds = [0.5, 1.0, 2.0, 4.0]
    assert rng.ranges == [(d / 2, d) for d in bounds]
    assert statuses(sandbox) == [503] * 4 + [200]
    assert len(waits) == 4
    assert all(d / 2 <= w <= d for w, d in zip(waits, bounds, strict=True))
    assert waits != bounds  # un-jittered, each wait would be its bound


def test_a_storm_longer_than_the_attempts_names_vendor_endpoint_and_status(
    sandbox: EmbeddedSandbox, http: VendorHttp, waits: list[float]
) -> None:
    fault(sandbox, kind="status", status=429, retry_after=1, count=50)
    with pytest.raises(ProviderError) as exc:
        http.request("GET", IMPORTS)
    assert str(exc.value) == "ongage GET /1001/api/import: answered 429: injected 429"
    assert (len(waits), statuses(sandbox)) == (5, [429] * 6)


@pytest.mark.parametrize("status", [429, 503])
def test_a_job_creating_request_is_retried_when_the_vendor_certainly_did_not_act(
    sandbox: EmbeddedSandbox, http: VendorHttp, status: int
) -> None:
    fault(sandbox, kind="status", status=status, count=2)
    http.request("POST", IMPORTS, idempotent=False, json={"file_url": "https://x.example.com/a"})
    assert statuses(sandbox) == [status, status, 200]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_job_creating_request_is_never_retried_after_an_ambiguous_answer(
    sandbox: EmbeddedSandbox, http: VendorHttp, status: int
) -> None:
    fault(sandbox, kind="status", status=status)
    with pytest.raises(AmbiguousSubmission) as exc:
        http.request("POST", IMPORTS, idempotent=False, json={})
    assert str(exc.value) == (
        f"ongage POST /1001/api/import: answered {status} after sending: injected {status}"
    )
    assert statuses(sandbox) == [status]


@pytest.mark.slow  # waits out the timeout twice
def test_a_timeout_is_retried_for_a_read_and_ambiguous_for_a_job(waits: list[float]) -> None:
    # A sandbox of its own: its hangs, which last far past the timeout (capped at 120 s), end
    # when it stops at the end of this test, unlogged, instead of in another test's log.
    with EmbeddedSandbox() as own, closing(client(own, waits)) as http:
        fault(own, kind="hang", seconds=3600)
        assert http.request("GET", IMPORTS).status_code == 200
        fault(own, kind="hang", seconds=3600, method="POST")
        with pytest.raises(AmbiguousSubmission) as exc:
            http.request("POST", IMPORTS, idempotent=False, json={})
        # Both hangs met their request; the hung GET was retried once, the POST never.
        assert (own.app.db.query("SELECT id FROM faults"), len(waits)) == ([], 1)
        assert statuses(own) == [200]  # the retried GET; the hung requests never answered
    assert str(exc.value) == (
        "ongage POST /1001/api/import: timed out after sending (ReadTimeout); the vendor may "
        "have accepted it"
    )


def test_no_listener_is_retried_then_named(waits: list[float]) -> None:
    # Bound and never listening, for the whole test: every connection is refused (Linux), and
    # no other process can take the port meanwhile.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        unheard = VendorHttp("ongage", f"http://127.0.0.1:{port}", sleep=waits.append)
        with closing(unheard), pytest.raises(ProviderError) as exc:
            unheard.request("POST", IMPORTS, idempotent=False)  # nothing sent: safe to retry
    assert str(exc.value).startswith("ongage POST /1001/api/import: cannot connect: ")
    assert len(waits) == 5
