"""What a plan needs that its vendor's documented API cannot do (each provider class's
``capabilities``; ``specs/vendors/README.md`` shows them as a matrix, kept equal by a test)."""

from __future__ import annotations

from reconciler.model import ChangeKind
from reconciler.plan.model import CapabilityGap, ListPlan
from reconciler.registry import provider_class


def gaps_for(list_plan: ListPlan, vendor: str) -> tuple[CapabilityGap, ...]:
    """The actions ``list_plan`` needs that ``vendor`` cannot perform, with their counts."""
    able = provider_class(vendor).capabilities
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
                f"{vendor} cannot {kind.value} through its documented API: "
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
