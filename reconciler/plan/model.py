"""Plan data objects: plain, immutable, with no I/O.

The engine (``reconciler.engine``) computes them; renderers (``reconciler.render``) show them;
apply is driven only by their ``changes``, never by how they were displayed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode
from reconciler.plan.changes import (
    NO_VALUES,
    Changes,
    FieldValues,
    InMemoryChanges,
    ListChange,
)

__all__ = [
    "NO_VALUES",
    "CapabilityGap",
    "Changes",
    "CurrentStateRef",
    "FieldValues",
    "GuardViolation",
    "ListChange",
    "ListPlan",
    "NotOwned",
    "Plan",
    "Unaddressable",
]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class CurrentStateRef:
    """Where a list's current vendor state came from, and its fingerprint."""

    kind: str  # "export" (files) or "vendor" (read live through the provider)
    location: str  # file path(s) or endpoint, never with credentials
    rows: int
    sha256: str
    read_at: datetime | None = None
    # The vendor's own count of the rows this read should have returned, where it reports
    # one (listmonk's ``total``): a different ``rows`` means the read was cut short.
    reported_total: int | None = None


@dataclass(frozen=True, slots=True)
class CapabilityGap:
    """An action the plan needs but the vendor's documented API cannot perform."""

    action: ChangeKind
    count: int
    explanation: str


@dataclass(frozen=True, slots=True)
class GuardViolation:
    """A safety guard a list exceeded (``specs/safety.md``).

    ``count`` is measured against ``base`` (active members, or the export rows expected) and
    compared with ``limit`` (a percentage for ``*_percent`` guards, a number of contacts or
    rows for ``*_count`` guards, None for the ``allow_*`` ones). ``flag`` is the one command
    line flag that lets it through; ``overridden`` says it was given."""

    guard: str  # the setting's key, e.g. "max_drop_percent"
    list: str
    count: int
    base: int
    limit: float | None
    flag: str
    explanation: str  # the numbers in words, e.g. "5 of 5 active members (100%) would be …"
    overridden: bool = False


@dataclass(frozen=True, slots=True)
class Unaddressable:
    """The vendor's rows whose address is not a valid one, left as they are (no batch can
    name them): how many, and a few of their addresses (in match form)."""

    rows: int
    sample: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotOwned:
    """Undeclared members an authoritative list with ``drop_scope: owned`` keeps because
    reconciler did not add them (sign-ups from elsewhere): how many, a few of their
    addresses, and whether anything was recorded for the list at all (on its first apply
    nothing is: nobody is reconciler's yet)."""

    members: int
    sample: tuple[str, ...]
    recorded: bool


@dataclass(frozen=True)
class ListPlan:
    """One list's plan. ``changes`` is a :class:`reconciler.plan.changes.Changes` (a tuple of
    rows is accepted and kept in memory)."""

    name: str
    provider: str
    vendor: str
    vendor_list_id: str
    mode: ListMode
    drop_action: DropAction
    changes: Changes
    current: CurrentStateRef | None = None
    desired_members: int = 0
    active_members: int = 0  # active at the vendor before the change
    skipped_invalid: tuple[str, ...] = ()  # "file:line: message" for rows skipped by skip_invalid
    gaps: tuple[CapabilityGap, ...] = ()
    unaddressable: Unaddressable | None = None  # the vendor's rows no batch can name
    not_owned: NotOwned | None = None  # undeclared but kept: not reconciler's (drop_scope)
    pending: Mapping[ChangeKind, int] = field(default_factory=dict)  # covered by in-flight jobs

    def __post_init__(self) -> None:
        # Typed as Changes; tests and hand-built plans may pass a tuple of rows.
        rows: Any = self.changes
        if not isinstance(rows, Changes):
            object.__setattr__(self, "changes", InMemoryChanges.of(rows))

    @property
    def counts(self) -> Mapping[ChangeKind, int]:
        return self.changes.counts

    @classmethod
    def from_groups(cls, groups: Mapping[ChangeKind, list[ListChange]], **fields: Any) -> ListPlan:
        """A plan from its changes already grouped by kind (each group in address order)."""
        return cls(changes=InMemoryChanges(groups), **fields)

    def of_kind(self, kind: ChangeKind) -> Iterator[ListChange]:
        return self.changes.of_kind(kind)

    @property
    def has_actions(self) -> bool:
        return any(n for kind, n in self.counts.items() if kind is not ChangeKind.HELD)


@dataclass(frozen=True, slots=True)
class Plan:
    lists: tuple[ListPlan, ...]
    created_at: datetime
    config_checksum: str = ""
    format_version: int = FORMAT_VERSION
    guards: tuple[GuardViolation, ...] = ()  # filled in by the safety guards, not the engine

    @property
    def blocked(self) -> tuple[GuardViolation, ...]:
        return tuple(v for v in self.guards if not v.overridden)

    @property
    def counts(self) -> dict[ChangeKind, int]:
        totals = dict.fromkeys(KIND_ORDER, 0)
        for list_plan in self.lists:
            for kind, n in list_plan.counts.items():
                totals[kind] += n
        return totals

    @property
    def has_actions(self) -> bool:
        return any(lp.has_actions for lp in self.lists)

    def list(self, name: str) -> ListPlan:
        for list_plan in self.lists:
            if list_plan.name == name:
                return list_plan
        raise KeyError(name)
