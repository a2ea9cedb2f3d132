"""The safety guards on hand-built plans: each guard's exact verdict, limits, flags and the
state's baseline."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.cli.guards import FLAG_HELP, add_guard_arguments, overrides
from reconciler.config.schema import Config, GuardSettings
from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.model import CurrentStateRef, GuardViolation, ListChange, ListPlan, Plan
from reconciler.safety.guards import (
    FLAGS,
    blocked_message,
    describe,
    evaluate,
    settings_for,
)
from reconciler.state.model import ExportSeen, JobEntry, ListState, State

READ_AT = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
LOCATION = "ongage POST /1001/api/export (one per status)"


def list_plan(
    active: int,
    changes: dict[ChangeKind, int] | None = None,
    *,
    name: str = "newsletter",
    rows: int | None = None,
    kind: str = "vendor",
    reported_total: int | None = None,
) -> ListPlan:
    rows_of = [
        ListChange(k, f"{k.value}{i}@example.com", "m.csv:2")
        for k, n in (changes or {}).items()
        for i in range(n)
    ]
    return ListPlan(
        name,
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        tuple(rows_of),
        CurrentStateRef(
            kind, LOCATION, active if rows is None else rows, "ab" * 32, READ_AT, reported_total
        ),
        desired_members=active,
        active_members=active,
    )


def plan_of(*lists: ListPlan) -> Plan:
    return Plan(tuple(lists), READ_AT)


def check(
    lp: ListPlan,
    state: State | None = None,
    overrides: frozenset[str] = frozenset(),
    **limits: object,
) -> list[GuardViolation]:
    return evaluate(plan_of(lp), {lp.name: GuardSettings(**limits)}, state, overrides)  # type: ignore[arg-type]


def state_with(rows: int, *, jobs: list[JobEntry] | None = None, list_id: str = "1001") -> State:
    seen = ExportSeen(
        kind="vendor", location=LOCATION, rows=rows, sha256="cd" * 32, read_at=READ_AT
    )
    entry = ListState(provider="og", vendor="ongage", vendor_list_id=list_id, last_export=seen)
    return State(lists={"newsletter": entry}, jobs=jobs or [])


def remove_job(rows: int, *, created: datetime, status: str = "succeeded") -> JobEntry:
    return JobEntry(
        batch_key="newsletter/remove/0001/x",
        run_id="r1",
        provider="og",
        list="newsletter",
        vendor_list_id="1001",
        action="remove",
        index=1,
        rows=rows,
        sha256="ef" * 32,
        file="b.csv",
        status=status,  # type: ignore[arg-type]
        created_at=created,
    )


# -- mass changes -------------------------------------------------------------------------------
def test_a_five_member_list_losing_all_five_is_blocked() -> None:
    [violation] = check(list_plan(5, {ChangeKind.REMOVE: 5}))
    assert violation == GuardViolation(
        "max_drop_percent",
        "newsletter",
        5,
        5,
        30,
        "--allow-mass-removal",
        "5 of 5 active members (100%) would be removed or unsubscribed; the limit is 30%",
    )
    assert describe(violation) == (
        "safety guard max_drop_percent blocked list 'newsletter': 5 of 5 active members (100%) "
        "would be removed or unsubscribed; the limit is 30%. If this is intended, re-run with "
        "--allow-mass-removal (or raise lists.newsletter.guards.max_drop_percent)."
    )


def test_removals_and_unsubscribes_count_together_and_the_limit_itself_passes() -> None:
    at_limit = list_plan(10, {ChangeKind.REMOVE: 2, ChangeKind.UNSUBSCRIBE: 1})
    assert check(at_limit) == []
    [over] = check(list_plan(10, {ChangeKind.REMOVE: 2, ChangeKind.UNSUBSCRIBE: 2}))
    assert (over.guard, over.count, over.base) == ("max_drop_percent", 4, 10)
    assert over.explanation.startswith("4 of 10 active members (40%) would be removed")


def test_percentages_show_the_decimals_that_make_them_exceed_the_limit() -> None:
    one_of_three = check(list_plan(3, {ChangeKind.REMOVE: 1}))
    assert one_of_three[0].explanation.startswith("1 of 3 active members (33.3%)")
    just_over = check(list_plan(10_000, {ChangeKind.REMOVE: 3_001}))
    assert just_over[0].explanation == (
        "3,001 of 10,000 active members (30.01%) would be removed or unsubscribed; the limit is 30%"
    )
    fractional = check(list_plan(1_000, {ChangeKind.REMOVE: 6}), max_drop_percent=0.5)
    assert fractional[0].explanation.endswith(
        "(0.6%) would be removed or unsubscribed; the limit is 0.5%"
    )


def test_count_limits_apply_whatever_the_percentage() -> None:
    lp = list_plan(1_000_000, {ChangeKind.REMOVE: 12_000})
    assert check(lp) == []
    assert check(lp, max_drop_count=10_000) == [
        GuardViolation(
            "max_drop_count",
            "newsletter",
            12_000,
            1_000_000,
            10_000,
            "--allow-mass-removal",
            "12,000 contacts would be removed or unsubscribed; the limit is 10,000",
        )
    ]


def test_both_limits_of_a_family_can_be_exceeded_at_once() -> None:
    found = check(list_plan(5, {ChangeKind.REMOVE: 5}), max_drop_count=4)
    assert [(v.guard, v.flag) for v in found] == [
        ("max_drop_percent", "--allow-mass-removal"),
        ("max_drop_count", "--allow-mass-removal"),
    ]


def test_adds_and_resubscribes_over_the_add_limits() -> None:
    [doubling] = check(list_plan(4, {ChangeKind.ADD: 4, ChangeKind.RESUBSCRIBE: 1}))
    assert doubling == GuardViolation(
        "max_add_percent",
        "newsletter",
        5,
        4,
        100,
        "--allow-mass-add",
        "5 of 4 active members (125%) would be added or re-subscribed; the limit is 100%",
    )


def test_a_list_without_active_members_has_only_count_limits() -> None:
    first_population = list_plan(0, {ChangeKind.ADD: 900}, kind="unknown")
    assert check(first_population) == []
    [violation] = check(first_population, max_add_count=500)
    assert (violation.guard, violation.count, violation.base) == ("max_add_count", 900, 0)
    assert violation.explanation == (
        "900 contacts would be added or re-subscribed; the limit is 500"
    )


def test_updates_over_the_update_limits() -> None:
    [violation] = check(list_plan(5, {ChangeKind.UPDATE: 3}))
    assert (violation.guard, violation.flag, violation.explanation) == (
        "max_update_percent",
        "--allow-mass-update",
        "3 of 5 active members (60%) would be updated; the limit is 50%",
    )
    assert check(list_plan(100, {ChangeKind.UPDATE: 3}), max_update_count=2)[0].guard == (
        "max_update_count"
    )


def test_bounces_and_complaints_over_the_suppression_limits() -> None:
    big = list_plan(100_000, {ChangeKind.BOUNCE: 600, ChangeKind.COMPLAINT: 401})
    [violation] = check(big)
    assert violation == GuardViolation(
        "max_suppression_count",
        "newsletter",
        1_001,
        100_000,
        1_000,
        "--allow-mass-suppression",
        "1,001 contacts would be marked bounced or complained; the limit is 1,000",
    )
    assert check(list_plan(100_000, {ChangeKind.BOUNCE: 1_000})) == []
    [pct] = check(list_plan(10, {ChangeKind.COMPLAINT: 2}), max_suppression_percent=10)
    assert pct.explanation == (
        "2 of 10 active members (20%) would be marked bounced or complained; the limit is 10%"
    )


def test_held_rows_count_for_no_guard() -> None:
    assert check(list_plan(2, {ChangeKind.HELD: 50})) == []


def test_a_null_limit_turns_the_guard_off() -> None:
    assert check(list_plan(5, {ChangeKind.REMOVE: 5}), max_drop_percent=None) == []


def test_a_flag_lets_its_own_guard_through_and_no_other() -> None:
    lp = list_plan(5, {ChangeKind.REMOVE: 5, ChangeKind.UPDATE: 5})
    found = check(lp, overrides=frozenset({"--allow-mass-removal"}))
    assert [(v.guard, v.overridden) for v in found] == [
        ("max_drop_percent", True),
        ("max_update_percent", False),
    ]
    plan = Plan(plan_of(lp).lists, READ_AT, guards=tuple(found))
    assert [v.guard for v in plan.blocked] == ["max_update_percent"]


def test_several_blocking_guards_are_all_named() -> None:
    found = check(list_plan(5, {ChangeKind.REMOVE: 5, ChangeKind.UPDATE: 5}))
    assert blocked_message(found) == (
        "2 safety guards blocked the plan:\n"
        "  - safety guard max_drop_percent blocked list 'newsletter': 5 of 5 active members "
        "(100%) would be removed or unsubscribed; the limit is 30%. If this is intended, re-run "
        "with --allow-mass-removal (or raise lists.newsletter.guards.max_drop_percent).\n"
        "  - safety guard max_update_percent blocked list 'newsletter': 5 of 5 active members "
        "(100%) would be updated; the limit is 50%. If this is intended, re-run with "
        "--allow-mass-update (or raise lists.newsletter.guards.max_update_percent)."
    )


# -- export integrity ---------------------------------------------------------------------------
def test_an_empty_export_where_the_state_saw_rows_is_blocked() -> None:
    [violation] = check(list_plan(0, rows=0), state_with(9))
    assert violation == GuardViolation(
        "allow_empty_export",
        "newsletter",
        0,
        9,
        None,
        "--allow-empty-export",
        f"the current state read ({LOCATION}) has no rows, and the last export recorded in the "
        "state had 9 rows",
    )
    assert describe(violation).endswith(
        "If this is intended, re-run with --allow-empty-export "
        "(or set lists.newsletter.guards.allow_empty_export: true)."
    )
    assert check(list_plan(0, rows=0), state_with(9), allow_empty_export=True) == []


def test_an_empty_export_without_history_is_a_new_list() -> None:
    assert check(list_plan(0, rows=0), None) == []
    assert check(list_plan(0, rows=0), State()) == []
    assert check(list_plan(0, rows=0), state_with(0)) == []


def test_an_export_that_shrank_beyond_the_limit_is_blocked() -> None:
    assert check(list_plan(8, rows=8), state_with(10)) == []  # 20%: the limit itself
    [violation] = check(list_plan(7, rows=7), state_with(10))
    assert violation == GuardViolation(
        "max_export_shrink_percent",
        "newsletter",
        3,
        10,
        20,
        "--allow-export-shrink",
        f"the current state read ({LOCATION}) has 7 rows, 30% fewer than the 10 expected (the "
        "last export recorded in the state had 10 rows); the limit is 20%",
    )
    assert check(list_plan(7, rows=7), state_with(10), max_export_shrink_percent=50) == []
    assert check(list_plan(12, rows=12), state_with(10)) == []  # growth is never a problem


def test_rows_reconciler_removed_since_the_last_export_are_expected_to_be_gone() -> None:
    after = READ_AT + timedelta(seconds=5)
    before = READ_AT - timedelta(days=1)
    jobs = [
        remove_job(3, created=after),
        remove_job(50, created=before),  # already gone from the recorded export
        remove_job(40, created=after, status="failed"),  # not known to have removed anyone
    ]
    assert check(list_plan(7, rows=7), state_with(10, jobs=jobs)) == []
    [violation] = check(list_plan(5, rows=5), state_with(10, jobs=jobs))
    assert (violation.count, violation.base) == (2, 7)
    assert violation.explanation == (
        f"the current state read ({LOCATION}) has 5 rows, 28.6% fewer than the 7 expected (the "
        "last export recorded in the state had 10 rows and reconciler has removed 3 since); "
        "the limit is 20%"
    )
    everyone_removed = state_with(10, jobs=[remove_job(10, created=after)])
    assert check(list_plan(0, rows=0), everyone_removed) == []


def test_the_state_of_another_vendor_list_is_no_baseline() -> None:
    assert check(list_plan(0, rows=0), state_with(9, list_id="2002")) == []


def test_rows_that_disagree_with_the_vendors_reported_total_are_blocked() -> None:
    [violation] = check(list_plan(20, rows=20, reported_total=25))
    assert violation == GuardViolation(
        "allow_export_mismatch",
        "newsletter",
        20,
        25,
        None,
        "--allow-export-mismatch",
        f"the current state read ({LOCATION}) has 20 rows but ongage reports a total of 25",
    )
    assert check(list_plan(20, rows=20, reported_total=20)) == []
    assert check(list_plan(20, rows=20, reported_total=25), allow_export_mismatch=True) == []


def test_an_unknown_current_state_has_no_export_to_check() -> None:
    assert check(list_plan(0, rows=0, kind="unknown", reported_total=3), state_with(9)) == []


# -- settings and flags -------------------------------------------------------------------------
def test_list_guards_override_the_top_level_key_by_key() -> None:
    config = Config.model_validate(
        {
            "providers": {"og": {"type": "ongage"}},
            "guards": {"max_drop_percent": 10, "max_add_count": 5},
            "lists": {
                "newsletter": {
                    "provider": "og",
                    "list_id": "1",
                    "guards": {"max_drop_percent": 50, "max_update_percent": None},
                },
                "other": {"provider": "og", "list_id": "2"},
            },
        }
    )
    assert settings_for(config, "newsletter") == GuardSettings(
        max_drop_percent=50, max_add_count=5, max_update_percent=None
    )
    assert settings_for(config, "other") == GuardSettings(max_drop_percent=10, max_add_count=5)


def test_limits_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        GuardSettings(max_drop_percent=-1)


def test_one_flag_per_guard_and_each_sets_its_override() -> None:
    assert set(FLAG_HELP) == set(FLAGS.values())
    assert len(set(FLAGS.values())) == 7
    parser = argparse.ArgumentParser()
    add_guard_arguments(parser)
    assert overrides(parser.parse_args([])) == frozenset()
    for flag in FLAG_HELP:
        assert overrides(parser.parse_args([flag])) == {flag}
    with pytest.raises(SystemExit):
        parser.parse_args(["--force"])
