"""The small projects the reliability tests break: one list per vendor, a few contacts, one batch
per action, so that "every batch was submitted once" can be read off the sandbox's request log.

Each scenario's plan is: a complaint (ivy, suppressed in the configuration), a removal (hal, not
declared), an add (ann) and a field update (bob: Robert → Bob), in that order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.reliability.harness import Contacts, FaultProject

MEMBERS = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\nivy@example.com,Ivy\n"
#: Brisk polling: the sandbox answers at once, and a test waits on every poll interval. A
#: short settle window: the sandbox commits a job when it takes the request, unless a test's
#: fault delays it (and then sets a window of its own).
FAST = {"poll_interval_seconds": 0.005, "settle_seconds": 0.5}


def _head(vendor: str) -> str:
    """One provider ``p`` of ``vendor`` on the sandbox (OPTIONS and POLLS filled in later)."""
    return f"""\
providers:
  p: {{type: {vendor}, base_url: sandbox, options: OPTIONS}}
sandbox: {{seed: seed.yaml, polls_per_step: POLLS}}
# Tiny lists: every change is a large share of them, past the default mass-change guards.
guards: {{max_drop_percent: null, max_add_percent: null, max_update_percent: null}}
"""


def four_actions(vendor: str, list_id: str) -> str:
    """A list whose plan is a complaint, a removal, an add and an update."""
    return (
        _head(vendor)
        + f"""\
lists:
  news:
    provider: p
    list_id: {list_id}
    managed_fields: [first_name]
    members: [{{csv: members.csv}}]
suppressions:
  - inline: [{{email: ivy@example.com, reason: complaint}}]
"""
    )


def adds_only(vendor: str, list_id: str, field: str) -> str:
    """An additive list with two adds (for vendors that can only add and update)."""
    return (
        _head(vendor)
        + f"""\
lists:
  news:
    provider: p
    list_id: {list_id}
    mode: additive
    managed_fields: [{field}]
    members: [{{csv: members.csv}}]
"""
    )


@dataclass(frozen=True)
class Scenario:
    vendor: str
    list_id: str
    template: str  # the configuration, with OPTIONS (provider options) and POLLS
    seed: str
    expected: Contacts
    members: str = MEMBERS

    def config(self, *, polls: int = 1, options: dict[str, Any] | None = None) -> str:
        opts = json.dumps({**FAST, **(options or {})})
        return self.template.replace("OPTIONS", opts).replace("POLLS", str(polls))

    def project(
        self,
        root: Path,
        *,
        polls: int = 1,
        options: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> FaultProject:
        p = FaultProject(root, env)
        p.write("reconciler.yaml", self.config(polls=polls, options=options))
        p.write("members.csv", self.members)
        p.write("seed.yaml", self.seed)
        return p

    def contacts(self, p: FaultProject) -> Contacts:
        return p.contacts(self.vendor, self.list_id)

    def submissions(self, p: FaultProject) -> list[str]:
        """What the vendor accepted, one entry per request that changed the list, sorted."""
        return sorted(SUBMISSIONS[self.vendor](r) for r in p.requests() if _accepted(self, r))


def _accepted(s: Scenario, r: dict[str, Any]) -> bool:
    if r["status"] not in (200, 201, 202):
        return False
    return (r["method"], r["path"].split("/", 2)[-1]) in {
        ("POST", f"{s.list_id}/api/import"),  # ongage
        ("POST", "api/import/subscribers"),  # listmonk
        ("PUT", "api/subscribers/lists"),
        ("POST", "webhooks/bounce"),
        ("POST", f"v2/target-lists/{s.list_id}/members/file-import"),  # yesmail
        ("POST", "api/v1/import-contacts"),  # omnigage
    } and r["path"].startswith(f"/{s.vendor}/")


def _ongage(r: dict[str, Any]) -> str:
    body = json.loads(r["body"])
    return str(body["import_action"]) + ("+overwrite" if body.get("overwrite") else "")


def _listmonk(r: dict[str, Any]) -> str:
    if r["path"].endswith("/webhooks/bounce"):
        body = json.loads(r["body"])
        return f"{body['type']} {body['email']}"
    if r["path"].endswith("/api/subscribers/lists"):
        return str(json.loads(r["body"])["action"])
    params = json.loads(json.loads(r["body"])["params"])
    if params["mode"] == "blocklist":  # a bounce or a complaint (bounce_via: import_blocklist)
        return "blocklist"
    overwrite = params.get("overwrite") or params.get("overwrite_userinfo")
    return "import" + ("+overwrite" if overwrite else "")


SUBMISSIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "ongage": _ongage,
    "listmonk": _listmonk,
    "yesmail": lambda r: "file-import",
    "omnigage": lambda r: "import-contacts",
}

ONGAGE = Scenario(
    vendor="ongage",
    list_id="1001",
    template=four_actions("ongage", "1001"),
    seed="""\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: bob@example.com, status: active, fields: {first_name: Robert}}
        - {email: hal@example.com, status: active, fields: {first_name: Hal}}
        - {email: ivy@example.com, status: active, fields: {first_name: Ivy}}
""",
    expected={
        "ann@example.com": ("active", {"first_name": "Ann"}),
        "bob@example.com": ("active", {"first_name": "Bob"}),
        "ivy@example.com": ("complaint", {"first_name": "Ivy"}),
    },
)
ONGAGE_SUBMISSIONS = ["add", "add+overwrite", "complaint", "remove"]

LISTMONK = Scenario(
    vendor="listmonk",
    list_id="3",
    template=four_actions("listmonk", "3"),
    seed="""\
listmonk:
  lists:
    "3":
      name: news
      contacts:
        - {email: bob@example.com, status: active, fields: {name: Bob, first_name: Robert}}
        - {email: hal@example.com, status: active, fields: {name: Hal, first_name: Hal}}
        - {email: ivy@example.com, status: active, fields: {name: Ivy, first_name: Ivy}}
""",
    expected={
        "ann@example.com": ("active", {"name": "ann", "first_name": "Ann"}),
        "bob@example.com": ("active", {"name": "Bob", "first_name": "Bob"}),
        # The complaint is a blocklist import: blocklisted, unsubscribed from every list.
        "ivy@example.com": ("unsubscribed", {"name": "Ivy", "first_name": "Ivy"}),
    },
)
LISTMONK_SUBMISSIONS = ["blocklist", "import", "import+overwrite", "remove"]

YESMAIL = Scenario(
    vendor="yesmail",
    list_id="weekly",
    template=adds_only("yesmail", "weekly", "firstname"),
    members="email,firstname\nann@example.com,Ann\nbob@example.com,Bob\n",
    seed="""\
yesmail:
  subscribers: [ann@example.com, bob@example.com]
  lists:
    weekly: {columns: [firstname, lastname]}
""",
    expected={
        "ann@example.com": ("active", {"firstname": "Ann"}),
        "bob@example.com": ("active", {"firstname": "Bob"}),
    },
)

OMNIGAGE = Scenario(
    vendor="omnigage",
    list_id="L1",
    template=adds_only("omnigage", "L1", "first-name"),
    members="email,first-name\nann@example.com,Ann\nbob@example.com,Bob\n",
    seed="omnigage:\n  lists:\n    L1:\n      contacts: []\n",
    expected={
        "ann@example.com": ("active", {"first-name": "Ann"}),
        "bob@example.com": ("active", {"first-name": "Bob"}),
    },
)
