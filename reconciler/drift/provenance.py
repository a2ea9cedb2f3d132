"""Three-way drift: for each difference between the repository and a vendor, which side moved
since reconciler last applied the list, by comparing both with the state's applied membership
(``reconciler/state/membership.py``):

- ``repository``: the repository changed (the vendor still holds what was applied): apply;
- ``vendor``: the vendor changed what reconciler applied (the repository did not): absorb it
  into the repository, or apply to write the repository's value back;
- ``both``: each side holds another value than the one applied;
- ``not_reconcilers``: the vendor holds a member reconciler never applied (a sign-up from a
  form, another tool's import);
- ``unrecorded``: nothing is recorded for the list (never applied by this state).

The rules are pure (:func:`origin_of`); :func:`provenance` looks the changed members up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.drift.model import ORIGIN_ORDER, Origin
from reconciler.engine.rules import drop_reason
from reconciler.model import ChangeKind
from reconciler.plan.model import ListChange, ListPlan
from reconciler.state.membership import Member, Recorded

#: The status an action leaves, for the suppression kinds.
_STATUS_OF = {
    ChangeKind.UNSUBSCRIBE: "unsubscribed",
    ChangeKind.BOUNCE: "bounced",
    ChangeKind.COMPLAINT: "complaint",
}
Same = Callable[[str | None, str | None], bool]


def _is_drop(change: ListChange) -> bool:
    return change.reason == drop_reason(change.kind)


def _fields_origin(change: ListChange, member: Member, same: Same) -> Origin:
    origins = set()
    for name, desired in change.fields.items():
        applied = member.fields.get(name)
        if same(desired, applied):
            origins.add(Origin.VENDOR)  # the repository still wants what was applied
        elif same(change.previous.get(name), applied):
            origins.add(Origin.REPOSITORY)  # the vendor still holds what was applied
        else:
            origins.add(Origin.BOTH)
    return origins.pop() if len(origins) == 1 else Origin.BOTH


def origin_of(change: ListChange, member: Member | None, same: Same) -> Origin:
    """Which side moved, for one change of a list that has a record (``member``: what was
    last applied to this address, None when nothing was)."""
    kind = change.kind
    if member is None:
        if kind is ChangeKind.UPDATE or kind is ChangeKind.HELD or _is_drop(change):
            return Origin.NOT_RECONCILERS  # at the vendor, never applied by reconciler
        return Origin.REPOSITORY  # newly declared, suppressed or opted in
    active = member.status == "active"
    if kind is ChangeKind.UPDATE:
        return _fields_origin(change, member, same)
    if kind is ChangeKind.ADD or kind is ChangeKind.HELD:
        # Applied as active, and now gone or left at the vendor: the vendor moved.
        return Origin.VENDOR if active else Origin.REPOSITORY
    if _is_drop(change):
        # Active at the vendor though reconciler left it inactive: the vendor moved.
        return Origin.REPOSITORY if active else Origin.VENDOR
    if kind in _STATUS_OF:
        # Already applied, and active again at the vendor: the vendor moved.
        return Origin.VENDOR if member.status == _STATUS_OF[kind] else Origin.REPOSITORY
    return Origin.REPOSITORY  # resubscribe: an opt-in in the repository


@dataclass(frozen=True)
class Provenance:
    """A list's changes by origin: counts over all of them, and each sampled address's."""

    counts: Mapping[Origin, int]
    of: Mapping[str, Origin] = field(default_factory=dict)


def provenance(
    con: Any, list_plan: ListPlan, recorded: Recorded | None, *, sample: set[str]
) -> Provenance:
    """``sample``: the addresses whose origin the reports show one by one."""
    changes = [c for c in list_plan.changes if not _held_by_repository(c)]
    if recorded is None:
        counts = {Origin.UNRECORDED: len(changes)} if changes else {}
        return Provenance(
            counts, dict.fromkeys(sample & {c.email for c in changes}, Origin.UNRECORDED)
        )
    members = recorded.lookup(con, (c.email for c in changes))
    tally: Counter[Origin] = Counter()
    of: dict[str, Origin] = {}
    for change in changes:
        origin = origin_of(change, members.get(change.email), recorded.same_value)
        tally[origin] += 1
        if change.email in sample:
            of[change.email] = origin
    return Provenance({o: tally[o] for o in ORIGIN_ORDER if tally[o]}, of)


def _held_by_repository(change: ListChange) -> bool:
    """Held by the repository's own suppressions: not drift (``ListDrift.held_suppressed``)."""
    return change.kind is ChangeKind.HELD and change.reason.startswith("suppressed:")
