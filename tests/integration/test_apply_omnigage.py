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
    contacts = p.vendor_list("omnigage", "L1")
    assert {email: status for email, (status, _) in contacts.items()} == {
        "ann@example.com": "active",
        "bo@example.com": "active",
        "old@example.com": "active",
    }
    assert contacts["ann@example.com"][1].get("first-name") == "Ann"
    # cy is suppressed: never added, shown as held.
    assert "= cy@example.com  # suppressed: bounce" in result.out
