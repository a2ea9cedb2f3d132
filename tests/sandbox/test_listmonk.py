"""The listmonk emulator: import lifecycle and validations, subscriptions, bounces (with a fresh
listmonk's settings, and a seed's), paging; and that it imports nothing of the product."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.sandbox
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


def subscriber(client: httpx.Client, email: str) -> dict[str, Any]:
    found = client.get("/api/subscribers", params={"per_page": "all"}).json()["data"]["results"]
    return next(dict(r) for r in found if r["email"] == email)


def bounce(client: httpx.Client, email: str, kind: str = "hard") -> httpx.Response:
    return client.post("/webhooks/bounce", json={"email": email, "type": kind, "source": "api"})


def test_the_bounce_webhook_is_off_as_in_a_fresh_listmonk(
    lm: httpx.Client, running: EmbeddedSandbox
) -> None:
    # listmonk v6.2.0 registers it only with bounce.webhooks_enabled (cmd/handlers.go 222-225).
    response = bounce(lm, "ann@example.com")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    running.app.seed({"listmonk": {"settings": {"bounce.webhooks_enabled": True}}})
    # Webhooks on, bounce processing off: cmd/bounce.go 127-130.
    response = bounce(lm, "ann@example.com")
    assert (response.status_code, response.json()) == (503, {"message": "Internal server error"})
    assert dump(running)["ann@example.com"] == "active"


def test_bounce_webhook_with_listmonks_default_actions(
    lm: httpx.Client, running: EmbeddedSandbox
) -> None:
    running.app.seed(
        {"listmonk": {"settings": {"bounce.webhooks_enabled": True, "bounce.enabled": True}}}
    )
    assert bounce(lm, "ann@example.com").json() == {"data": True}
    # hard: count 1, blocklist (schema.sql 287): the subscriber is blocklisted at once; the
    # subscription itself is left as it was (record-bounce's block1).
    assert dump(running)["ann@example.com"] == "bounced"
    ann = subscriber(lm, "ann@example.com")
    assert (ann["status"], ann["lists"][0]["subscription_status"]) == ("blocklisted", "confirmed")
    # soft: count 2, none: recorded, nothing else.
    running.app.seed({"listmonk": {"lists": {"3": {"contacts": [{"email": "cy@example.com"}]}}}})
    assert bounce(lm, "cy@example.com", "soft").json() == {"data": True}
    assert subscriber(lm, "cy@example.com")["status"] == "enabled"
    # An unknown subscriber is only logged by listmonk; a wrong type is refused.
    assert bounce(lm, "x@example.com").json() == {"data": True}
    wrong = bounce(lm, "ann@example.com", "spam")
    assert (wrong.status_code, wrong.json()) == (400, {"message": "Invalid fields: type"})
    nobody = lm.post("/webhooks/bounce", json={"type": "hard"})
    assert (nobody.status_code, nobody.json()) == (
        400,
        {"message": "Invalid fields: email / subscriber_uuid"},
    )


def test_a_seed_changes_the_bounce_actions(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    running.app.seed(
        {
            "listmonk": {
                "settings": {
                    "bounce.webhooks_enabled": True,
                    "bounce.enabled": True,
                    "bounce.actions": {"hard": {"count": 2, "action": "unsubscribe"}},
                }
            }
        }
    )
    bounce(lm, "ann@example.com")
    ann = subscriber(lm, "ann@example.com")
    assert (ann["status"], ann["lists"][0]["subscription_status"]) == ("enabled", "confirmed")
    bounce(lm, "ann@example.com")
    ann = subscriber(lm, "ann@example.com")
    assert (ann["status"], ann["lists"][0]["subscription_status"]) == ("enabled", "unsubscribed")
    with pytest.raises(ValueError, match=r"bounce\.actions\.hard\.action must be one of"):
        running.app.seed(
            {"listmonk": {"settings": {"bounce.actions": {"hard": {"count": 1, "action": "x"}}}}}
        )


def finish(client: httpx.Client) -> None:
    """Polls the import to its end (two status reads at one poll per step)."""
    for _ in range(2):
        client.get("/api/import/subscribers")


@pytest.mark.parametrize(
    ("flags", "name", "status"),
    [
        # The document's overwrite: "the subscriber parameters including subscriptions".
        ({"overwrite": True}, "Bobby", "confirmed"),
        ({"overwrite_userinfo": True}, "Bobby", "unsubscribed"),
        ({"overwrite_subscription_status": True}, "Bob", "confirmed"),
        ({}, "Bob", "unsubscribed"),
    ],
)
def test_import_overwrite_flags(
    lm: httpx.Client, running: EmbeddedSandbox, flags: dict[str, bool], name: str, status: str
) -> None:
    params = {"mode": "subscribe", "delim": ",", "lists": [3], "subscription_status": "confirmed"}
    import_file(lm, "email,name\nbob@example.com,Bobby\n", json.dumps({**params, **flags}))
    finish(lm)
    bob = subscriber(lm, "bob@example.com")
    assert (bob["name"], bob["lists"][0]["subscription_status"]) == (name, status)


def test_import_of_a_blocklisted_subscriber(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    import_file(lm, "email,name\nann@example.com,Annie\n", '{"mode": "blocklist", "delim": ","}')
    finish(lm)
    assert subscriber(lm, "ann@example.com")["name"] == "Ann"  # blocklist mode keeps the name
    import_file(lm, "email\nann@example.com\n", PARAMS.replace("[3]", "[4]"))
    finish(lm)
    # Subscribed to list 4 all the same, as unsubscribed: never re-subscribed by an import.
    assert subscriber(lm, "ann@example.com")["lists"] == [
        {"id": 3, "name": "news", "subscription_status": "unsubscribed"},
        {"id": 4, "name": "other", "subscription_status": "unsubscribed"},
    ]


def test_the_emulator_imports_nothing_of_the_product() -> None:
    """The sandbox is the vendor: it must not share the product's code (a shared bug would
    pass both sides)."""
    sandbox_dir = Path(reconciler.sandbox.__file__).parent
    imported: set[str] = set()
    for path in sorted(sandbox_dir.glob("listmonk*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    product = {
        m for m in imported if m.startswith("reconciler") and not m.startswith("reconciler.sandbox")
    }
    assert product == set()
    assert "reconciler.sandbox.core" in imported


def test_paging(lm: httpx.Client) -> None:
    page = lm.get("/api/subscribers", params={"per_page": 1, "page": 2}).json()["data"]
    assert (page["total"], page["per_page"], page["page"]) == (2, 1, 2)
    assert [r["email"] for r in page["results"]] == ["bob@example.com"]


def test_auth(running: EmbeddedSandbox) -> None:
    response = httpx.get(f"{running.base_url}/listmonk/api/lists")
    assert (response.status_code, response.json()) == (401, {"message": "invalid API credentials"})


ATTRIBS_SEED = {
    "listmonk": {
        "lists": {
            "3": {
                "contacts": [
                    {
                        "email": "cy@example.com",
                        "fields": {"name": "Cy Young", "plan": "free", "city": "Oslo"},
                    }
                ]
            }
        }
    }
}


@pytest.mark.parametrize(
    ("flags", "attribs", "name"),
    [
        # upsert-subscriber (listmonk v6.2.0 queries/subscribers.sql line 123): attribs=(CASE
        # WHEN $7 THEN $4 ELSE s.attribs END): the row's attributes replace them all.
        ({"overwrite_userinfo": True}, {"plan": "pro"}, "Cyrus"),
        ({"overwrite": True}, {"plan": "pro"}, "Cyrus"),
        ({"overwrite_subscription_status": True}, {"plan": "free", "city": "Oslo"}, "Cy Young"),
        ({}, {"plan": "free", "city": "Oslo"}, "Cy Young"),
    ],
)
def test_an_overwriting_import_replaces_the_attributes(
    lm: httpx.Client,
    running: EmbeddedSandbox,
    flags: dict[str, bool],
    attribs: dict[str, str],
    name: str,
) -> None:
    running.app.seed(ATTRIBS_SEED)
    params = {"mode": "subscribe", "delim": ",", "lists": [3], **flags}
    import_file(
        lm,
        'email,name,attributes\ncy@example.com,Cyrus,"{""plan"": ""pro""}"\n',
        json.dumps(params),
    )
    finish(lm)
    cy = subscriber(lm, "cy@example.com")
    assert (cy["attribs"], cy["name"]) == (attribs, name)


def test_an_overwriting_row_without_attributes_or_name_clears_them(
    lm: httpx.Client, running: EmbeddedSandbox
) -> None:
    running.app.seed(ATTRIBS_SEED)
    params = {"mode": "subscribe", "delim": ",", "lists": [3], "overwrite_userinfo": True}
    import_file(lm, "email\ncy@example.com\nann.lee@example.com\n", json.dumps(params))
    finish(lm)
    # No name is the address's local part (importer.go 654-665, which also title-cases it:
    # the emulator does not), for a present subscriber too: overwriting renames it.
    cy, ann_lee = subscriber(lm, "cy@example.com"), subscriber(lm, "ann.lee@example.com")
    assert (cy["name"], cy["attribs"]) == ("cy", {})
    assert (ann_lee["name"], ann_lee["attribs"]) == ("ann.lee", {})


def test_blocklist_mode_keeps_the_attributes(lm: httpx.Client, running: EmbeddedSandbox) -> None:
    running.app.seed(ATTRIBS_SEED)
    params = {"mode": "blocklist", "delim": ",", "overwrite": True}
    import_file(
        lm, 'email,name,attributes\ncy@example.com,X,"{""plan"": ""pro""}"\n', json.dumps(params)
    )
    finish(lm)
    cy = subscriber(lm, "cy@example.com")
    assert (cy["status"], cy["name"], cy["attribs"]) == (
        "blocklisted",
        "Cy Young",
        {"plan": "free", "city": "Oslo"},
    )
