"""``drop_scope: owned``: an authoritative list drops only the members reconciler added;
sign-ups that reached the vendor another way stay. Asserted on the vendor's list."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.project import Project

CONFIG = """\
providers:
  lm: {type: listmonk, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null}
lists:
  product:
    provider: lm
    list_id: 3
    drop_scope: owned
    members: [{csv: members.csv}]
"""
SEED = """\
listmonk:
  lists:
    "3":
      name: product
      contacts:
        - {email: form@example.com}
        - {email: kept@example.com}
"""


def test_only_members_reconciler_added_are_dropped(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email\nann@example.com\nbob@example.com\nkept@example.com\n")

    # First apply: nothing recorded, so nobody is reconciler's and nobody is dropped.
    first = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert first.code == 0, first.out + first.err
    assert (
        "  = 1 undeclared member(s) kept (drop_scope: owned): nothing is recorded for this "
        "list yet, so nobody is reconciler's: form@example.com"
    ) in first.out
    assert sorted(p.vendor_list("listmonk", "3")) == [
        "ann@example.com",
        "bob@example.com",
        "form@example.com",
        "kept@example.com",
    ]

    # bob (added by reconciler) and kept (on the list before reconciler) leave the repository.
    p.write("members.csv", "email\nann@example.com\n")
    planned = p.run("plan", "-c", "reconciler.yaml")
    assert planned.code == 0, planned.err
    assert "- bob@example.com  # not declared (authoritative list, drop action: remove)" in (
        planned.out
    )
    assert (
        "  = 2 undeclared member(s) kept (drop_scope: owned): reconciler did not add them: "
        "form@example.com, kept@example.com"
    ) in planned.out
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert sorted(p.vendor_list("listmonk", "3")) == [
        "ann@example.com",
        "form@example.com",
        "kept@example.com",
    ]
    again = p.run("plan", "-c", "reconciler.yaml", "--json", "-")
    assert again.code == 0, again.err
    (product,) = json.loads(again.out)["lists"]
    assert product["changes"]["remove"] == 0
    assert product["not_owned"] == {
        "members": 2,
        "sample": ["form@example.com", "kept@example.com"],
        "recorded": True,
    }


def test_drop_scope_owned_is_for_authoritative_lists(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "reconciler.yaml",
        CONFIG.replace("drop_scope: owned", "drop_scope: owned\n    mode: additive"),
    )
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email\nann@example.com\n")
    result = p.run("validate", "-c", "reconciler.yaml")
    assert result.code == 1
    assert (
        "drop_scope: owned applies to authoritative lists only (an additive list drops nobody)"
    ) in result.err
