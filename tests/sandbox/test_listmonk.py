"""The listmonk emulator: import lifecycle and validations, subscriptions, bounces, paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import EmbeddedSandbox

PARAMS = '{"mode": "subscribe", "delim": ",", "lists": [3], "subscription_status": "confirmed"}'


@pytest.fixture(scope="module")
def running() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def lm(running: EmbeddedSandbox) -> Iterator[httpx.Client]:
    running.app.reset()
    running.app.seed(
        {
            "listmonk": {
                "lists": {
                    "3": {
                        "name": "news",
                        "contacts": [
                            {
                                "email": "ann@example.com",
                                "status": "active",
                                "fields": {"name": "Ann"},
                            },
                            {
                                "email": "bob@example.com",
                                "status": "unsubscribed",
                                "fields": {"name": "Bob"},
                            },
                        ],
                    },
                    "4": {"name": "other"},
                }
            }
        }
    )
    with httpx.Client(
        base_url=f"{running.base_url}/listmonk", auth=("api", "token"), timeout=30
    ) as client:
        yield client


def dump(running: EmbeddedSandbox, list_id: str = "3") -> dict[str, str]:
    rows = running.app.state()["vendors"]["listmonk"]["lists"][list_id]
    return {r["email"]: r["status"] for r in rows}


def import_file(client: httpx.Client, text: str, params: str = PARAMS) -> httpx.Response:
    return client.post(
        "/api/import/subscribers",
        data={"params": params},
        files={"file": ("subs.csv", text.encode())},
    )


def test_import_lifecycle_and_membership(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    created = import_file(
        lm,
        'email,name,attributes\nnew@example.com,New,"{""city"": ""X""}"\nbob@example.com,Bob,{}\n',
    )
    assert created.json()["data"] == {
        "name": "subs.csv",
        "total": 2,
        "imported": 0,
        "status": "importing",
    }
    seen = [lm.get("/api/import/subscribers").json()["data"]["status"] for _ in range(3)]
    assert seen == ["importing", "finished", "finished"]
    assert lm.get("/api/import/subscribers").json()["data"]["imported"] == 2
    # bob stays unsubscribed: importing never re-subscribes an existing subscription.
    assert dump(running) == {
        "ann@example.com": "active",
        "bob@example.com": "unsubscribed",
        "new@example.com": "active",
    }
    logs = lm.get("/api/import/subscribers/logs").json()["data"]
    assert "processing 'subs.csv'" in logs and "imported finished" in logs


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"mode": "sub", "delim": ","}', "Invalid mode: expected subscribe or blocklist"),
        (
            '{"mode": "subscribe", "delim": ",,", "lists": [3]}',
            "Invalid delimiter: expected a single character",
        ),
        (
            '{"mode": "subscribe", "delim": ","}',
            "Invalid lists: at least one list is needed in subscribe mode",
        ),
        ("not json", "Invalid params: not JSON"),
    ],
)
def test_import_validations(lm: httpx.Client, params: str, message: str) -> None:
    response = import_file(lm, "email\nx@example.com\n", params)
    assert (response.status_code, response.json()) == (400, {"message": message})


def test_blocklist_mode_unsubscribes_everywhere(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    import_file(lm, "email\nann@example.com\n", '{"mode": "blocklist", "delim": ","}')
    for _ in range(2):
        lm.get("/api/import/subscribers")
    assert dump(running)["ann@example.com"] == "unsubscribed"
    subscriber = lm.get("/api/subscribers", params={"list_id": 3, "per_page": "all"}).json()
    ann = next(r for r in subscriber["data"]["results"] if r["email"] == "ann@example.com")
    assert ann["status"] == "blocklisted"
    assert ann["lists"] == [{"id": 3, "name": "news", "subscription_status": "unsubscribed"}]


def test_subscription_actions(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    ids = {
        r["email"]: r["id"]
        for r in lm.get("/api/subscribers", params={"per_page": "all"}).json()["data"]["results"]
    }
    body: dict[str, Any] = {
        "ids": [ids["bob@example.com"]],
        "action": "add",
        "target_list_ids": [3],
        "status": "confirmed",
    }
    assert lm.put("/api/subscribers/lists", json=body).json() == {"data": True}
    assert dump(running)["bob@example.com"] == "active"
    lm.put("/api/subscribers/lists", json={**body, "action": "unsubscribe"})
    assert dump(running)["bob@example.com"] == "unsubscribed"
    lm.put("/api/subscribers/lists", json={**body, "action": "remove"})
    assert "bob@example.com" not in dump(running)
    bad = lm.put("/api/subscribers/lists", json={**body, "action": "delete"})
    assert (bad.status_code, bad.json()) == (400, {"message": "invalid action"})


def test_bounce_webhook(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    assert lm.post(
        "/webhooks/bounce", json={"email": "ann@example.com", "type": "hard", "source": "api"}
    ).json() == {"data": True}
    assert dump(running)["ann@example.com"] == "bounced"
    missing = lm.post("/webhooks/bounce", json={"email": "x@example.com", "type": "hard"})
    assert missing.status_code == 400


def test_paging(lm: httpx.Client) -> None:
    page = lm.get("/api/subscribers", params={"per_page": 1, "page": 2}).json()["data"]
    assert (page["total"], page["per_page"], page["page"]) == (2, 1, 2)
    assert [r["email"] for r in page["results"]] == ["bob@example.com"]


def test_auth(running: EmbeddedSandbox) -> None:
    response = httpx.get(f"{running.base_url}/listmonk/api/lists")
    assert (response.status_code, response.json()) == (401, {"message": "invalid API credentials"})
