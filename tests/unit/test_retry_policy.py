"""The retry policy of ``VendorHttp`` (``reconciler/providers/http.py``) on a mock transport:
what a storm that outlasts the attempts becomes, which methods count as idempotent, and the
backoff's jitter, with the random source and the sleeps injected so every delay is known."""

from __future__ import annotations

import random

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import AmbiguousSubmission, RetryPolicy, VendorHttp

#: The un-jittered backoff of attempts 1..5 under the default policy (0.5 s, doubling).
UNJITTERED = [0.5, 1.0, 2.0, 4.0, 8.0]


class Vendor:
    """A mock vendor answering each request with the next status of ``statuses`` (the last one
    repeated), recording every request it sees."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status, json={"error": f"mock {status}"})


def client(vendor: Vendor, waits: list[float], rng: random.Random | None = None) -> VendorHttp:
    return VendorHttp(
        "ongage",
        "https://api.example.com",
        policy=RetryPolicy(),
        sleep=waits.append,
        rng=rng,
        transport=httpx.MockTransport(vendor),
    )


@pytest.mark.parametrize("status", [429, 503])
def test_an_exhausted_storm_on_a_job_creating_request_is_a_plain_provider_error(
    status: int,
) -> None:
    # 429 and 503 mean the vendor did not act: once the attempts are spent the batch was
    # certainly never received, so apply must not go looking for a job (AmbiguousSubmission).
    vendor = Vendor(status)
    waits: list[float] = []
    http = client(vendor, waits)
    with pytest.raises(ProviderError) as exc:
        http.request("POST", "/1001/api/import", idempotent=False, json={})
    assert type(exc.value) is ProviderError
    assert not isinstance(exc.value, AmbiguousSubmission)
    assert str(exc.value) == f"ongage POST /1001/api/import: answered {status}: mock {status}"
    assert exc.value.status_code == status
    assert vendor.seen == ["POST /1001/api/import"] * 6
    assert len(waits) == 5


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("status", [500, 502, 504])
def test_put_and_delete_are_idempotent_by_default_and_retried_after_any_5xx(
    method: str, status: int
) -> None:
    vendor = Vendor(status, 200)
    waits: list[float] = []
    response = client(vendor, waits).request(method, "/api/subscribers/lists")
    assert response.status_code == 200
    assert vendor.seen == [f"{method} /api/subscribers/lists"] * 2
    assert len(waits) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_post_is_not_idempotent_by_default_and_a_5xx_is_ambiguous(status: int) -> None:
    # The other side of the default: only PUT/DELETE/GET/HEAD are retried after a 5xx.
    vendor = Vendor(status, 200)
    with pytest.raises(AmbiguousSubmission):
        client(vendor, []).request("POST", "/api/import/subscribers")
    assert vendor.seen == ["POST /api/import/subscribers"]


def test_the_backoff_is_jittered_from_the_injected_random_source() -> None:
    vendor = Vendor(503, 503, 503, 503, 503, 200)
    waits: list[float] = []
    client(vendor, waits, random.Random(20240601)).request("GET", "/1001/api/import")
    # Each delay is uniform in [half, whole] of the doubling backoff, drawn from the source:
    # a second source with the same seed draws the very same values.
    twin = random.Random(20240601)
    assert waits == [twin.uniform(d / 2, d) for d in UNJITTERED]
    assert waits == pytest.approx([0.2795, 0.7101, 1.7850, 3.1682, 7.4122], abs=5e-5)
    assert all(d / 2 <= w < d for w, d in zip(waits, UNJITTERED, strict=True))
    assert all(w != d for w, d in zip(waits, UNJITTERED, strict=True))


def test_two_seeds_give_two_different_backoffs() -> None:
    # Jitter exists to spread retries of many clients: different sources, different delays.
    delays = []
    for seed in (1, 2):
        waits: list[float] = []
        client(Vendor(503, 503, 200), waits, random.Random(seed)).request("GET", "/x")
        delays.append(waits)
    assert delays[0] != delays[1]
    assert all(len(d) == 2 for d in delays)


def test_without_an_injected_source_the_module_source_jitters() -> None:
    # Every existing caller constructs VendorHttp without an rng: it must still jitter.
    import reconciler.providers.http as http_module

    state = http_module._RNG.getstate()
    try:
        http_module._RNG.seed(7)
        waits: list[float] = []
        client(Vendor(503, 200), waits).request("GET", "/x")
        assert waits == [random.Random(7).uniform(0.25, 0.5)]
    finally:
        http_module._RNG.setstate(state)
