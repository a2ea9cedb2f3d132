"""plan → apply against the sandbox's Ongage, end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.project import Project
from tests.reliability.harness import FaultProject, kill, status_reads_after_accepting, wait_for

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml, polls_per_step: POLLS}
lists:
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members/news.csv}]
suppressions:
  - inline: [{email: ivy@example.com, reason: complaint}]
resubscribe:
  - inline: [{email: dana@example.com, consent: "ticket 1"}]
# Removing one of three active members is 33%, over the default limit of 30%.
guards: {max_drop_percent: 50}
"""
MEMBERS = """\
email,first_name
ann@example.com,Ann
Bob@Example.com,Bob
carl@example.com,Carl
dana@example.com,Dana
"""
SEED = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: bob@example.com, status: active, fields: {first_name: Robert}}
        - {email: carl@example.com, status: unsubscribed, fields: {first_name: Carl}}
        - {email: dana@example.com, status: unsubscribed, fields: {first_name: Dana}}
        - {email: hal@example.com, status: active, fields: {first_name: Hal}}
        - {email: ivy@example.com, status: active, fields: {first_name: Ivy}}
"""
# Declared minus suppressions, with held contacts (carl) left as the vendor has them.
EXPECTED = {
    "ann@example.com": ("active", {"first_name": "Ann"}),
    "bob@example.com": ("active", {"first_name": "Bob"}),
    "carl@example.com": ("unsubscribed", {"first_name": "Carl"}),
    "dana@example.com": ("active", {"first_name": "Dana"}),
    "ivy@example.com": ("complaint", {"first_name": "Ivy"}),
}


def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG.replace("POLLS", "1"))
    p.write("members/news.csv", MEMBERS)
    p.write("seed.yaml", SEED)
    return p


def import_actions(p: Project) -> list[str]:
    """The import requests the vendor accepted; an update is an add with overwrite."""
    actions = []
    for r in p.sandbox_requests():
        if r["method"] == "POST" and r["path"].endswith("/api/import") and r["status"] == 200:
            body = json.loads(r["body"])
            actions.append(body["import_action"] + ("+overwrite" if body.get("overwrite") else ""))
    return sorted(actions)


def test_apply_makes_the_vendor_match_and_a_second_apply_has_nothing_to_do(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    first = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert first.code == 0, first.out + first.err
    assert (
        "Plan: 1 to add, 1 to remove, 0 to unsubscribe, 1 to resubscribe, "
        "0 to mark as bounced, 1 to mark as complained, 1 to update, 1 held." in first.out
    )
    assert p.vendor_list("ongage", "1001") == EXPECTED
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]

    second = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert second.code == 0, second.err
    assert second.out.splitlines()[-1] == (
        "Plan: 0 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 0 to update, 1 held."
    )
    assert len(import_actions(p)) == 5  # nothing sent again

    jobs = p.run("state", "jobs", "-c", "reconciler.yaml")
    rows = [line.split("\t") for line in jobs.out.splitlines()[1:]]
    assert [(r[1], r[4]) for r in rows] == [
        ("complaint", "succeeded"),
        ("remove", "succeeded"),
        ("resubscribe", "succeeded"),
        ("add", "succeeded"),
        ("update", "succeeded"),
    ]


def test_apply_without_approval_on_no_terminal_is_refused(tmp_path: Path) -> None:
    p = project(tmp_path)
    result = p.run("apply", "-c", "reconciler.yaml")
    assert result.code == 1
    assert result.err == (
        "Error: apply needs confirmation: run it on a terminal, or pass --auto-approve\n"
    )
    assert import_actions(p) == []


#: Keeps every import of list 1001 pending, however often it is polled, until released: a run
#: applying this project stops at its first import and polls it until it is killed.
HOLD = {"path": "/ongage/1001/api/import/", "method": "GET", "kind": "hold"}


def polling_a_held_import(sandbox: FaultProject) -> bool:
    """Seen in the sandbox's request log: the vendor accepted the first import and has since
    answered its status reads, so the run has its ID and waits on a job that cannot move."""
    return (
        status_reads_after_accepting(
            sandbox, r"/ongage/1001/api/import", r"/ongage/1001/api/import/\d+"
        )
        >= 2
    )


@pytest.mark.slow
def test_sigkill_mid_apply_then_rerun_submits_nothing_twice(tmp_path: Path) -> None:
    p = project(tmp_path)
    # The project's sandbox data directory, prepared (a fault for the next command) and read
    # (its request log, while the command runs) as the reliability tests do theirs.
    sandbox = FaultProject(tmp_path)
    sandbox.inject(**HOLD)
    proc = p.start("apply", "-c", "reconciler.yaml", "--auto-approve")
    state_file = tmp_path / ".reconciler" / "state.json"
    wait_for("the first import polled while held", lambda: polling_a_held_import(sandbox), proc)
    kill(proc)
    killed = json.loads(state_file.read_text())
    in_flight = [j for j in killed["jobs"] if j["status"] == "submitted"]
    assert len(in_flight) == 1 and in_flight[0]["vendor_job_id"]

    # A plan now shows the in-flight job's rows as pending instead of planning them again.
    planned = p.run("plan", "-c", "reconciler.yaml")
    assert planned.code == 0, planned.err
    action = in_flight[0]["action"]
    assert f"  … 1 {action} already in flight (pending jobs)" in planned.out
    assert f"  ⊘ {action}:" not in planned.out

    # The lock of the killed run is still there: the next apply names it and how to clear it.
    blocked = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert blocked.code == 1 and "is locked by" in blocked.err
    lock_id = json.loads((tmp_path / ".reconciler" / "state.json.lock").read_text())["id"]
    assert f"reconciler state unlock {lock_id}" in blocked.err
    assert p.run("state", "unlock", lock_id, "-c", "reconciler.yaml").code == 0

    sandbox.release()  # the held import advances again on its next status read
    refreshed = p.run("poll", "-c", "reconciler.yaml")  # settles it, sends nothing
    assert refreshed.code == 0, refreshed.out + refreshed.err
    assert refreshed.out.splitlines()[-1].endswith(
        f": succeeded (job {in_flight[0]['vendor_job_id']})"
    )
    assert len(import_actions(p)) == 1
    rerun = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", timeout=120)
    assert rerun.code == 0, rerun.out + rerun.err
    assert p.vendor_list("ongage", "1001") == EXPECTED
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]
    final = json.loads(state_file.read_text())
    assert [j["status"] for j in final["jobs"]] == ["succeeded"] * 5
    assert final["jobs"][0]["vendor_job_id"] == in_flight[0]["vendor_job_id"]


SUPPRESSING = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml}
lists:
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members/news.csv}]
suppressions:
  - inline:
      - {email: ann@example.com, reason: unsubscribe}
      - {email: bob@example.com, reason: bounce}
guards: {max_drop_percent: 100}
"""


def test_apply_unsubscribes_and_bounces_at_the_vendor(tmp_path: Path) -> None:
    """The two actions the first test does not reach: each ends at the vendor as the document
    says (unsubscribe, "Marks contacts as Hard bounce"), the rest of the list untouched."""
    p = Project(tmp_path)
    p.write("reconciler.yaml", SUPPRESSING)
    p.write("members/news.csv", "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n")
    p.write(
        "seed.yaml",
        'ongage:\n  lists:\n    "1001":\n      fields: [first_name]\n      contacts:\n'
        "        - {email: ann@example.com, status: active, fields: {first_name: Ann}}\n"
        "        - {email: bob@example.com, status: active, fields: {first_name: Bob}}\n",
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert (
        "Plan: 0 to add, 0 to remove, 1 to unsubscribe, 0 to resubscribe, "
        "1 to mark as bounced, 0 to mark as complained, 0 to update, 0 held." in result.out
    )
    assert p.vendor_list("ongage", "1001") == {
        "ann@example.com": ("unsubscribed", {"first_name": "Ann"}),
        "bob@example.com": ("bounced", {"first_name": "Bob"}),
    }
    assert import_actions(p) == ["bounce", "unsubscribe"]


def import_posts(p: Project) -> list[int]:
    """The status of every import POST the sandbox logged, in order."""
    return [
        r["status"]
        for r in p.sandbox_requests()
        if r["method"] == "POST" and r["path"] == "/ongage/1001/api/import"
    ]


IN_PROGRESS = json.dumps(
    {
        "metadata": {"error": True},
        "payload": {
            "code": 500,
            "message": "Validation error: list 1001 already has 1 imports in progress; "
            "wait for one to end",
        },
    }
)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "retry_after": 0.1},
        {"status": 500, "body": IN_PROGRESS},
    ],
    ids=["429", "imports-in-progress"],
)
def test_a_refused_import_post_is_retried_and_each_batch_becomes_exactly_one_import(
    tmp_path: Path, fault: dict[str, object]
) -> None:
    p = project(tmp_path)
    # The first batch's POST is refused twice (the vendor creates nothing), then accepted.
    FaultProject(tmp_path).inject(
        path="/ongage/1001/api/import", method="POST", kind="status", count=2, **fault
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert import_posts(p) == [fault["status"], fault["status"], 200, 200, 200, 200, 200]
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]
    assert p.vendor_list("ongage", "1001") == EXPECTED
    listing = [
        r for r in p.sandbox_requests() if r["method"] == "GET" and r["path"].endswith("/import")
    ]
    assert listing == []  # a refusal is not ambiguous: no lookup of what the vendor holds
    jobs = p.run("state", "jobs", "-c", "reconciler.yaml")
    assert [line.split("\t")[4] for line in jobs.out.splitlines()[1:]] == ["succeeded"] * 5
