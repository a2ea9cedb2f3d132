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
