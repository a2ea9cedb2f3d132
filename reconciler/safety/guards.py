"""The safety guards as pure functions: a plan, each list's limits and the state in, the guards
the plan exceeds out (``specs/safety.md``). No I/O; the CLI shows and enforces the result.

Two kinds of guard:

- **mass changes**: per list, how many contacts would be dropped (removed or unsubscribed),
  added (or re-subscribed), updated, or marked bounced/complained, as a percentage of the
  members active at the vendor and as an absolute count. No small-list exemption: 5 of 5 is
  100%.
- **export integrity**: the current-state read itself looks wrong: empty where the state
  last recorded rows, shrunk by more than a percentage since, or not matching the total the
  vendor itself reports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace

from reconciler.config.schema import Config, GuardSettings
from reconciler.model import ChangeKind
from reconciler.plan.model import GuardViolation, ListPlan, Plan
from reconciler.state.model import State


@dataclass(frozen=True)
class ChangeGuard:
    """One family of mass-change limits: ``max_<family>_percent`` and ``max_<family>_count``."""

    family: str
    kinds: frozenset[ChangeKind]
    flag: str
    outcome: str  # what happens to the contacts, completing "5 of 5 active members …"


CHANGE_GUARDS: tuple[ChangeGuard, ...] = (
    ChangeGuard(
        "drop",
        frozenset({ChangeKind.REMOVE, ChangeKind.UNSUBSCRIBE}),
        "--allow-mass-removal",
        "would be removed or unsubscribed",
    ),
    ChangeGuard(
        "add",
        frozenset({ChangeKind.ADD, ChangeKind.RESUBSCRIBE}),
        "--allow-mass-add",
        "would be added or re-subscribed",
    ),
    ChangeGuard(
        "update", frozenset({ChangeKind.UPDATE}), "--allow-mass-update", "would be updated"
    ),
    ChangeGuard(
        "suppression",
        frozenset({ChangeKind.BOUNCE, ChangeKind.COMPLAINT}),
        "--allow-mass-suppression",
        "would be marked bounced or complained",
    ),
)

EXPORT_SHRINK_FLAG = "--allow-export-shrink"
EMPTY_EXPORT_FLAG = "--allow-empty-export"
EXPORT_MISMATCH_FLAG = "--allow-export-mismatch"

#: Every guard (its setting's key) and the one flag that overrides it.
FLAGS: dict[str, str] = {
    **{f"max_{g.family}_{unit}": g.flag for g in CHANGE_GUARDS for unit in ("percent", "count")},
    "max_export_shrink_percent": EXPORT_SHRINK_FLAG,
    "allow_empty_export": EMPTY_EXPORT_FLAG,
    "allow_export_mismatch": EXPORT_MISMATCH_FLAG,
}


def settings_for(config: Config, list_name: str) -> GuardSettings:
    """The top-level ``guards:`` with the keys the list's own ``guards:`` sets laid over them."""
    own = config.lists[list_name].guards
    return config.guards.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})


def evaluate(
    plan: Plan,
    settings: Mapping[str, GuardSettings],
    state: State | None,
    overrides: Collection[str] = (),
) -> list[GuardViolation]:
    """Every guard each list of ``plan`` exceeds, in list order; those whose flag is in
    ``overrides`` are marked ``overridden`` (shown, not blocking)."""
    found: list[GuardViolation] = []
    for list_plan in plan.lists:
        limits = settings.get(list_plan.name) or GuardSettings()
        found.extend(_change_violations(list_plan, limits))
        found.extend(_export_violations(list_plan, limits, state))
    return [replace(v, overridden=v.flag in overrides) for v in found]


def describe(violation: GuardViolation) -> str:
    """The one-paragraph message of a blocking guard: the guard, the list, the numbers and the
    one way through."""
    key = f"lists.{violation.list}.guards.{violation.guard}"
    how = f"set {key}: true" if violation.guard.startswith("allow_") else f"raise {key}"
    return (
        f"safety guard {violation.guard} blocked list {violation.list!r}: "
        f"{violation.explanation}. If this is intended, re-run with {violation.flag} (or {how})."
    )


def blocked_message(violations: Collection[GuardViolation]) -> str:
    if len(violations) == 1:
        return describe(next(iter(violations)))
    lines = [f"{len(violations)} safety guards blocked the plan:"]
    lines.extend(f"  - {describe(v)}" for v in violations)
    return "\n".join(lines)


# -- mass changes -------------------------------------------------------------------------------
def _change_violations(list_plan: ListPlan, limits: GuardSettings) -> Iterator[GuardViolation]:
    base = list_plan.active_members
    for guard in CHANGE_GUARDS:
        count = sum(list_plan.counts.get(kind, 0) for kind in guard.kinds)
        if not count:
            continue
        percent_key, count_key = f"max_{guard.family}_percent", f"max_{guard.family}_count"
        max_percent: float | None = getattr(limits, percent_key)
        max_count: int | None = getattr(limits, count_key)
        # A list with no active members has no percentage to speak of (a first population,
        # or a vendor whose membership cannot be read): only the count limit applies.
        if max_percent is not None and base and count * 100 > max_percent * base:
            yield GuardViolation(
                percent_key,
                list_plan.name,
                count,
                base,
                float(max_percent),
                guard.flag,
                f"{count:,} of {base:,} active members ({_percent(count * 100 / base, max_percent)}"
                f"%) {guard.outcome}; the limit is {_number(max_percent)}%",
            )
        if max_count is not None and count > max_count:
            yield GuardViolation(
                count_key,
                list_plan.name,
                count,
                base,
                max_count,
                guard.flag,
                f"{count:,} contacts {guard.outcome}; the limit is {max_count:,}",
            )


# -- export integrity ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """What the state says the current-state read should hold: the rows of the last export it
    recorded, less the rows reconciler itself removed since (removals shrink an export on
    purpose)."""

    last_rows: int
    removed_since: int

    @property
    def expected(self) -> int:
        return max(0, self.last_rows - self.removed_since)

    def __str__(self) -> str:
        text = f"the last export recorded in the state had {self.last_rows:,} rows"
        if self.removed_since:
            text += f" and reconciler has removed {self.removed_since:,} since"
        return text


def baseline(state: State | None, list_plan: ListPlan) -> Baseline | None:
    if state is None:
        return None
    entry = state.lists.get(list_plan.name)
    if entry is None or entry.last_export is None:
        return None
    if (entry.provider, entry.vendor_list_id) != (list_plan.provider, list_plan.vendor_list_id):
        return None  # the name now stands for another list: its history says nothing here
    seen = entry.last_export
    removed = sum(
        job.rows
        for job in state.jobs
        if job.list == list_plan.name
        and job.action == ChangeKind.REMOVE.value
        and job.status == "succeeded"
        and seen.read_at is not None
        and job.created_at >= seen.read_at
    )
    return Baseline(seen.rows, removed)


def _export_violations(
    list_plan: ListPlan, limits: GuardSettings, state: State | None
) -> Iterator[GuardViolation]:
    ref = list_plan.current
    if ref is None or ref.kind in ("unknown", "applied"):
        return  # no read of the vendor (reconciler's own record is no export to check)
    reported = ref.reported_total
    if reported is not None and reported != ref.rows and not limits.allow_export_mismatch:
        yield GuardViolation(
            "allow_export_mismatch",
            list_plan.name,
            ref.rows,
            reported,
            None,
            EXPORT_MISMATCH_FLAG,
            f"the current state read ({ref.location}) has {ref.rows:,} rows but "
            f"{list_plan.vendor} reports a total of {reported:,}",
        )
    before = baseline(state, list_plan)
    if before is None or before.expected == 0:
        return
    expected = before.expected
    if ref.rows == 0:
        if not limits.allow_empty_export:
            yield GuardViolation(
                "allow_empty_export",
                list_plan.name,
                0,
                expected,
                None,
                EMPTY_EXPORT_FLAG,
                f"the current state read ({ref.location}) has no rows, and {before}",
            )
        return
    limit = limits.max_export_shrink_percent
    missing = expected - ref.rows
    if limit is not None and missing > 0 and missing * 100 > limit * expected:
        yield GuardViolation(
            "max_export_shrink_percent",
            list_plan.name,
            missing,
            expected,
            float(limit),
            EXPORT_SHRINK_FLAG,
            f"the current state read ({ref.location}) has {ref.rows:,} rows, "
            f"{_percent(missing * 100 / expected, limit)}% fewer than the {expected:,} expected "
            f"({before}); the limit is {_number(limit)}%",
        )


# -- numbers in words ---------------------------------------------------------------------------
def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _percent(value: float, limit: float) -> str:
    """``value`` (known to exceed ``limit``) with as few decimals as show that it does."""
    if float(value).is_integer():
        return f"{value:.0f}"
    for digits in range(1, 6):
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        if float(text) > limit:
            return text
    return f"{value:g}"
