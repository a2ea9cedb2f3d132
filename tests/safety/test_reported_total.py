"""Vendors' own row totals reach the plan, and a read that falls short of them is caught:
listmonk's ``GET /api/subscribers`` live and listmonk's JSON export files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from reconciler.config.loader import load_config
from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.engine.planner import build_plan
from reconciler.providers.listmonk import ListmonkProvider
from reconciler.safety.guards import evaluate, settings_for
from reconciler.sandbox.server import EmbeddedSandbox

CREDS = Credentials(username="api", password="token")  # type: ignore[arg-type]
CONFIG = """\
providers:
  lm: {type: listmonk, credentials: {username: api, password: token}}
lists:
  updates:
    provider: lm
    list_id: 3
    mode: additive
    members: [{inline: [{email: ann@example.com}]}]
"""


def subscriber(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "email": f"s{n}@example.com",
        "name": f"S{n}",
        "attribs": {},
        "status": "enabled",
        "lists": [{"id": 3, "subscription_status": "confirmed"}],
    }


def provider(base_url: str, tmp_path: Path) -> ListmonkProvider:
    config = ProviderConfig(type="listmonk", credentials=CREDS)
    return ListmonkProvider("lm", config, base_url=base_url, workdir=tmp_path)


def test_the_live_read_carries_listmonks_total(tmp_path: Path) -> None:
    contacts = [{"email": f"s{n}@example.com", "status": "active"} for n in range(3)]
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed({"listmonk": {"lists": {"3": {"name": "u", "contacts": contacts}}}})
        lm = provider(f"{sandbox.base_url}/listmonk", tmp_path)
        snapshot = lm.read_current("updates", ListConfig(provider="lm", list_id="3"))
        lm.close()
    assert snapshot.ref(3).reported_total == 3


def test_a_listing_shorter_than_its_total_blocks_the_plan(tmp_path: Path) -> None:
    # A listmonk that caps per_page=all at two results but counts all five.
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/subscribers"
        results = [subscriber(1), subscriber(2)]
        return httpx.Response(200, json={"data": {"results": results, "total": 5}})

    lm = provider("http://listmonk.invalid", tmp_path)
    lm.http.client = httpx.Client(
        base_url="http://listmonk.invalid", transport=httpx.MockTransport(answer)
    )
    (tmp_path / "c.yaml").write_text(CONFIG)
    loaded = load_config(tmp_path / "c.yaml")
    plan = build_plan(loaded, vendors=lm)
    lm.close()
    ref = plan.list("updates").current
    assert ref is not None and (ref.rows, ref.reported_total) == (2, 5)
    [violation] = evaluate(plan, {"updates": settings_for(loaded.config, "updates")}, None)
    assert (violation.guard, violation.count, violation.base, violation.flag) == (
        "allow_export_mismatch",
        2,
        5,
        "--allow-export-mismatch",
    )
    assert violation.explanation == (
        "the current state read (listmonk GET /api/subscribers?list_id=3) has 2 rows but "
        "listmonk reports a total of 5"
    )


def json_export_plan(tmp_path: Path, results: list[dict[str, Any]], total: int) -> Any:
    (tmp_path / "subscribers.json").write_text(
        json.dumps({"data": {"results": results, "total": total, "per_page": 20, "page": 1}})
    )
    (tmp_path / "c.yaml").write_text(
        CONFIG + "    export: {format: listmonk-json, path: subscribers.json, list_id: 3}\n"
    )
    return build_plan(load_config(tmp_path / "c.yaml")).list("updates").current


def test_a_json_export_file_is_checked_against_its_own_total(tmp_path: Path) -> None:
    other_list = {**subscriber(9), "lists": [{"id": 4, "subscription_status": "confirmed"}]}
    # Complete: three subscribers, one of them on another list.
    complete = json_export_plan(tmp_path, [subscriber(1), subscriber(2), other_list], 3)
    assert (complete.rows, complete.reported_total) == (2, 2)
    # The first page of a paginated listing saved as if it were all of it.
    first_page = json_export_plan(tmp_path, [subscriber(1), subscriber(2), other_list], 40)
    assert (first_page.rows, first_page.reported_total) == (2, 39)
