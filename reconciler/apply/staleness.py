"""Is a saved plan still the plan? The checks apply makes before sending a saved plan's rows.

Each raises :class:`StalePlanError` (exit code 4) saying what changed and what to do; none
does I/O: the caller reads the state, the configuration and the vendors, and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from reconciler.errors import StalePlanError
from reconciler.model import ChangeKind
from reconciler.plan.artifact import SavedPlan
from reconciler.plan.checksum import list_checksum, plan_checksum
from reconciler.plan.model import CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.state.model import State

#: Changed rows named per list in the message; the rest are counted.
SAMPLE = 10


def _stale(path: Path, why: str, details: Sequence[str] = ()) -> StalePlanError:
    lines = [f"the saved plan {path} is stale: {why}", *(f"  {d}" for d in details)]
    lines.append(
        f"Nothing was sent. Run `reconciler plan -out {path}` again, review the new plan, "
        "and apply that file."
    )
    return StalePlanError("\n".join(lines))


def check_config(path: Path, saved: SavedPlan, config_checksum: str) -> None:
    if saved.plan.config_checksum != config_checksum:
        raise _stale(
            path,
            "the configuration changed since the plan was made (config checksum "
            f"{saved.plan.config_checksum[:12]} → {config_checksum[:12]})",
        )


def _last_run(state: State) -> str:
    if not state.runs:
        return ""
    run = state.runs[-1]
    started = run.started_at.isoformat()
    return f"; last run: {run.operation} {run.run_id} started {started}, {run.outcome}"


def check_state(path: Path, saved: SavedPlan, state: State | None, location: str) -> None:
    """The state must be the very one the plan was made against: same lineage, same serial."""
    ref = saved.state
    if state is None:
        if ref.lineage is not None:
            raise _stale(
                path,
                f"the plan was made against the state of lineage {ref.lineage} (serial "
                f"{ref.serial}), and there is no state at {location} now",
            )
        return
    if ref.lineage is None:
        raise _stale(
            path,
            f"there was no state when the plan was made; {location} now holds serial "
            f"{state.serial} (another apply ran since{_last_run(state)})",
        )
    if state.lineage != ref.lineage:
        raise _stale(
            path,
            f"the state at {location} has lineage {state.lineage}, but the plan was made "
            f"against lineage {ref.lineage}: a different state",
        )
    if state.serial != ref.serial:
        raise _stale(
            path,
            f"the state at {location} changed since the plan was made: serial {ref.serial} → "
            f"{state.serial} (another apply or poll ran{_last_run(state)})",
        )


def check_fresh(path: Path, saved: SavedPlan, fresh: Plan) -> None:
    """Planning again now, from the vendors' current data, must give the same rows."""
    checksum = plan_checksum(fresh)
    if checksum == saved.plan_checksum:
        return
    raise _stale(
        path,
        "planned again from the vendors' current data and the sources, the plan differs "
        f"from the saved one (plan checksum {saved.plan_checksum[:12]} → {checksum[:12]}):",
        list(plan_differences(saved.plan, fresh)),
    )


def plan_differences(saved: Plan, fresh: Plan, *, sample: int = SAMPLE) -> Iterator[str]:
    """What differs between two plans, per list, in words."""
    fresh_lists = {lp.name: lp for lp in fresh.lists}
    saved_names = {lp.name for lp in saved.lists}
    for old in saved.lists:
        new = fresh_lists.get(old.name)
        if new is None:
            yield f"list {old.name!r}: no longer planned"
        elif list_checksum(old) != list_checksum(new):
            yield from _list_differences(old, new, sample)
    for new in fresh.lists:
        if new.name not in saved_names:
            yield f"list {new.name!r}: planned now, but not in the saved plan"


def _current_change(old: CurrentStateRef | None, new: CurrentStateRef | None) -> str | None:
    if (old and old.sha256) == (new and new.sha256):
        return None
    if old is None or new is None:
        return "its current state is now read differently"
    where = old.location if old.location == new.location else f"{old.location} → {new.location}"
    return (
        f"its current state changed ({where}): {old.rows:,} rows, sha256 {old.sha256[:12]} → "
        f"{new.rows:,} rows, sha256 {new.sha256[:12]}"
    )


def _key(change: ListChange) -> tuple[ChangeKind, str]:
    return (change.kind, change.email)


def _list_differences(old: ListPlan, new: ListPlan, sample: int) -> Iterator[str]:
    name = f"list {old.name!r}"
    state_change = _current_change(old.current, new.current)
    if state_change:
        yield f"{name}: {state_change}"
    before = {_key(c): c for c in old.changes if c.kind is not ChangeKind.HELD}
    after = {_key(c): c for c in new.changes if c.kind is not ChangeKind.HELD}
    now_by_email = {c.email: c for c in new.changes}
    lines: list[str] = []
    for key, change in before.items():
        if key not in after:
            current = now_by_email.get(change.email)
            now = f"now {current.kind.value} ({current.reason})" if current else "now nothing"
            lines.append(f"{name}: {change.kind.value} {change.email} is no longer planned; {now}")
        elif (change.fields, change.previous) != (after[key].fields, after[key].previous):
            lines.append(
                f"{name}: {change.kind.value} {change.email} now has other values: "
                f"{_values(change)} → {_values(after[key])}"
            )
    for key, change in after.items():
        if key not in before:
            lines.append(
                f"{name}: {change.kind.value} {change.email} is newly planned ({change.reason})"
            )
    yield from lines[:sample]
    if len(lines) > sample:
        yield f"{name}: … and {len(lines) - sample:,} more changed row(s)"


def _values(change: ListChange) -> str:
    fields = ", ".join(f"{k}={v!r}" for k, v in sorted(change.fields.items()))
    if not change.previous:
        return fields or "no values"
    previous = ", ".join(f"{k}={v!r}" for k, v in sorted(change.previous.items()))
    return f"{fields} (vendor has {previous})"


__all__ = ["check_config", "check_fresh", "check_state", "plan_differences"]
