"""The vocabulary of the domain, shared by config, engine, plan, providers and sandbox."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """A change sent to a vendor. Order is the order in which apply sends them: suppressions
    first, so that an address is never mailed in the window between two batches."""

    COMPLAINT = "complaint"
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"
    REMOVE = "remove"
    RESUBSCRIBE = "resubscribe"
    ADD = "add"
    UPDATE = "update"


class ChangeKind(StrEnum):
    """Everything a plan counts per list: the actions plus ``held`` (shown, never sent)."""

    ADD = "add"
    REMOVE = "remove"
    UNSUBSCRIBE = "unsubscribe"
    RESUBSCRIBE = "resubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UPDATE = "update"
    HELD = "held"

    @property
    def action(self) -> Action | None:
        return None if self is ChangeKind.HELD else Action(self.value)


#: The order in which kinds are shown and counted in every renderer.
KIND_ORDER: tuple[ChangeKind, ...] = (
    ChangeKind.ADD,
    ChangeKind.REMOVE,
    ChangeKind.UNSUBSCRIBE,
    ChangeKind.RESUBSCRIBE,
    ChangeKind.BOUNCE,
    ChangeKind.COMPLAINT,
    ChangeKind.UPDATE,
    ChangeKind.HELD,
)


class ContactStatus(StrEnum):
    """A contact's status on one list at a vendor, in reconciler's vocabulary."""

    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINT = "complaint"


class SuppressionReason(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"

    @property
    def action(self) -> Action:
        return {
            SuppressionReason.UNSUBSCRIBE: Action.UNSUBSCRIBE,
            SuppressionReason.BOUNCE: Action.BOUNCE,
            SuppressionReason.COMPLAINT: Action.COMPLAINT,
        }[self]


class ListMode(StrEnum):
    AUTHORITATIVE = "authoritative"
    ADDITIVE = "additive"


class DropAction(StrEnum):
    REMOVE = "remove"
    UNSUBSCRIBE = "unsubscribe"


class DropScope(StrEnum):
    """Which undeclared members an authoritative list drops: every one, or only those that
    reconciler added (its own, per the state); sign-ups from forms and other tools stay."""

    ALL = "all"
    OWNED = "owned"
