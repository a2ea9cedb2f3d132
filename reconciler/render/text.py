"""The plan as terminal text, in Terraform's manner: per list, per action, a bounded sample of
addresses with their reasons, capability gaps in a loud block, and one closing line.

Every data value (an address, a field, a reason, a list ID, a location, an explanation) goes
through ``render.safe.terminal`` where it is formatted, or ``!r`` (whose escapes show every
control character): a row can neither move the cursor nor forge a line, and the colours
reconciler adds are kept."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, TypeVar

from reconciler.model import KIND_ORDER, ChangeKind
from reconciler.plan.model import ListChange, ListPlan, NotOwned, Plan, Unaddressable
from reconciler.redact import scrub
from reconciler.render.safe import terminal

SAMPLE = 10

SIGNS: dict[ChangeKind, str] = {
    ChangeKind.ADD: "+",
    ChangeKind.REMOVE: "-",
    ChangeKind.UNSUBSCRIBE: "⊘",
    ChangeKind.RESUBSCRIBE: "↺",
    ChangeKind.BOUNCE: "⊘",
    ChangeKind.COMPLAINT: "⊘",
    ChangeKind.UPDATE: "~",
    ChangeKind.HELD: "=",
}

_COLOURS: dict[ChangeKind, str] = {
    ChangeKind.ADD: "32",  # green
    ChangeKind.REMOVE: "31",  # red
    ChangeKind.UNSUBSCRIBE: "31",
    ChangeKind.BOUNCE: "31",
    ChangeKind.COMPLAINT: "31",
    ChangeKind.RESUBSCRIBE: "36",  # cyan
    ChangeKind.UPDATE: "33",  # yellow
    ChangeKind.HELD: "2",  # dim
}

_VERBS: dict[ChangeKind, str] = {
    ChangeKind.ADD: "to add",
    ChangeKind.REMOVE: "to remove",
    ChangeKind.UNSUBSCRIBE: "to unsubscribe",
    ChangeKind.RESUBSCRIBE: "to resubscribe",
    ChangeKind.BOUNCE: "to mark as bounced",
    ChangeKind.COMPLAINT: "to mark as complained",
    ChangeKind.UPDATE: "to update",
    ChangeKind.HELD: "held",
}


def use_colour(stream: IO[str] | None, colour: bool | None) -> bool:
    if colour is not None:
        return colour
    if os.environ.get("NO_COLOR"):
        return False
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def summary_line(plan: Plan) -> str:
    """``Plan: 4,990 to add, 5,000 to remove, …, 37 held.`` — every kind, always, in the same
    order, so scripts and reviewers can rely on its shape."""
    if not plan.has_actions and not plan.counts[ChangeKind.HELD]:
        return "No changes. The vendors match the configuration."
    counts = plan.counts
    parts = [f"{counts[kind]:,} {_VERBS[kind]}" for kind in KIND_ORDER]
    return "Plan: " + ", ".join(parts) + "."


def _field_diff(change: ListChange) -> str:
    if change.kind is ChangeKind.UPDATE:
        return ", ".join(
            f"{terminal(name)}: {change.previous.get(name)!r} → {value!r}"
            for name, value in change.fields.items()
        )
    if change.fields:
        return ", ".join(f"{terminal(name)}={value!r}" for name, value in change.fields.items())
    return ""


T = TypeVar("T")


def _rows(changes: Iterable[T], limit: int | None) -> tuple[list[T], int]:
    shown: list[T] = []
    total = 0
    for change in changes:
        total += 1
        if limit is None or len(shown) < limit:
            shown.append(change)
    return shown, total - len(shown)


def _quoted(value: str) -> str:
    """A value in quotes as ``repr`` writes them, so an empty address shows as ``''``; scrubbed
    before ``repr`` escapes it (an escape could hide a secret from the mask), then made inert
    (``repr`` leaves no control character, but every data value goes through ``terminal``)."""
    return terminal(repr(scrub(value)))


def _unaddressable_line(unaddressable: Unaddressable, limit: int | None) -> str:
    """One line: how many of the vendor's rows no batch can name, and a sample of them."""
    shown = unaddressable.sample if limit is None else unaddressable.sample[:limit]
    # The sample holds distinct values; the rest may be rows with the same value or more of
    # them, so "more" counts rows, not values.
    more = unaddressable.rows - len(shown)
    line = (
        f"  ! {unaddressable.rows:,} row(s) at the vendor have no valid address and are left "
        "as they are"
    )
    if shown:
        line += ": " + ", ".join(map(_quoted, shown))
    if shown and more > 0:
        line += f" … and {more:,} more"
    return line


def _not_owned_line(not_owned: NotOwned, limit: int | None) -> str:
    shown = not_owned.sample if limit is None else not_owned.sample[:limit]
    why = (
        "reconciler did not add them"
        if not_owned.recorded
        else "nothing is recorded for this list yet, so nobody is reconciler's"
    )
    line = f"  = {not_owned.members:,} undeclared member(s) kept (drop_scope: owned): {why}"
    if shown:
        line += ": " + ", ".join(terminal(e) for e in shown)
    if not_owned.members > len(shown) and shown:
        line += f" … and {not_owned.members - len(shown):,} more"
    return line


def render_list(
    list_plan: ListPlan, paint: _Painter, *, show_all: bool = False, sample: int = SAMPLE
) -> list[str]:
    lines = [
        paint("1", f"List {list_plan.name!r}")
        + f" ({list_plan.vendor} list {terminal(list_plan.vendor_list_id)} via provider "
        f"{list_plan.provider!r}, {list_plan.mode.value}"
        + (
            f", drops by {list_plan.drop_action.value}"
            if list_plan.mode.value == "authoritative"
            else ""
        )
        + ")"
    ]
    if list_plan.current is not None:
        ref = list_plan.current
        lines.append(
            f"  current state: {ref.kind} {terminal(ref.location)} ({ref.rows:,} rows, "
            f"sha256 {ref.sha256[:12]}…); {list_plan.active_members:,} active, "
            f"{list_plan.desired_members:,} declared"
        )
    for gap in list_plan.gaps:
        lines.append(paint("1;31", f"  ✗ CANNOT APPLY: {terminal(gap.explanation)}"))
    if list_plan.skipped_invalid:
        lines.append(
            paint(
                "33",
                f"  ! {len(list_plan.skipped_invalid):,} invalid row(s) "
                "skipped (skip_invalid: true):",
            )
        )
        skipped, hidden = _rows(list_plan.skipped_invalid, None if show_all else sample)
        lines.extend(f"      {terminal(row)}" for row in skipped)
        if hidden:
            lines.append(f"      … and {hidden:,} more")
    if list_plan.unaddressable is not None:
        lines.append(
            paint("33", _unaddressable_line(list_plan.unaddressable, None if show_all else sample))
        )
    if list_plan.not_owned is not None:
        lines.append(_not_owned_line(list_plan.not_owned, None if show_all else sample))
    for kind, count in list_plan.pending.items():
        if count:
            lines.append(f"  … {count:,} {kind.value} already in flight (pending jobs)")
    for kind in KIND_ORDER:
        count = list_plan.counts[kind]
        if not count:
            continue
        shown = list_plan.changes.head(kind, None if show_all else sample)
        more = count - len(shown)
        lines.append(paint(_COLOURS[kind], f"  {SIGNS[kind]} {kind.value}: {count:,}"))
        for change in shown:
            detail = _field_diff(change)
            text = f"      {SIGNS[kind]} {terminal(change.email)}" + (
                f"  ({detail})" if detail else ""
            )
            lines.append(paint(_COLOURS[kind], text) + paint("2", f"  # {terminal(change.reason)}"))
        if more:
            lines.append(f"      … and {more:,} more")
    if not list_plan.changes:
        lines.append("  no changes")
    return lines


def render_text(
    plan: Plan, *, colour: bool = False, show_all: bool = False, sample: int = SAMPLE
) -> str:
    paint = _Painter(colour)
    lines: list[str] = []
    for list_plan in plan.lists:
        lines.extend(render_list(list_plan, paint, show_all=show_all, sample=sample))
        lines.append("")
    gaps = [g for lp in plan.lists for g in lp.gaps]
    if gaps:
        lines.append(
            paint(
                "1;31",
                f"{len(gaps)} action(s) cannot be applied through the "
                "vendors' documented APIs (see ✗ above).",
            )
        )
    lines.extend(render_guards(plan, paint))
    lines.append(paint("1", summary_line(plan)))
    # Each value was scrubbed where it was formatted; the whole text is too (a value shown
    # with !r, say).
    return scrub("\n".join(lines) + "\n")


def render_guards(plan: Plan, paint: _Painter) -> list[str]:
    """The guards the plan exceeds: blocking ones in a loud block, the ones a flag let
    through below it, so a reviewer sees both."""
    lines: list[str] = []
    blocked = plan.blocked
    if blocked:
        lines.append(paint("1;31", "Blocked by safety guards:"))
        lines.extend(
            paint(
                "31",
                f"  ✗ {v.guard} on list {v.list!r}: {terminal(v.explanation)} (override: {v.flag})",
            )
            for v in blocked
        )
    allowed = [v for v in plan.guards if v.overridden]
    if allowed:
        lines.append(paint("33", "Let through past safety guards:"))
        lines.extend(
            paint(
                "33",
                f"  ! {v.guard} on list {v.list!r}: {terminal(v.explanation)} "
                f"(allowed by {v.flag})",
            )
            for v in allowed
        )
    if lines:
        lines.append("")
    return lines
