"""The listmonk provider against an emulator with real listmonk's defaults (v6.2.0): every request
it sends is one the document allows or one listmonk has (specs/vendors/listmonk.md's table), the
bounce webhook only when asked for, and one import at a time, someone else's waited for.

Tests end at the vendor: the sandbox's request log and its final list contents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.batches import render_batch
from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus
from reconciler.providers.listmonk import ListmonkProvider, import_name
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.server import EmbeddedSandbox
from tests.integration.project import Project

CREDS = Credentials(username="api", password="token")  # type: ignore[arg-type]
LIST = ListConfig(provider="lm", list_id="3", managed_fields=["first_name"])
IMPORT = "/listmonk/api/import/subscribers"
SEED = {
    "listmonk": {
        "lists": {
            "3": {
                "name": "news",
                "contacts": [
                    {"email": "bob@example.com", "fields": {"name": "Bob", "first_name": "Rob"}},
                    {"email": "eve@example.com", "fields": {"name": "Eve"}},
                ],
            }
        }
    }
}


class FakeClock:
    """The provider's clock and sleep: a wait advances it, nothing really sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        running.app.seed(SEED)
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock, **options: Any
) -> ListmonkProvider:
    config = ProviderConfig(type="listmonk", credentials=CREDS, options=options)
    provider = ListmonkProvider(
        "lm", config, base_url=f"{sandbox.base_url}/listmonk", workdir=tmp_path
    )
    provider._sleep = clock.sleep
    provider._clock = clock.clock
    # HTTP retries (a 503) are recorded, not slept, as the provider's own waits.
    provider.http._sleep = clock.sleep
    return provider


def batch_of(
    tmp_path: Path, action: Action, rows: list[tuple[str, str | None]], index: int = 1
) -> Batch:
    from reconciler.providers.base import BatchFormat

    fmt = BatchFormat(field_columns={"first_name": "first_name"})
    changes = [
        ListChange(ChangeKind(action.value), email, "test", {"first_name": v} if v else {})
        for email, v in rows
    ]
    data = render_batch(changes, action, fmt)
    path = tmp_path / f"news-{action.value}-{index:04d}.csv"
    path.write_bytes(data)
    return Batch("news", "3", action, index, path, len(rows), hashlib.sha256(data).hexdigest())


def run(provider: ListmonkProvider, job: JobRef) -> JobStatus:
    for _ in range(20):
        status = provider.poll(LIST, job)
        if status.state is not JobState.PENDING:
            return status
    raise AssertionError("the job never ended")


def log(sandbox: EmbeddedSandbox) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in sandbox.app.request_log()]


def contents(sandbox: EmbeddedSandbox) -> dict[str, tuple[str, str]]:
    rows = sandbox.app.state()["vendors"]["listmonk"]["lists"]["3"]
    return {r["email"]: (r["status"], r["vendor_status"]) for r in rows}


def foreign_import(sandbox: EmbeddedSandbox, name: str, csv: bytes) -> None:
    """An import someone else started at listmonk (its admin, another tool)."""
    with httpx.Client(base_url=f"{sandbox.base_url}/listmonk", auth=("api", "token")) as client:
        answer = client.post(
            "/api/import/subscribers",
            data={"params": json.dumps({"mode": "subscribe", "delim": ",", "lists": [3]})},
            files={"file": (name, csv)},
        )
    assert answer.status_code == 200, answer.text


def test_a_foreign_import_is_waited_for_then_the_batch_is_sent(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    foreign_import(sandbox, "other.csv", b"email\nzed@example.com\n")
    provider = make(sandbox, tmp_path, clock)
    job = provider.submit(LIST, batch_of(tmp_path, Action.ADD, [("ann@example.com", "Ann")]))
    assert run(provider, job).state is JobState.SUCCEEDED
    assert clock.sleeps == [1.0]
    # One import at a time: ours was posted only after listmonk said the other had finished
    # (its second status read), and listmonk never refused one.
    assert log(sandbox) == [
        ("POST", IMPORT, 200),  # someone else's
        ("GET", IMPORT, 200),  # importing: wait 1 s
        ("GET", IMPORT, 200),  # finished
        ("POST", IMPORT, 200),  # ours
        ("GET", IMPORT, 200),
        ("GET", IMPORT, 200),
    ]
    assert contents(sandbox) == {
        "ann@example.com": ("active", "enabled/confirmed"),
        "bob@example.com": ("active", "enabled/confirmed"),
        "eve@example.com": ("active", "enabled/confirmed"),
        "zed@example.com": ("active", "enabled/unconfirmed"),
    }


def test_a_foreign_import_that_never_ends_fails_after_the_limit(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    foreign_import(sandbox, "other.csv", b"email\nzed@example.com\n")
    sandbox.app.faults.add(Fault(path=IMPORT, method="GET", kind="hold"))  # it never advances
    provider = make(sandbox, tmp_path, clock, import_wait_seconds=10)
    message = (
        "listmonk GET /api/import/subscribers: another import is running at listmonk "
        "('other.csv', importing, 0 of 1 rows) and did not end within import_wait_seconds "
        "(10 s): wait for it or stop it (DELETE /api/import/subscribers), or raise the provider "
        "option import_wait_seconds"
    )
    with pytest.raises(ProviderError) as first:
        provider.submit(LIST, batch_of(tmp_path, Action.ADD, [("ann@example.com", "Ann")]))
    assert str(first.value) == message
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]  # backoff, the last pause up to the limit
    # The next batch does not wait the whole limit again for the same import.
    with pytest.raises(ProviderError) as second:
        provider.submit(LIST, batch_of(tmp_path, Action.UPDATE, [("bob@example.com", "Bob")]))
    assert str(second.value) == message
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]
    assert log(sandbox) == [("POST", IMPORT, 200)] + [("GET", IMPORT, 200)] * 6
    assert "ann@example.com" not in contents(sandbox)


def test_our_own_running_import_is_adopted_not_reported_as_another(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    batch = batch_of(tmp_path, Action.ADD, [("ann@example.com", "Ann")])
    # The same batch sent before: an answer lost on the way back, or a crashed run's.
    foreign_import(sandbox, import_name(batch), b"email\nann@example.com\n")
    provider = make(sandbox, tmp_path, clock)
    job = provider.submit(LIST, batch)
    name = import_name(batch)
    assert job == JobRef(f"import:{name}", {"name": name, "rows": 1})
    status = run(provider, job)
    assert (status.state, status.vendor_status, status.message) == (
        JobState.SUCCEEDED,
        "finished",
        "",
    )
    assert clock.sleeps == []
    # Its POST only: the provider's look (importing, ours) and its poll (finished).
    assert log(sandbox) == [("POST", IMPORT, 200)] + [("GET", IMPORT, 200)] * 2
    assert contents(sandbox)["ann@example.com"] == ("active", "enabled/unconfirmed")


def test_an_import_started_between_the_look_and_the_post_is_waited_for(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    # listmonk's own refusal (cmd/import.go lines 19-22), as if another import had just begun.
    refusal = json.dumps(
        {
            "message": "An import is already running. Wait for it to finish or stop it "
            "before trying again."
        }
    )
    sandbox.app.faults.add(
        Fault(path=IMPORT, method="POST", kind="status", status=400, body=refusal)
    )
    provider = make(sandbox, tmp_path, clock)
    job = provider.submit(LIST, batch_of(tmp_path, Action.ADD, [("ann@example.com", "Ann")]))
    assert run(provider, job).state is JobState.SUCCEEDED
    assert log(sandbox)[:4] == [
        ("GET", IMPORT, 200),
        ("POST", IMPORT, 400),
        ("GET", IMPORT, 200),
        ("POST", IMPORT, 200),
    ]


def imports_sent(sandbox: EmbeddedSandbox) -> list[dict[str, Any]]:
    return [
        json.loads(json.loads(r["body"])["params"])
        for r in sandbox.app.request_log()
        if (r["method"], r["path"], r["status"]) == ("POST", IMPORT, 200)
    ]


def test_bounces_and_complaints_are_blocklist_imports_by_default(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    provider = make(sandbox, tmp_path, clock)
    for action, email in (
        (Action.BOUNCE, "bob@example.com"),
        (Action.COMPLAINT, "eve@example.com"),
    ):
        job = provider.submit(LIST, batch_of(tmp_path, action, [(email, None)]))
        assert job.vendor_job_id.startswith(f"import:news-{action.value}-0001-")
        assert run(provider, job).state is JobState.SUCCEEDED
    # Each param the document's: mode, delim, lists, overwrite.
    blocklist = {"mode": "blocklist", "delim": ",", "lists": [3], "overwrite": False}
    assert imports_sent(sandbox) == [blocklist, blocklist]
    assert contents(sandbox) == {
        "bob@example.com": ("unsubscribed", "blocklisted/unsubscribed"),
        "eve@example.com": ("unsubscribed", "blocklisted/unsubscribed"),
    }
    assert not [p for _, p, _ in log(sandbox) if p.startswith("/listmonk/webhooks/")]


def webhook_bounce(sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock) -> ProviderError:
    provider = make(sandbox, tmp_path, clock, bounce_via="webhook")
    with pytest.raises(ProviderError) as failed:
        provider.submit(LIST, batch_of(tmp_path, Action.BOUNCE, [("bob@example.com", None)]))
    return failed.value


def test_the_webhook_option_on_a_listmonk_without_bounce_webhooks(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    error = webhook_bounce(sandbox, tmp_path, clock)
    assert (str(error), error.status_code) == (
        "listmonk POST /webhooks/bounce: answered 404: listmonk serves the bounce webhook only "
        "when bounce.webhooks_enabled is on (Settings → Bounces → Enable bounce webhooks, then "
        "restart listmonk), and also needs bounce.enabled; or drop the provider option "
        "bounce_via: webhook to send bounces and complaints as a blocklist import",
        404,
    )
    assert log(sandbox) == [("POST", "/listmonk/webhooks/bounce", 404)]
    assert clock.sleeps == []


def test_the_webhook_option_with_webhooks_on_and_bounce_processing_off(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    sandbox.app.seed({"listmonk": {"settings": {"bounce.webhooks_enabled": True}}})
    error = webhook_bounce(sandbox, tmp_path, clock)
    assert (str(error), error.status_code) == (
        "listmonk POST /webhooks/bounce: answered 503: listmonk's bounce webhooks are on but "
        "bounce processing is off (bounce.enabled: Settings → Bounces → Enable bounce "
        "processing, then restart listmonk); or drop the provider option bounce_via: webhook "
        "to send bounces and complaints as a blocklist import",
        503,
    )
    # A 503 is retried first (it may be passing), then explained.
    assert log(sandbox) == [("POST", "/listmonk/webhooks/bounce", 503)] * 6
    assert contents(sandbox)["bob@example.com"] == ("active", "enabled/confirmed")


def test_the_webhook_option_with_bounces_enabled(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    settings = {"bounce.webhooks_enabled": True, "bounce.enabled": True}
    sandbox.app.seed({"listmonk": {"settings": settings}})
    provider = make(sandbox, tmp_path, clock, bounce_via="webhook")
    for action, email in (
        (Action.BOUNCE, "bob@example.com"),
        (Action.COMPLAINT, "eve@example.com"),
    ):
        job = provider.submit(LIST, batch_of(tmp_path, action, [(email, None)]))
        status = run(provider, job)
        assert (status.state, dict(status.counts)) == (
            JobState.SUCCEEDED,
            {"done": 1, "not_found": 0},
        )
    # listmonk's default bounce.actions: hard 1 and complaint 1 blocklist the subscriber; the
    # bounce is recorded, the subscription itself left as it was.
    assert contents(sandbox) == {
        "bob@example.com": ("bounced", "blocklisted/confirmed"),
        "eve@example.com": ("complaint", "blocklisted/confirmed"),
    }
    assert log(sandbox) == [("POST", "/listmonk/webhooks/bounce", 200)] * 2


def test_an_update_overwrites_name_and_attributes_never_a_subscription_status(
    sandbox: EmbeddedSandbox, tmp_path: Path, clock: FakeClock
) -> None:
    sandbox.app.seed(
        {
            "listmonk": {
                "lists": {
                    "3": {"contacts": [{"email": "kim@example.com", "status": "unsubscribed"}]}
                }
            }
        }
    )
    provider = make(sandbox, tmp_path, clock)
    job = provider.submit(
        LIST,
        batch_of(tmp_path, Action.UPDATE, [("bob@example.com", "Bob"), ("kim@example.com", "K")]),
    )
    assert run(provider, job).state is JobState.SUCCEEDED
    # The document's overwrite would overwrite the subscriptions too (kim re-subscribed).
    assert imports_sent(sandbox) == [
        {
            "mode": "subscribe",
            "delim": ",",
            "lists": [3],
            "subscription_status": "confirmed",
            "overwrite": False,
            "overwrite_userinfo": True,
        }
    ]
    assert contents(sandbox)["kim@example.com"] == ("unsubscribed", "enabled/unsubscribed")
    rows = sandbox.app.state()["vendors"]["listmonk"]["lists"]["3"]
    assert {r["email"]: r["fields"].get("first_name") for r in rows} == {
        "bob@example.com": "Bob",
        "eve@example.com": None,
        "kim@example.com": "K",
    }


# -- a whole apply, through the command line, against listmonk's defaults ---------------------
CONFIG = """\
providers:
  lm: {type: listmonk, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
lists:
  news:
    provider: lm
    list_id: 3
    managed_fields: [first_name]
    members: [{csv: members.csv}]
suppressions:
  - inline:
      - {email: dan@example.com, reason: unsubscribe}
      - {email: eve@example.com, reason: bounce}
      - {email: fay@example.com, reason: complaint}
"""
MEMBERS = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\ncy@example.com,Cy\n"
E2E_SEED = """\
listmonk:
  lists:
    "3":
      name: news
      contacts:
        - {email: bob@example.com, fields: {name: Bob, first_name: Robert}}
        - {email: cy@example.com, fields: {name: Cy, first_name: Cy}}
        - {email: dan@example.com, fields: {name: Dan}}
        - {email: eve@example.com, fields: {name: Eve}}
        - {email: fay@example.com, fields: {name: Fay}}
        - {email: hal@example.com, fields: {name: Hal}}
"""


def test_an_apply_of_every_action_against_listmonks_defaults(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("members.csv", MEMBERS)
    p.write("seed.yaml", E2E_SEED)
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert {
        r["email"]: (r["status"], r["vendor_status"], r["fields"].get("first_name"))
        for r in p.sandbox_state()["vendors"]["listmonk"]["lists"]["3"]
    } == {
        "ann@example.com": ("active", "enabled/confirmed", "Ann"),
        "bob@example.com": ("active", "enabled/confirmed", "Bob"),
        "cy@example.com": ("active", "enabled/confirmed", "Cy"),
        "dan@example.com": ("unsubscribed", "enabled/unsubscribed", None),
        # The bounce and the complaint: blocklisted, unsubscribed from every list.
        "eve@example.com": ("unsubscribed", "blocklisted/unsubscribed", None),
        "fay@example.com": ("unsubscribed", "blocklisted/unsubscribed", None),
    }
    changes = [
        (r["method"], r["path"].removeprefix("/listmonk"), r["status"])
        for r in p.sandbox_requests()
        if r["method"] != "GET"
    ]
    assert changes == [
        ("POST", "/api/import/subscribers", 200),  # complaint: blocklist import
        ("POST", "/api/import/subscribers", 200),  # bounce: blocklist import
        ("PUT", "/api/subscribers/lists", 200),  # unsubscribe dan
        ("PUT", "/api/subscribers/lists", 200),  # remove hal
        ("POST", "/api/import/subscribers", 200),  # add ann
        ("POST", "/api/import/subscribers", 200),  # update bob
    ]
    again = p.run("plan", "-c", "reconciler.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
