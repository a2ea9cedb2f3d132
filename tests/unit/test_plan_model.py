"""The plan data object: grouping by kind survives adding capability gaps."""

from __future__ import annotations

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode
from reconciler.plan.model import CapabilityGap, ListChange, ListPlan


def test_with_gaps_keeps_every_change_in_its_group() -> None:
    adds = [
        ListChange(ChangeKind.ADD, f"a{i}@example.com", f"members.csv:{i + 2}") for i in range(3)
    ]
    drops = [ListChange(ChangeKind.REMOVE, "z@example.com", "not declared")]
    groups = {ChangeKind.ADD: adds, ChangeKind.REMOVE: drops}
    plan = ListPlan.from_groups(
        groups,
        name="news",
        provider="og",
        vendor="yesmail",
        vendor_list_id="1",
        mode=ListMode.AUTHORITATIVE,
        drop_action=DropAction.REMOVE,
    )
    gap = CapabilityGap(ChangeKind.REMOVE, 1, "Yesmail cannot remove through its API")

    gapped = plan.with_gaps((gap,))

    assert gapped.gaps == (gap,)
    assert gapped.changes == (*adds, *drops)
    assert list(gapped.of_kind(ChangeKind.ADD)) == adds
    assert list(gapped.of_kind(ChangeKind.REMOVE)) == drops
    assert gapped.counts == {
        kind: {ChangeKind.ADD: 3, ChangeKind.REMOVE: 1}.get(kind, 0) for kind in KIND_ORDER
    }
    assert plan.gaps == ()
