"""plan → apply against the sandbox's Omnigage, end to end through the command line."""

from __future__ import annotations

from pathlib import Path

from tests.integration.project import Project

CONFIG = """\
providers:
  om: {type: omnigage, base_url: sandbox}
sandbox: {seed: seed.yaml}
lists:
  leads:
    provider: om
    list_id: L1
    mode: additive
    managed_fields: [first-name]
    members: [{csv: members.csv}]
suppressions:
  - inline: [{email: cy@example.com, reason: bounce}]
"""


def test_apply_makes_omnigage_hold_the_declared_contacts(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write(
        "members.csv",
        "email,first-name\nAnn@Example.com,Ann\nbo@example.com,Bo\ncy@example.com,Cy\n",
    )
    p.write(
        "seed.yaml",
        "omnigage:\n  lists:\n    L1:\n      contacts:\n"
        "        - {email: old@example.com, fields: {first-name: Old}}\n",
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert "current state: unknown omnigage has no documented API" in result.out
    assert p.vendor_list("omnigage", "L1") == {
        "ann@example.com": ("active", {"first-name": "Ann"}),
        "bo@example.com": ("active", {"first-name": "Bo"}),
        "old@example.com": ("active", {"first-name": "Old"}),
    }
    # cy is suppressed: never added, shown as held.
    assert "= cy@example.com  # suppressed: bounce" in result.out


UPDATING = """\
providers:
  om: {type: omnigage, base_url: sandbox}
sandbox: {seed: seed.yaml}
lists:
  leads:
    provider: om
    list_id: L1
    mode: additive
    managed_fields: [first-name]
    members: [{csv: members.csv}]
    # Omnigage cannot be read: the current state comes from an export file kept by hand.
    export: {format: ongage, path: current.csv}
# Updating the one current member is 100%, over the default limit of 50%.
guards: {max_update_percent: 100}
"""


def test_apply_adds_and_updates_and_omnigage_holds_exactly_the_result(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", UPDATING)
    p.write("members.csv", "email,first-name\nann@example.com,Ann\nbo@example.com,Bo\n")
    p.write("current.csv", "email,first-name\nbo@example.com,Robert\n")
    p.write(
        "seed.yaml",
        "omnigage:\n  lists:\n    L1:\n      contacts:\n"
        "        - {email: bo@example.com, fields: {first-name: Robert, company: Acme}}\n",
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert (
        "Plan: 1 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 0 held." in result.out
    )
    assert "leads: 2 batch(es), 2 row(s), 0 failed" in result.out
    # Verification reads the list's current state again, and for this list that is the same
    # hand-kept export file, which the apply does not rewrite: it still shows the old state.
    assert result.code == 1, result.out + result.err
    assert result.out.endswith(
        "Verification:\n  list 'leads' still differs from the configuration: 1 add, 1 update\n"
    )
    # The update changed the managed field only; the contact's other field is Omnigage's own.
    assert p.vendor_list("omnigage", "L1") == {
        "ann@example.com": ("active", {"first-name": "Ann"}),
        "bo@example.com": ("active", {"company": "Acme", "first-name": "Bo"}),
    }
    state = p.sandbox_state()["vendors"]["omnigage"]
    assert state["unlisted"] == []  # no contact created off the list, no duplicate
    imports = [
        r for r in p.sandbox_requests() if r["method"] == "POST" and r["path"].endswith("contacts")
    ]
    assert [r["status"] for r in imports] == [201, 201]  # one import per action
