"""The checks before a saved plan is applied, and the words they refuse it with."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.apply.staleness import check_config, check_fresh, check_state, plan_differences
from reconciler.errors import StalePlanError
from reconciler.model import ChangeKind
from reconciler.plan.artifact import StateRef
from reconciler.plan.model import CurrentStateRef, ListChange
from reconciler.state.model import RunEntry, State
from tests.unit.test_plan_artifact import ADD, HELD, REMOVE, UPDATE, list_plan, plan, saved

PATH = Path("plan.zip")
AGAIN = (
    "Nothing was sent. Run `reconciler plan -out plan.zip` again, review the new plan, "
    "and apply that file."
)


def refusal(check: object, *args: object) -> str:
    with pytest.raises(StalePlanError) as caught:
        check(*args)  # type: ignore[operator]
    assert caught.value.exit_code == 4
    return str(caught.value)


def test_same_state_passes_and_another_serial_is_refused() -> None:
    plan_file = saved(plan())  # made against lineage lin-1, serial 7
    check_state(PATH, plan_file, State(lineage="lin-1", serial=7), "s.json")
    run = RunEntry(
        run_id="r2",
        operation="apply",
        started_at=datetime(2026, 11, 23, 4, 0, tzinfo=UTC),
        outcome="succeeded",
    )
    later = State(lineage="lin-1", serial=9, runs=[run])
    assert refusal(check_state, PATH, plan_file, later, "s.json") == (
        "the saved plan plan.zip is stale: the state at s.json changed since the plan was made: "
        "serial 7 → 9 (another apply or poll ran; last run: apply r2 started "
        "2026-11-23T04:00:00+00:00, succeeded)\n" + AGAIN
    )


def test_other_lineage_or_no_state_is_refused() -> None:
    plan_file = saved(plan())
    assert "has lineage other, but the plan was made against lineage lin-1" in refusal(
        check_state, PATH, plan_file, State(lineage="other", serial=7), "s.json"
    )
    assert "there is no state at s.json now" in refusal(
        check_state, PATH, plan_file, None, "s.json"
    )
    fresh_start = replace(plan_file, state=StateRef("s.json", None, 0))
    check_state(PATH, fresh_start, None, "s.json")
    assert "there was no state when the plan was made; s.json now holds serial 3" in refusal(
        check_state, PATH, fresh_start, State(lineage="x", serial=3), "s.json"
    )


def test_other_configuration_is_refused() -> None:
    plan_file = saved(plan())
    check_config(PATH, plan_file, "c" * 64)
    assert refusal(check_config, PATH, plan_file, "d" * 64) == (
        "the saved plan plan.zip is stale: the configuration changed since the plan was made "
        "(config checksum cccccccccccc → dddddddddddd)\n" + AGAIN
    )


def test_same_rows_from_a_changed_export_pass() -> None:
    plan_file = saved(plan())
    moved_export = replace(list_plan(), current=CurrentStateRef("vendor", "x", 5, "ef" * 32, None))
    fresh = plan(moved_export)
    # Not vacuous: the export the plan is read from did change (its fingerprint differs) ...
    assert plan_file.plan.lists[0].current != fresh.lists[0].current
    # ... but the rows are the same, so the saved plan is still the one to apply.
    assert list(plan_differences(plan_file.plan, fresh)) == []
    check_fresh(PATH, plan_file, fresh)  # raises StalePlanError when stale
    changed_rows = plan(replace(moved_export, changes=(REMOVE, UPDATE, HELD)))
    assert "the plan differs from the saved one" in refusal(
        check_fresh, PATH, plan_file, changed_rows
    )


def test_unsubscribed_since_the_plan_is_refused_naming_the_contact() -> None:
    plan_file = saved(plan())
    now_held = ListChange(ChangeKind.HELD, ADD.email, "vendor status: unsubscribed")
    fresh = replace(
        list_plan(changes=(REMOVE, UPDATE, now_held, HELD)),
        current=CurrentStateRef("vendor", "ongage POST /1001/api/export", 5, "ef" * 32, None),
    )
    message = refusal(check_fresh, PATH, plan_file, plan(fresh))
    checksum_before = plan_file.plan_checksum[:12]
    assert message.splitlines()[0].startswith(
        "the saved plan plan.zip is stale: planned again from the vendors' current data and "
        f"the sources, the plan differs from the saved one (plan checksum {checksum_before} → "
    )
    assert message.splitlines()[1:] == [
        "  list 'news': its current state changed (ongage POST /1001/api/export): 4 rows, "
        "sha256 abababababab → 5 rows, sha256 efefefefefef",
        "  list 'news': add ann@example.com is no longer planned; now held "
        "(vendor status: unsubscribed)",
        AGAIN,
    ]


def test_differences_name_changed_values_new_rows_and_count_the_rest() -> None:
    saved_plan = plan(list_plan(changes=(ADD, UPDATE)))
    other_value = UPDATE._replace(previous={"first_name": "Bobby"})
    many = tuple(
        ListChange(ChangeKind.REMOVE, f"x{i:02d}@example.com", "not declared") for i in range(12)
    )
    fresh = plan(list_plan(changes=(ADD, other_value, *many)), list_plan("new"))
    assert list(plan_differences(saved_plan, fresh, sample=3)) == [
        "list 'news': update bob@example.com now has other values: first_name='Bob' "
        "(vendor has first_name='Rob') → first_name='Bob' (vendor has first_name='Bobby')",
        "list 'news': remove x00@example.com is newly planned (not declared)",
        "list 'news': remove x01@example.com is newly planned (not declared)",
        "list 'news': … and 10 more changed row(s)",
        "list 'new': planned now, but not in the saved plan",
    ]
