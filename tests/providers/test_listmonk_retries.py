"""listmonk's ``PUT /api/subscribers/lists`` (removals, unsubscribes, re-subscribes) against the
sandbox over loopback: a PUT is idempotent, so a 5xx is retried, whether or not listmonk acted
before answering it, and the batch succeeds with the list as asked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply.batches import render_batch
from reconciler.config.schema import ListConfig
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange
from reconciler.providers.base import Batch, JobState
from reconciler.providers.listmonk import ListmonkProvider
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.server import EmbeddedSandbox
from tests.providers.test_listmonk import make

PUT = "/listmonk/api/subscribers/lists"
LIST = ListConfig(provider="lm", list_id="3", managed_fields=["first_name"])


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        running.app.seed(
            {
                "listmonk": {
                    "lists": {
                        "3": {
                            "name": "news",
                            "contacts": [
                                {"email": "ann@example.com", "status": "active"},
                                {"email": "bob@example.com", "status": "active"},
                            ],
                        }
                    }
                }
            }
        )
        yield running


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def provider(
    sandbox: EmbeddedSandbox, tmp_path: Path, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ListmonkProvider]:
    made = make(sandbox, tmp_path)
    # The backoff is recorded instead of slept: the test counts retries, never waits on them.
    monkeypatch.setattr(made.http, "_sleep", waits.append)
    try:
        yield made
    finally:
        made.close()


def batch_of(provider: ListmonkProvider, tmp_path: Path, action: Action, email: str) -> Batch:
    fmt = provider.batch_format(LIST, action)
    data = render_batch([ListChange(ChangeKind(action.value), email, "test", {})], action, fmt)
    path = tmp_path / f"news-{action.value}-0001.csv"
    path.write_bytes(data)
    return Batch("news", "3", action, 1, path, 1, hashlib.sha256(data).hexdigest())


def contacts(sandbox: EmbeddedSandbox) -> dict[str, str]:
    state = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
    return {r["email"]: r["status"] for r in state["vendors"]["listmonk"]["lists"]["3"]}


def put_statuses(sandbox: EmbeddedSandbox) -> list[int]:
    return [
        r["status"] for r in sandbox.app.request_log() if (r["method"], r["path"]) == ("PUT", PUT)
    ]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_on_a_removal_is_retried_and_the_removal_succeeds(
    sandbox: EmbeddedSandbox,
    provider: ListmonkProvider,
    tmp_path: Path,
    waits: list[float],
    status: int,
) -> None:
    sandbox.app.faults.add(Fault(path=PUT, method="PUT", kind="status", status=status))
    batch = batch_of(provider, tmp_path, Action.REMOVE, "ann@example.com")
    job = provider.submit(LIST, batch)
    result = provider.poll(LIST, job)
    assert (result.state, dict(result.counts)) == (JobState.SUCCEEDED, {"done": 1, "not_found": 0})
    assert put_statuses(sandbox) == [status, 200]
    assert len(waits) == 1
    assert contacts(sandbox) == {"bob@example.com": "active"}


def test_a_502_after_listmonk_unsubscribed_is_retried_and_changes_nothing_more(
    sandbox: EmbeddedSandbox, provider: ListmonkProvider, tmp_path: Path, waits: list[float]
) -> None:
    # listmonk acted, then the answer was lost: sending the same PUT again is harmless.
    sandbox.app.faults.add(Fault(path=PUT, method="PUT", kind="status", status=502, after=True))
    batch = batch_of(provider, tmp_path, Action.UNSUBSCRIBE, "bob@example.com")
    job = provider.submit(LIST, batch)
    assert provider.poll(LIST, job).state is JobState.SUCCEEDED
    assert put_statuses(sandbox) == [200, 200]  # logged with listmonk's own answer
    assert len(waits) == 1
    assert contacts(sandbox) == {"ann@example.com": "active", "bob@example.com": "unsubscribed"}
