"""What each vendor's documented API can do: the capability matrix as data.

``specs/vendors/README.md`` shows the same table with the endpoint behind each cell; a test
checks that the two agree and that every provider declares exactly its row.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import Action, ChangeKind, VendorType
from reconciler.plan.model import CapabilityGap, ListPlan

A = Action

CAPABILITIES: Mapping[VendorType, frozenset[Action]] = {
    # POST /api/import with import_action add/remove/unsubscribe/resubscribe/bounce/complaint;
    # overwrite=true for field updates.
    VendorType.ONGAGE: frozenset(
        {A.ADD, A.UPDATE, A.REMOVE, A.UNSUBSCRIBE, A.RESUBSCRIBE, A.BOUNCE, A.COMPLAINT}
    ),
    # Import (subscribe, overwrite for fields), PUT /api/subscribers/lists (remove,
    # unsubscribe, add with status for resubscribe), POST /webhooks/bounce (hard, complaint).
    VendorType.LISTMONK: frozenset(
        {A.ADD, A.UPDATE, A.REMOVE, A.UNSUBSCRIBE, A.RESUBSCRIBE, A.BOUNCE, A.COMPLAINT}
    ),
    # Target-list file import only: members are added or updated, nothing else.
    VendorType.YESMAIL: frozenset({A.ADD, A.UPDATE}),
    # uploads + import-contacts: contacts are created or updated, nothing else.
    VendorType.OMNIGAGE: frozenset({A.ADD, A.UPDATE}),
}

#: Whether the documented API can read a list's current membership.
CAN_READ_CURRENT: Mapping[VendorType, bool] = {
    VendorType.ONGAGE: True,  # export API
    VendorType.LISTMONK: True,  # GET /api/subscribers
    VendorType.YESMAIL: False,
    VendorType.OMNIGAGE: False,
}


def gaps_for(list_plan: ListPlan, vendor: VendorType) -> tuple[CapabilityGap, ...]:
    """The actions ``list_plan`` needs that ``vendor`` cannot perform, with their counts."""
    able = CAPABILITIES[vendor]
    counts = list_plan.counts
    gaps = []
    for kind, count in counts.items():
        action = kind.action
        if action is None or count == 0 or action in able:
            continue
        gaps.append(
            CapabilityGap(
                kind,
                count,
                f"{vendor.value} cannot {kind.value} through its documented API: "
                f"{count:,} {_noun(kind, count)} on list '{list_plan.name}' cannot be applied",
            )
        )
    return tuple(gaps)


def _noun(kind: ChangeKind, count: int) -> str:
    word = {
        ChangeKind.REMOVE: "removal",
        ChangeKind.UNSUBSCRIBE: "unsubscribe",
        ChangeKind.RESUBSCRIBE: "resubscribe",
        ChangeKind.BOUNCE: "bounce",
        ChangeKind.COMPLAINT: "complaint",
        ChangeKind.ADD: "add",
        ChangeKind.UPDATE: "update",
    }[kind]
    return word if count == 1 else word + "s"
