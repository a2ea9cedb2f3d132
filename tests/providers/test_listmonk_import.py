"""listmonk updates keep what reconciler does not manage. listmonk v6.2.0's import *replaces* a
present subscriber's name and attributes with the row's when it overwrites them
(``queries/subscribers.sql`` lines 122-123), so an update row carries the subscriber's present
attributes with the managed changes over them. Tests end at the vendor: the emulator's final
subscribers."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.batches import render_batch
from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange
from reconciler.providers.base import Batch, BatchFormat, JobRef, JobState, JobStatus
from reconciler.providers.listmonk import ListmonkProvider
from reconciler.providers.listmonk_import import Present, present_of, write_import_file
from reconciler.sandbox.server import EmbeddedSandbox
from tests.integration.project import Project

CREDS = Credentials(username="api", password="token")  # type: ignore[arg-type]
MANAGED = ["plan", "tier"]
LIST = ListConfig(provider="lm", list_id="3", managed_fields=MANAGED)
CY = {"name": "Cy Young", "plan": "free", "tier": "gold", "city": "Oslo"}
SEED = {
    "listmonk": {
        "lists": {
            "3": {
                "name": "news",
                "contacts": [
                    {"email": "cy@example.com", "fields": CY},
                    {
                        "email": "dan@example.com",
                        "fields": {"name": "Dan", "plan": "free", "visits": 3, "geo": {"c": "NO"}},
                    },
                    {"email": "eve@example.com", "fields": {"name": "Eve", "city": "Bergen"}},
                ],
            },
            "4": {"name": "other"},
        }
    }
}


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        running.app.seed(SEED)
        yield running


def client(sandbox: EmbeddedSandbox) -> httpx.Client:
    return httpx.Client(base_url=f"{sandbox.base_url}/listmonk", auth=("api", "token"))


def make(sandbox: EmbeddedSandbox, tmp_path: Path) -> ListmonkProvider:
    config = ProviderConfig(type="listmonk", credentials=CREDS)
    return ListmonkProvider("lm", config, base_url=f"{sandbox.base_url}/listmonk", workdir=tmp_path)


def update_batch(tmp_path: Path, rows: dict[str, dict[str, str]]) -> Batch:
    fmt = BatchFormat(field_columns={n: n for n in MANAGED})
    changes = [ListChange(ChangeKind.UPDATE, e, "test", f) for e, f in rows.items()]
    data = render_batch(changes, Action.UPDATE, fmt)
    path = tmp_path / "news-update-0001.csv"
    path.write_bytes(data)
    return Batch("news", "3", Action.UPDATE, 1, path, len(rows), hashlib.sha256(data).hexdigest())


def run(provider: ListmonkProvider, job: JobRef) -> JobStatus:
    for _ in range(20):
        status = provider.poll(LIST, job)
        if status.state is not JobState.PENDING:
            return status
    raise AssertionError("the job never ended")


def subscribers(sandbox: EmbeddedSandbox) -> dict[str, dict[str, Any]]:
    """Address → (name, attribs, lists) as listmonk's API shows them."""
    with client(sandbox) as api:
        found = api.get("/api/subscribers", params={"per_page": "all"}).json()["data"]["results"]
    return {
        r["email"]: {
            "name": r["name"],
            "attribs": r["attribs"],
            "lists": {s["id"]: s["subscription_status"] for s in r["lists"]},
        }
        for r in found
    }


def _ids(sandbox: EmbeddedSandbox) -> dict[str, int]:
    with client(sandbox) as api:
        found = api.get("/api/subscribers", params={"per_page": "all"}).json()["data"]["results"]
    return {r["email"]: r["id"] for r in found}


def test_the_emulator_replaces_attributes_as_listmonk_does(sandbox: EmbeddedSandbox) -> None:
    """What the provider used to send for an update (the managed changes alone) against listmonk's
    replace (queries/subscribers.sql line 123): every other attribute is lost, and the name with
    it. The fix below relies on this; an emulator that merged would hide the loss."""
    with client(sandbox) as api:
        api.post(
            "/api/import/subscribers",
            data={
                "params": json.dumps(
                    {"mode": "subscribe", "delim": ",", "lists": [3], "overwrite_userinfo": True}
                )
            },
            files={
                "file": (
                    "old.csv",
                    b'email,name,attributes\ncy@example.com,,"{""plan"": ""pro""}"\n',
                )
            },
        )
        for _ in range(2):
            api.get("/api/import/subscribers")
    cy = subscribers(sandbox)["cy@example.com"]
    assert (cy["name"], cy["attribs"]) == ("cy", {"plan": "pro"})


def test_an_update_sends_back_the_attributes_it_does_not_manage(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    batch = update_batch(
        tmp_path, {"cy@example.com": {"plan": "pro"}, "dan@example.com": {"tier": "silver"}}
    )
    assert run(provider, provider.submit(LIST, batch)).state is JobState.SUCCEEDED
    after = subscribers(sandbox)
    # tier is managed but unchanged: kept too (the managed changes alone would have lost it).
    assert after["cy@example.com"]["name"] == "Cy Young"
    assert after["cy@example.com"]["attribs"] == {"plan": "pro", "tier": "gold", "city": "Oslo"}
    # Attributes of any JSON type go back as they were.
    assert after["dan@example.com"]["name"] == "Dan"
    assert after["dan@example.com"]["attribs"] == {
        "plan": "free",
        "visits": 3,
        "geo": {"c": "NO"},
        "tier": "silver",
    }
    # A subscriber the batch does not hold is not touched.
    assert after["eve@example.com"]["attribs"] == {"city": "Bergen"}
    assert not list((tmp_path / "imports").iterdir())  # the upload file is gone


def test_an_update_of_a_subscriber_who_left_the_list_is_not_sent(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """Between the plan and the apply, dan was removed from the list: an import would subscribe
    him again (upsert-subscriber inserts the subscription, lines 127-134); his row is left out
    and counted as not found."""
    provider = make(sandbox, tmp_path)
    batch = update_batch(
        tmp_path, {"cy@example.com": {"plan": "pro"}, "dan@example.com": {"plan": "pro"}}
    )
    ids = _ids(sandbox)
    with client(sandbox) as api:
        api.put(
            "/api/subscribers/lists",
            json={"ids": [ids["dan@example.com"]], "action": "remove", "target_list_ids": [3]},
        )
    status = run(provider, provider.submit(LIST, batch))
    assert (status.state, status.counts) == (
        JobState.SUCCEEDED,
        {"total": 1, "imported": 1, "not_found": 1},
    )
    after = subscribers(sandbox)
    assert after["cy@example.com"]["attribs"]["plan"] == "pro"
    assert after["dan@example.com"]["lists"] == {}
    assert after["dan@example.com"]["attribs"]["plan"] == "free"


def test_an_update_whose_subscribers_all_left_sends_no_import(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    job = provider.submit(LIST, update_batch(tmp_path, {"zed@example.com": {"plan": "pro"}}))
    assert run(provider, job).counts == {"done": 0, "not_found": 1}
    assert "zed@example.com" not in subscribers(sandbox)
    posts = [r for r in sandbox.app.request_log() if r["method"] == "POST"]
    assert posts == []


def test_only_the_batchs_subscribers_are_kept_of_the_listing() -> None:
    listing = [
        {"email": f"s{i}@example.com", "name": f"S{i}", "attribs": {"n": i}} for i in range(1000)
    ]
    listing.append({"email": "Odd@Example.com", "name": "Odd", "attribs": None})
    present = present_of(listing, {"s7@example.com", "odd@example.com", "gone@example.com"})
    assert present == {
        "s7@example.com": Present("S7", {"n": 7}),
        "odd@example.com": Present("Odd", {}),
    }


def test_the_import_file_of_an_add_holds_the_managed_values_alone(tmp_path: Path) -> None:
    batch = tmp_path / "b.csv"
    batch.write_text("email,name,plan,tier\nann@example.com,Ann,pro,\nbo@example.com,,,\n")
    out = io.StringIO()
    written = write_import_file(batch, out, ["name", "plan", "tier"])
    assert (written.rows, written.missing) == (2, 0)
    assert out.getvalue() == (
        'email,name,attributes\nann@example.com,Ann,"{""plan"": ""pro""}"\nbo@example.com,,{}\n'
    )


# -- a whole plan and apply, through the command line -------------------------------------------
CONFIG = """\
providers:
  lm: {type: listmonk, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
lists:
  news:
    provider: lm
    list_id: 3
    managed_fields: [plan]
    members: [{csv: members.csv}]
"""
E2E_SEED = """\
listmonk:
  lists:
    "3":
      name: news
      contacts:
        - {email: cy@example.com, fields: {plan: free, city: Oslo}}
"""


def test_an_apply_changing_the_managed_plan_keeps_city(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("members.csv", "email,plan\ncy@example.com,pro\n")
    p.write("seed.yaml", E2E_SEED)
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    (cy,) = p.sandbox_state()["vendors"]["listmonk"]["lists"]["3"]
    attribs = {k: v for k, v in cy["fields"].items() if k != "name"}
    assert (cy["email"], cy["fields"]["name"], attribs) == (
        "cy@example.com",
        "cy",
        {"plan": "pro", "city": "Oslo"},
    )
    again = p.run("plan", "-c", "reconciler.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
