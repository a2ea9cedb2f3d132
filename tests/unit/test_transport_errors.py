"""A connection that breaks after the request went out (``VendorHttp``): a read is retried with
the same policy as a 5xx answer; a job-creating request is ambiguous, since the vendor may have
acted, and is never retried blindly nor taken for a rejection."""

from __future__ import annotations

import random

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import AmbiguousSubmission, RetryPolicy, VendorHttp

BROKEN = [
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.ReadError("[Errno 104] Connection reset by peer"),
    httpx.WriteError("[Errno 32] Broken pipe"),
]
IDS = ["disconnected", "reset", "write"]


class Flaky:
    """Breaks the connection of the first ``breaks`` requests, then answers 200."""

    def __init__(self, error: Exception, breaks: int) -> None:
        self.error, self.breaks, self.seen = error, breaks, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.seen <= self.breaks:
            raise self.error
        return httpx.Response(200, json={"ok": True})


def client(vendor: Flaky, waits: list[float]) -> VendorHttp:
    return VendorHttp(
        "ongage",
        "https://api.example.com",
        policy=RetryPolicy(),
        sleep=waits.append,
        rng=random.Random(7),
        transport=httpx.MockTransport(vendor),
    )


@pytest.mark.parametrize("error", BROKEN, ids=IDS)
def test_a_read_whose_connection_broke_is_retried(error: Exception) -> None:
    vendor, waits = Flaky(error, breaks=2), []
    response = client(vendor, waits).request("GET", "/1001/api/import/7")
    assert (response.json(), vendor.seen, len(waits)) == ({"ok": True}, 3, 2)


@pytest.mark.parametrize("error", BROKEN, ids=IDS)
def test_a_read_that_breaks_every_time_names_the_break(error: Exception) -> None:
    vendor, waits = Flaky(error, breaks=99), []
    with pytest.raises(ProviderError) as caught:
        client(vendor, waits).request("GET", "/1001/api/import/7")
    assert type(caught.value) is ProviderError
    assert str(caught.value) == (
        f"ongage GET /1001/api/import/7: the connection broke ({type(error).__name__}: {error})"
    )
    assert (vendor.seen, len(waits)) == (6, 5)
    assert caught.value.__cause__ is error  # kept for whoever debugs it


@pytest.mark.parametrize("error", BROKEN, ids=IDS)
def test_a_job_creating_request_whose_connection_broke_is_ambiguous(error: Exception) -> None:
    vendor, waits = Flaky(error, breaks=1), []
    with pytest.raises(AmbiguousSubmission) as caught:
        client(vendor, waits).request("POST", "/1001/api/import", idempotent=False, json={})
    assert str(caught.value) == (
        f"ongage POST /1001/api/import: the connection broke ({type(error).__name__}: {error}) "
        "after sending; the vendor may have accepted it"
    )
    assert (vendor.seen, waits) == (1, [])  # asked once: apply looks it up, never resends


def test_a_refused_connection_is_still_retried_for_a_job_creating_request() -> None:
    # Nothing was sent: retrying cannot make a second job.
    vendor, waits = Flaky(httpx.ConnectError("[Errno 111] Connection refused"), breaks=2), []
    response = client(vendor, waits).request("POST", "/1001/api/import", idempotent=False)
    assert (response.status_code, vendor.seen, len(waits)) == (200, 3, 2)
