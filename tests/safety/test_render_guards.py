"""The guards' verdict in every rendering of a plan: text, Markdown and the JSON form."""

from __future__ import annotations

import json
from dataclasses import replace

from reconciler.model import ChangeKind
from reconciler.plan.jsonform import plan_from_dict, plan_to_dict
from reconciler.plan.model import GuardViolation, Plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from tests.safety.test_guards import list_plan, plan_of

BLOCKED = GuardViolation(
    "max_drop_percent",
    "newsletter",
    5,
    5,
    30,
    "--allow-mass-removal",
    "5 of 5 active members (100%) would be removed or unsubscribed; the limit is 30%",
)
ALLOWED = GuardViolation(
    "max_update_percent",
    "newsletter",
    3,
    5,
    50,
    "--allow-mass-update",
    "3 of 5 active members (60%) would be updated; the limit is 50%",
    overridden=True,
)


def guarded_plan(*violations: GuardViolation) -> Plan:
    lp = list_plan(5, {ChangeKind.REMOVE: 5, ChangeKind.UPDATE: 3}, reported_total=5)
    return replace(plan_of(lp), guards=violations)


def test_text_shows_blocking_and_let_through_guards_before_the_summary() -> None:
    lines = render_text(guarded_plan(BLOCKED, ALLOWED)).splitlines()
    assert lines[-6:] == [
        "Blocked by safety guards:",
        "  ✗ max_drop_percent on list 'newsletter': 5 of 5 active members (100%) would be "
        "removed or unsubscribed; the limit is 30% (override: --allow-mass-removal)",
        "Let through past safety guards:",
        "  ! max_update_percent on list 'newsletter': 3 of 5 active members (60%) would be "
        "updated; the limit is 50% (allowed by --allow-mass-update)",
        "",
        "Plan: 0 to add, 5 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 3 to update, 0 held.",
    ]


def test_text_without_guards_has_no_guard_block() -> None:
    text = render_text(guarded_plan())
    assert "safety guards" not in text
    assert text.splitlines()[-2:] == [
        "",
        "Plan: 0 to add, 5 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 3 to update, 0 held.",
    ]


def test_markdown_shows_the_guards_under_the_summary() -> None:
    markdown = render_markdown(guarded_plan(BLOCKED, ALLOWED))
    assert (
        "> **Blocked by safety guards** (nothing can be applied until each is fixed or let "
        "through):\n"
        "> - `max_drop_percent` on list newsletter: 5 of 5 active members (100%) would be "
        "removed or unsubscribed; the limit is 30% (override: `--allow-mass-removal`)\n\n"
        "Let through past safety guards:\n"
        "- `max_update_percent` on list newsletter: 3 of 5 active members (60%) would be "
        "updated; the limit is 50% (allowed by `--allow-mass-update`)\n\n| list |"
    ) in markdown
    assert "safety guards" not in render_markdown(guarded_plan())


def test_json_carries_the_guards_and_the_reported_total_and_reads_them_back() -> None:
    plan = guarded_plan(BLOCKED, ALLOWED)
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert data["guards"] == [
        {
            "guard": "max_drop_percent",
            "list": "newsletter",
            "count": 5,
            "base": 5,
            "limit": 30,
            "flag": "--allow-mass-removal",
            "overridden": False,
            "explanation": BLOCKED.explanation,
        },
        {
            "guard": "max_update_percent",
            "list": "newsletter",
            "count": 3,
            "base": 5,
            "limit": 50,
            "flag": "--allow-mass-update",
            "overridden": True,
            "explanation": ALLOWED.explanation,
        },
    ]
    assert data["lists"][0]["current"]["reported_total"] == 5
    assert plan_from_dict(data) == plan
    assert plan_to_dict(guarded_plan())["guards"] == []
