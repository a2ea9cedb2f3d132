"""The three-way rules: which side moved, for each kind of difference."""

from __future__ import annotations

import pytest

from reconciler.drift.model import Origin
from reconciler.drift.provenance import origin_of
from reconciler.engine.rules import drop_reason
from reconciler.model import ChangeKind
from reconciler.plan.model import ListChange
from reconciler.state.membership import Member

E = "ann@example.com"


def same(value: str | None, recorded: str | None) -> bool:
    return (value or None) == recorded


def update(desired: str, vendor: str) -> ListChange:
    return ListChange(ChangeKind.UPDATE, E, "m.csv:2", {"name": desired}, {"name": vendor})


ACTIVE = Member("active", {"name": "Ann"}, added=True)
UNSUBSCRIBED = Member("unsubscribed", {"name": "Ann"}, added=True)
DROP = ListChange(ChangeKind.REMOVE, E, drop_reason(ChangeKind.REMOVE))
HELD = ListChange(ChangeKind.HELD, E, "vendor status: unsubscribed; declared at m.csv:2")
SUPPRESS = ListChange(ChangeKind.UNSUBSCRIBE, E, "suppressed: unsubscribe (s.csv:2)")
ADD = ListChange(ChangeKind.ADD, E, "m.csv:2", {"name": "Ann"})


@pytest.mark.parametrize(
    ("change", "member", "origin"),
    [
        (ADD, None, Origin.REPOSITORY),  # newly declared
        (ADD, ACTIVE, Origin.VENDOR),  # applied, then gone at the vendor
        (DROP, None, Origin.NOT_RECONCILERS),  # a sign-up from elsewhere
        (DROP, ACTIVE, Origin.REPOSITORY),  # dropped from the repository
        (DROP, UNSUBSCRIBED, Origin.VENDOR),  # reconciler left it inactive; active again
        (HELD, ACTIVE, Origin.VENDOR),  # left at the vendor since the last apply
        (HELD, None, Origin.NOT_RECONCILERS),
        (SUPPRESS, ACTIVE, Origin.REPOSITORY),  # a suppression added to the repository
        (SUPPRESS, UNSUBSCRIBED, Origin.VENDOR),  # unsubscribed by reconciler, active again
        (update("Annie", "Ann"), ACTIVE, Origin.REPOSITORY),
        (update("Ann", "Anne"), ACTIVE, Origin.VENDOR),
        (update("Annie", "Anne"), ACTIVE, Origin.BOTH),
        (update("Annie", "Ann"), None, Origin.NOT_RECONCILERS),
    ],
)
def test_which_side_moved(change: ListChange, member: Member | None, origin: Origin) -> None:
    assert origin_of(change, member, same) is origin
