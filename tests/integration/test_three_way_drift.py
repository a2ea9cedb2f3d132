"""Three-way drift: each difference says which side moved since the last apply, by the
state's record of what reconciler applied (keyed hashes for a vendor that can be read)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.project import Project
from tests.integration.test_drift import at_vendor

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
lists:
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members.csv}]
"""
SEED = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: ann@example.com, status: active, fields: {first_name: Ann}}
        - {email: form@example.com, status: active, fields: {first_name: Flo}}
"""


def contact(email: str, status: str, name: str) -> dict[str, object]:
    return {"email": email, "status": status, "fields": {"first_name": name}}


def test_each_difference_says_which_side_moved(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write(
        "members.csv",
        "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\ndee@example.com,Dee\n"
        "eve@example.com,Eve\n",
    )
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    after = p.run("drift", "-c", "reconciler.yaml")
    assert after.code == 0, after.out + after.err  # nothing to apply right after an apply

    # At the vendor: ann (in sync when applied, not sent) unsubscribes, bob's name is
    # changed there, and new@ signs up through a form.
    at_vendor(
        p,
        {
            "ongage": {
                "lists": {
                    "1001": {
                        "fields": ["first_name"],
                        "contacts": [
                            contact("ann@example.com", "unsubscribed", "Ann"),
                            contact("bob@example.com", "active", "Rob"),
                            contact("new@example.com", "active", "Nel"),
                            contact("eve@example.com", "active", "Eva"),
                        ],
                    }
                }
            }
        },
    )
    # In the repository: ann's, dee's and eve's names change, and cat is declared.
    p.write(
        "members.csv",
        "email,first_name\nann@example.com,Anna\nbob@example.com,Bob\ncat@example.com,Cat\n"
        "dee@example.com,Deirdre\neve@example.com,Evelyn\n",
    )
    drift = p.run("drift", "-c", "reconciler.yaml", "--report", "d.json", "--no-redact")
    assert drift.code == 2, drift.out + drift.err
    assert (
        "  since the last apply: 2 changed in the repository, 2 changed at the vendor, "
        "1 changed on both sides, 1 never reconciler's"
    ) in drift.out
    (news,) = json.loads((tmp_path / "d.json").read_text())["lists"]
    assert news["origins"] == {"repository": 2, "vendor": 2, "both": 1, "not_reconcilers": 1}
    origins = {
        row["email"]: row["origin"]
        for part in ("changes", "absorb", "fields")
        for row in news[part]["sample"]
    }
    assert origins == {
        "cat@example.com": "repository",  # newly declared
        "new@example.com": "not_reconcilers",  # a sign-up reconciler never applied
        "ann@example.com": "vendor",  # unsubscribed at the vendor since the last apply
        "bob@example.com": "vendor",  # renamed at the vendor: the repository still says Bob
        "dee@example.com": "repository",  # renamed in the repository only
        "eve@example.com": "both",  # renamed on each side, differently
    }


def test_state_rebuild_records_what_a_readable_vendor_holds(tmp_path: Path) -> None:
    """After the state is lost, rebuild makes three-way drift and ownership work again."""
    p = Project(tmp_path)
    p.write(
        "reconciler.yaml", CONFIG.replace("managed_fields", "drop_scope: owned\n    managed_fields")
    )
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n")
    before = p.run("drift", "-c", "reconciler.yaml", "--report", "d.json")
    assert before.code == 2, before.out + before.err
    (news,) = json.loads((tmp_path / "d.json").read_text())["lists"]
    assert news["origins"] == {"unrecorded": 1}  # bob, to add: nothing recorded yet

    rebuilt = p.run("state", "rebuild", "news", "--adopt", "-c", "reconciler.yaml")
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert rebuilt.out == (
        "Rebuilt what the state records of list news from ongage: 1 declared member(s) in "
        "sync there; 1 with changes still to apply are left to the next apply; adopted: "
        "reconciler's own (drop_scope: owned drops them when undeclared).\n"
    )
    members = p.run("state", "members", "news", "-c", "reconciler.yaml")
    assert members.out.splitlines()[:2] == [
        "list news: 1 member(s) applied (1 active)",
        "  1 of them added by reconciler (its own, for drop_scope: owned)",
    ]
    # ann is adopted: dropped from the repository, she is removed; form@ never was ours.
    p.write("members.csv", "email,first_name\nbob@example.com,Bob\n")
    planned = p.run("plan", "-c", "reconciler.yaml")
    assert "- ann@example.com  # not declared (authoritative list, drop action: remove)" in (
        planned.out
    )
    assert (
        "  = 1 undeclared member(s) kept (drop_scope: owned): reconciler did not add them: "
        "form@example.com"
    ) in planned.out
    assert not [
        r
        for r in p.sandbox_requests()
        if r["method"] != "GET" and not str(r["path"]).endswith("/api/export")
    ]  # nothing was sent


def test_state_rebuild_refuses_a_vendor_that_cannot_be_read(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "reconciler.yaml",
        "providers:\n  ym: {type: yesmail, base_url: sandbox}\nlists:\n"
        "  vip: {provider: ym, list_id: vip, members: [{inline: [{email: ann@example.com}]}]}\n",
    )
    refused = p.run("state", "rebuild", "vip", "-c", "reconciler.yaml")
    assert refused.code == 1
    assert (
        "list 'vip': yesmail cannot be read through its documented API, so what it holds "
        "cannot be rebuilt from it"
    ) in refused.err
