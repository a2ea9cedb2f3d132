"""One repository, lists on all four vendors, every action their documents allow: one apply
makes every list end as declared, asserted on what each vendor holds afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
  lm: {type: listmonk, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
  ym: {type: yesmail, base_url: sandbox}
  om: {type: omnigage, base_url: sandbox}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
lists:
  # Ongage, authoritative with removals: add, update, remove, resubscribe, bounce, complaint.
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members/news.csv}]
  # Ongage, authoritative with unsubscribes: undeclared members are unsubscribed, not removed.
  alerts:
    provider: og
    list_id: 1002
    drop_action: unsubscribe
    members: [{inline: [{email: ann@example.com}]}]
  # listmonk: add, update, remove, unsubscribe, resubscribe, bounce, complaint.
  product:
    provider: lm
    list_id: 3
    managed_fields: [name]
    members: [{csv: members/product.csv}]
  # Yesmail, keyed by email (its load table has no id column): add and update.
  vip:
    provider: ym
    list_id: vip
    mode: additive
    managed_fields: [firstname]
    members: [{csv: members/vip.csv}]
  # Omnigage: add and update (create or update by primary email).
  leads:
    provider: om
    list_id: L1
    mode: additive
    managed_fields: [first-name]
    members: [{csv: members/leads.csv}]
suppressions:
  - inline:
      - {email: ivy@example.com, reason: complaint}
      - {email: jo@example.com, reason: bounce}
      - {email: eve@example.com, reason: bounce}
      - {email: fay@example.com, reason: complaint}
      - {email: dan@example.com, reason: unsubscribe}
resubscribe:
  - inline:
      - {email: dana@example.com, consent: "ticket 1"}
      - {email: mia@example.com, consent: "ticket 2"}
"""
SEED = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: bob@example.com, status: active, fields: {first_name: Robert}}
        - {email: dana@example.com, status: unsubscribed, fields: {first_name: Dana}}
        - {email: hal@example.com, status: active, fields: {first_name: Hal}}
        - {email: ivy@example.com, status: active, fields: {first_name: Ivy}}
        - {email: jo@example.com, status: active, fields: {first_name: Jo}}
    "1002":
      contacts:
        - {email: ann@example.com, status: active}
        - {email: old@example.com, status: active}
listmonk:
  lists:
    "3":
      name: product
      contacts:
        - {email: bob@example.com, fields: {name: Robert}}
        - {email: dan@example.com, fields: {name: Dan}}
        - {email: eve@example.com, fields: {name: Eve}}
        - {email: fay@example.com, fields: {name: Fay}}
        - {email: hal@example.com, fields: {name: Hal}}
        - {email: mia@example.com, status: unsubscribed, fields: {name: Mia}}
yesmail:
  subscribers: [ann@example.com, bob@example.com]
  lists:
    vip:
      columns: [email, firstname, lastname]
      contacts:
        - {email: bob@example.com, fields: {firstname: Robert, lastname: Smith}}
omnigage:
  lists:
    L1:
      contacts:
        - {email: bob@example.com, fields: {first-name: Robert}}
"""
FILES = {
    "members/news.csv": "email,first_name\nann@example.com,Ann\nBob@Example.com,Bob\n"
    "dana@example.com,Dana\n",
    "members/product.csv": "email,name\nann@example.com,Ann\nbob@example.com,Bob\n"
    "mia@example.com,Mia\n",
    "members/vip.csv": "email,firstname\nAnn@Example.com,Ann\nbob@example.com,Bob\n",
    "members/leads.csv": "email,first-name\nann@example.com,Ann\nbob@example.com,Bob\n",
}


def lists(p: Project) -> dict[str, dict[str, tuple[str, dict[str, object]]]]:
    return {
        "news": p.vendor_list("ongage", "1001"),
        "alerts": p.vendor_list("ongage", "1002"),
        "product": p.vendor_list("listmonk", "3"),
        "vip": p.vendor_list("yesmail", "vip"),
        "leads": p.vendor_list("omnigage", "L1"),
    }


def test_every_list_on_every_vendor_ends_as_declared(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    for name, text in FILES.items():
        p.write(name, text)

    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert lists(p) == {
        "news": {
            "ann@example.com": ("active", {"first_name": "Ann"}),
            "bob@example.com": ("active", {"first_name": "Bob"}),
            "dana@example.com": ("active", {"first_name": "Dana"}),
            "ivy@example.com": ("complaint", {"first_name": "Ivy"}),
            "jo@example.com": ("bounced", {"first_name": "Jo"}),
        },
        "alerts": {
            "ann@example.com": ("active", {}),
            "old@example.com": ("unsubscribed", {}),
        },
        "product": {
            "ann@example.com": ("active", {"name": "Ann"}),
            "bob@example.com": ("active", {"name": "Bob"}),
            "dan@example.com": ("unsubscribed", {"name": "Dan"}),
            # A bounce and a complaint at listmonk: blocklisted (unsubscribed everywhere).
            "eve@example.com": ("unsubscribed", {"name": "Eve"}),
            "fay@example.com": ("unsubscribed", {"name": "Fay"}),
            "mia@example.com": ("active", {"name": "Mia"}),
        },
        "vip": {
            "ann@example.com": ("active", {"firstname": "Ann"}),
            "bob@example.com": ("active", {"firstname": "Bob", "lastname": "Smith"}),
        },
        "leads": {
            "ann@example.com": ("active", {"first-name": "Ann"}),
            "bob@example.com": ("active", {"first-name": "Bob"}),
        },
    }
    requests = p.sandbox_requests()
    ongage = sorted(
        (r["path"].split("/")[2], json.loads(r["body"])["import_action"])
        for r in requests
        if r["vendor"] == "ongage" and r["method"] == "POST" and r["path"].endswith("/api/import")
    )
    assert ongage == [
        ("1001", "add"),  # ann
        ("1001", "add"),  # bob's first name (overwrite)
        ("1001", "bounce"),
        ("1001", "complaint"),
        ("1001", "remove"),  # hal
        ("1001", "resubscribe"),  # dana, with her recorded opt-in
        ("1002", "unsubscribe"),  # old
    ]
    # Yesmail mapped the address onto its email column, as the load table has no id.
    mappings = [
        json.loads(r["body"])["source"]["mappings"]
        for r in requests
        if r["vendor"] == "yesmail" and r["path"].endswith("/file-import")
    ]
    # One import: an unreadable list is planned from nothing, so ann and bob are both adds.
    assert mappings == [[{"email": "email"}, {"firstname": "firstname"}]]

    # The readable vendors now match: nothing to do for their lists.
    again = p.run(
        "plan",
        "-c",
        "reconciler.yaml",
        "--target",
        "news",
        "--target",
        "alerts",
        "--target",
        "product",
    )
    assert again.code == 0, again.out + again.err
    assert again.out.splitlines()[-1] == "No changes. The vendors match the configuration."
