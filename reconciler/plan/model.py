"""Plan data objects: plain, immutable, with no I/O.

The engine (``reconciler.engine``) computes them; renderers (``reconciler.render``) show them;
apply is driven only by their ``changes``, never by how they were displayed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from itertools import chain
from types import MappingProxyType
from typing import Any, NamedTuple

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode

FORMAT_VERSION = 1

FieldValues = Mapping[str, str | None]


#: The empty field values that rows without fields share (read-only).
NO_VALUES: FieldValues = MappingProxyType({})
_NO_VALUES = NO_VALUES


class ListChange(NamedTuple):
    """One row of a plan: what happens to one address on one list, and why.

    ``fields`` holds the desired values of managed fields (for add, resubscribe and update);
    ``previous`` the vendor's current values of the fields an update changes.
    ``reason`` says what caused the change: the source ``file:line`` that declared it, the
    suppression entry, or the vendor status (e.g. ``vendor status: unsubscribed``).

    A named tuple rather than a dataclass: plans hold millions of these, and a tuple is made
    several times faster and smaller.
    """

    kind: ChangeKind
    email: str
    reason: str
    fields: FieldValues = _NO_VALUES
    previous: FieldValues = _NO_VALUES


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
    name: str
    provider: str
    vendor: str
    vendor_list_id: str
    mode: ListMode
    drop_action: DropAction
    changes: tuple[ListChange, ...]
    current: CurrentStateRef | None = None
    desired_members: int = 0
    active_members: int = 0  # active at the vendor before the change
    skipped_invalid: tuple[str, ...] = ()  # "file:line: message" for rows skipped by skip_invalid
    gaps: tuple[CapabilityGap, ...] = ()
    unaddressable: Unaddressable | None = None  # the vendor's rows no batch can name
    not_owned: NotOwned | None = None  # undeclared but kept: not reconciler's (drop_scope)
    pending: Mapping[ChangeKind, int] = field(default_factory=dict)  # covered by in-flight jobs

    @cached_property
    def counts(self) -> dict[ChangeKind, int]:
        return {kind: len(rows) for kind, rows in self.by_kind.items()}

    @cached_property
    def by_kind(self) -> dict[ChangeKind, list[ListChange]]:
        grouped: dict[ChangeKind, list[ListChange]] = {kind: [] for kind in KIND_ORDER}
        for change in self.changes:
            grouped[change.kind].append(change)
        return grouped

    @classmethod
    def from_groups(cls, groups: Mapping[ChangeKind, list[ListChange]], **fields: Any) -> ListPlan:
        """A plan from its changes already grouped by kind (each group in address order):
        the groups become ``by_kind`` as they are, without another pass over every row."""
        plan = cls(
            changes=tuple(chain.from_iterable(groups.get(k, ()) for k in KIND_ORDER)), **fields
        )
        plan.__dict__["by_kind"] = {kind: list(groups.get(kind, ())) for kind in KIND_ORDER}
        return plan

    def with_gaps(self, gaps: tuple[CapabilityGap, ...]) -> ListPlan:
        """This plan with its capability gaps; the changes, already grouped, stay as they are
        (grouping a million rows again costs a fifth of a second)."""
        plan = replace(self, gaps=gaps)
        if "by_kind" in self.__dict__:
            plan.__dict__["by_kind"] = self.__dict__["by_kind"]
        return plan

    def of_kind(self, kind: ChangeKind) -> Iterator[ListChange]:
        return iter(self.by_kind[kind])

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
