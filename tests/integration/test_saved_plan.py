"""plan -out FILE → apply FILE against the sandbox's Ongage, through the command line: exactly
the saved rows are sent, and a plan made stale by another apply or by the vendor is refused
with exit code 4 before anything is sent."""

from __future__ import annotations

import json
import socket
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox.server import EmbeddedSandbox
from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml}
# The scenario removes 1 of 3 members (33%), past the default drop guard.
guards: {max_drop_percent: 50}
lists:
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members/news.csv}]
  vip:
    provider: og
    list_id: 1002
    members: [{inline: [{email: zed@example.com}]}]
suppressions:
  - inline: [{email: ivy@example.com, reason: complaint}]
"""
MEMBERS = """\
email,first_name
ann@example.com,Ann
Bob@Example.com,Bob
"""
SEED = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: bob@example.com, status: active, fields: {first_name: Robert}}
        - {email: hal@example.com, status: active, fields: {first_name: Hal}}
        - {email: ivy@example.com, status: active, fields: {first_name: Ivy}}
    "1002":
      contacts: []
"""
PLANNED = {
    "ann@example.com": ("active", {"first_name": "Ann"}),
    "bob@example.com": ("active", {"first_name": "Bob"}),
    "ivy@example.com": ("complaint", {"first_name": "Ivy"}),
}
AGAIN = (
    "Nothing was sent. Run `reconciler plan -out plan.zip` again, review the new plan, "
    "and apply that file.\n"
)


def project(tmp_path: Path, config: str = CONFIG) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", config)
    p.write("members/news.csv", MEMBERS)
    p.write("seed.yaml", SEED)
    return p


def imports(p: Project) -> list[tuple[str, str]]:
    """(list, action) of every import the vendor accepted."""
    found = []
    for r in p.sandbox_requests():
        if r["method"] == "POST" and r["path"].endswith("/api/import") and r["status"] == 200:
            list_id = r["path"].split("/")[2]
            found.append((list_id, json.loads(r["body"])["import_action"]))
    return sorted(found)


def manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        data: dict[str, Any] = json.loads(archive.read("manifest.json"))
        return data


def state(p: Project) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((p.root / ".reconciler" / "state.json").read_text())
    return data


def test_apply_saved_plan_sends_exactly_its_rows(tmp_path: Path) -> None:
    p = project(tmp_path)
    planned = p.run("plan", "-c", "reconciler.yaml", "--target", "news", "-out=plan.zip")
    assert planned.code == 0, planned.err
    assert planned.out.endswith(
        "\nSaved the plan to plan.zip. To apply exactly this plan, run:\n"
        "  reconciler apply plan.zip -c reconciler.yaml\n"
    )
    saved = manifest(tmp_path / "plan.zip")
    assert saved["targets"] == ["news"]
    assert saved["state"] == {"location": ".reconciler/state.json", "lineage": None, "serial": 0}
    # Lines moved in a source file change the rows' reasons, not what is sent: still fresh.
    p.write("members/news.csv", "email,first_name\nBob@Example.com,Bob\nann@example.com,Ann\n")

    applied = p.run("apply", "plan.zip", "-c", "reconciler.yaml")  # no question asked
    assert applied.code == 0, applied.out + applied.err
    assert p.vendor_list("ongage", "1001") == PLANNED
    assert p.vendor_list("ongage", "1002") == {}  # not in the saved plan: untouched
    assert imports(p) == [
        ("1001", "add"),
        ("1001", "add"),
        ("1001", "complaint"),
        ("1001", "remove"),
    ]
    runs = state(p)["runs"]
    assert [(r["operation"], r["plan_checksum"], r["outcome"]) for r in runs] == [
        ("apply", saved["plan_checksum"], "succeeded")
    ]
    again = p.run("plan", "-c", "reconciler.yaml", "--target", "news", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_a_plan_made_before_another_apply_is_stale(tmp_path: Path) -> None:
    p = project(tmp_path)
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 0
    p.write("members/news.csv", MEMBERS + "eve@example.com,Eve\n")
    assert p.run("plan", "-c", "reconciler.yaml", "-out", "plan.zip").code == 0
    serial = manifest(tmp_path / "plan.zip")["state"]["serial"]
    other = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")  # sends eve meanwhile
    assert other.code == 0, other.err
    sent = imports(p)
    last_run = state(p)["runs"][-1]
    started = datetime.fromisoformat(last_run["started_at"]).isoformat()

    stale = p.run("apply", "plan.zip", "-c", "reconciler.yaml")
    assert stale.code == 4
    assert stale.err == (
        "Error: the saved plan plan.zip is stale: the state at .reconciler/state.json changed "
        f"since the plan was made: serial {serial} → {state(p)['serial']} (another apply or "
        f"poll ran; last run: apply {last_run['run_id']} started {started}, "
        "succeeded)\n" + AGAIN
    )
    assert imports(p) == sent  # nothing sent


def test_a_contact_unsubscribed_at_the_vendor_since_the_plan_is_never_added(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    assert p.run("plan", "-c", "reconciler.yaml", "-out", "plan.zip").code == 0
    with EmbeddedSandbox(tmp_path / ".sandbox") as sandbox:  # ann unsubscribes at Ongage
        unsubscribed = {"email": "ann@example.com", "status": "unsubscribed"}
        seed = {
            "ongage": {"lists": {"1001": {"fields": ["first_name"], "contacts": [unsubscribed]}}}
        }
        assert httpx.post(f"{sandbox.base_url}/_sandbox/seed", json=seed).status_code == 200

    stale = p.run("apply", "plan.zip", "-c", "reconciler.yaml")
    assert stale.code == 4, stale.out + stale.err
    lines = stale.err.splitlines()
    assert lines[0].startswith(
        "Error: the saved plan plan.zip is stale: planned again from the vendors' current data "
        "and the sources, the plan differs from the saved one (plan checksum "
    )
    assert lines[1].startswith(
        "  list 'news': its current state changed (ongage POST /1001/api/export (one per "
        "status)): 3 rows, sha256 "
    )
    assert lines[2:] == [
        "  list 'news': add ann@example.com is no longer planned; now held (vendor status: "
        "unsubscribed; declared at members/news.csv:2)",
        AGAIN.rstrip("\n"),
    ]
    assert imports(p) == []  # the sandbox received no import at all
    assert p.vendor_list("ongage", "1001")["ann@example.com"][0] == "unsubscribed"
    assert state(p)["runs"][-1]["outcome"] == "refused: stale plan"


def test_a_plan_made_from_another_configuration_is_stale(tmp_path: Path) -> None:
    p = project(tmp_path)
    assert p.run("plan", "-c", "reconciler.yaml", "-out", "plan.zip").code == 0
    requests = len(p.sandbox_requests())
    p.write("reconciler.yaml", CONFIG.replace("list_id: 1002", "list_id: 1003"))
    stale = p.run("apply", "plan.zip", "-c", "reconciler.yaml")
    assert stale.code == 4
    assert stale.err.startswith(
        "Error: the saved plan plan.zip is stale: the configuration changed since the plan "
        "was made (config checksum "
    )
    assert len(p.sandbox_requests()) == requests  # refused before any vendor was contacted


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port every connection to is refused: bound for the whole test, so no other process
    can take it, and never listening (Linux answers a connection to it with a reset)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


def test_failed_batches_exit_5(tmp_path: Path, refused_port: int) -> None:
    # Batch files published at a URL nothing serves: Ongage fails every import job (90008).
    staging = (
        "  og:\n    type: ongage\n    base_url: sandbox\n    staging: {backend: directory, "
        f'path: unserved, base_url: "http://127.0.0.1:{refused_port}/"}}\n'
    )
    p = project(tmp_path, CONFIG.replace("  og: {type: ongage, base_url: sandbox}\n", staging))
    assert p.run("plan", "-c", "reconciler.yaml", "--target", "news", "-out", "plan.zip").code == 0
    failed = p.run("apply", "plan.zip", "-c", "reconciler.yaml")
    assert failed.code == 5, failed.out + failed.err
    assert "  news: 4 batch(es), 4 row(s), 4 failed" in failed.out
    assert [j["status"] for j in state(p)["jobs"]] == ["failed"] * 4
