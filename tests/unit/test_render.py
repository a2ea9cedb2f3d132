"""Renderers and the plan's JSON form, on hand-built plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.jsonform import plan_from_dict, plan_to_dict
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text, summary_line

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)


def make_plan(adds: int = 3, **extra: object) -> Plan:
    changes = [
        ListChange(ChangeKind.ADD, f"m{i:05d}@example.com", f"m.csv:{i + 2}", {"first_name": "A"})
        for i in range(adds)
    ]
    changes += [
        ListChange(
            ChangeKind.UPDATE,
            "u@example.com",
            "m.csv:99",
            {"first_name": "New"},
            {"first_name": "Old"},
        ),
        ListChange(ChangeKind.HELD, "h@example.com", "vendor status: bounced; declared at m.csv:7"),
    ]
    list_plan = ListPlan(
        "news",
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        tuple(changes),
        CurrentStateRef("export", "e.csv", 10, "ab" * 32, NOW),
        12,
        9,
        **extra,  # type: ignore[arg-type]
    )
    return Plan((list_plan,), NOW, "c" * 64)


def test_summary_line_lists_every_kind_with_thousands_separators() -> None:
    assert summary_line(make_plan(adds=4990)) == (
        "Plan: 4,990 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 1 held."
    )


def test_no_changes_line() -> None:
    empty = Plan((), NOW)
    assert summary_line(empty) == "No changes. The vendors match the configuration."


def test_sample_is_bounded_and_show_all_shows_every_row() -> None:
    plan = make_plan(adds=25)
    text = render_text(plan)
    assert "  + add: 25" in text
    assert text.count("      + m") == 10 and "      … and 15 more" in text
    assert render_text(plan, show_all=True).count("      + m") == 25


def test_rows_carry_their_reason_and_update_shows_old_and_new() -> None:
    text = render_text(make_plan(adds=1))
    assert "      ~ u@example.com  (first_name: 'Old' → 'New')  # m.csv:99" in text
    assert "      = h@example.com  # vendor status: bounced; declared at m.csv:7" in text


def test_colour_only_when_asked() -> None:
    assert "\033[" not in render_text(make_plan())
    assert "\033[32m" in render_text(make_plan(), colour=True)


def test_gaps_are_loud() -> None:
    gap = CapabilityGap(ChangeKind.REMOVE, 12, "yesmail cannot remove …: 12 removals")
    text = render_text(make_plan(gaps=(gap,)))
    assert "  ✗ CANNOT APPLY: yesmail cannot remove …: 12 removals" in text
    assert "1 action(s) cannot be applied through the vendors' documented APIs" in text


def test_json_round_trip_is_exact() -> None:
    plan = make_plan(
        gaps=(CapabilityGap(ChangeKind.REMOVE, 1, "x"),),
        skipped_invalid=("m.csv:4: invalid e-mail address 'x'",),
        pending={ChangeKind.ADD: 5},
    )
    data = json.loads(json.dumps(plan_to_dict(plan)))
    assert plan_from_dict(data) == plan
    assert data["lists"][0]["changes"] == {
        "add": 3,
        "remove": 0,
        "unsubscribe": 0,
        "resubscribe": 0,
        "bounce": 0,
        "complaint": 0,
        "update": 1,
        "held": 1,
    }


def test_large_lists_spill_rows_to_a_jsonl_file(tmp_path: Path) -> None:
    plan = make_plan(adds=5)
    data = plan_to_dict(plan, rows_dir=tmp_path / "plan.rows", base=tmp_path, inline_row_limit=4)
    item = data["lists"][0]
    assert "rows" not in item and item["rows_file"] == "plan.rows/news.jsonl"
    lines = (tmp_path / "plan.rows/news.jsonl").read_text().splitlines()
    assert len(lines) == 7
    assert json.loads(lines[0]) == {
        "email": "m00000@example.com",
        "fields": {"first_name": "A"},
        "kind": "add",
        "previous": {},
        "reason": "m.csv:2",
    }
    assert plan_from_dict(json.loads(json.dumps(data)), base=tmp_path) == plan


def test_markdown_masks_addresses_and_escapes_values() -> None:
    change = ListChange(ChangeKind.ADD, "ann@example.com", "m.csv:2", {"first_name": "<script>|x"})
    plan = Plan(
        (ListPlan("news", "og", "ongage", "1", ListMode.ADDITIVE, DropAction.REMOVE, (change,)),),
        NOW,
    )
    markdown = render_markdown(plan)
    assert "| a***@example.com | first_name='&lt;script&gt;\\|x' | m.csv:2 |" in markdown
    assert "ann@example.com" not in markdown
    assert "ann@example.com" in render_markdown(plan, redact=False)


def test_markdown_masks_addresses_in_free_text_too_unless_asked() -> None:
    change = ListChange(
        ChangeKind.RESUBSCRIBE,
        "dana.diaz@example.com",
        "opt-in: mail from dana.diaz@example.com to support@example.com (s.yaml:9)",
        {"first_name": "Dana", "referrer": "Ann.Archer@Example.com"},
    )
    plan = Plan(
        (ListPlan("news", "og", "ongage", "1", ListMode.ADDITIVE, DropAction.REMOVE, (change,)),),
        NOW,
    )
    row = (
        "| d***@example.com | first_name='Dana', referrer='A***@Example.com' | opt-in: mail "
        "from d***@example.com to s***@example.com (s.yaml:9) |"
    )
    assert row in render_markdown(plan).splitlines()
    shown = render_markdown(plan, redact=False)
    assert "dana.diaz@example.com" in shown and "support@example.com" in shown


def test_markdown_sample_note_is_outside_the_table_and_sample_none_shows_all() -> None:
    lines = render_markdown(make_plan(adds=25)).splitlines()
    note = lines.index("… and 5 more")
    assert lines[note - 1] == "" and lines[note - 2].startswith("| m***@example.com |")
    assert sum(line.startswith("| m***") for line in lines) == 20
    every = render_markdown(make_plan(adds=25), sample=None).splitlines()
    assert sum(line.startswith("| m***") for line in every) == 25
    assert not any(line.startswith("… and") for line in every)
