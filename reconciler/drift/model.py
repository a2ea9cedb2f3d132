"""Drift data objects: plain, immutable, with no I/O.

A :class:`Drift` tells, per list, how the vendors differ from the repository, in four parts
that need different people to act:

- **changes**: what the repository wants changed at the vendor (what apply would do);
- **absorb**: what changed at the vendor that the repository must absorb: contacts it declares
  who unsubscribed, bounced or complained there (held by the plan);
- **fields**: managed field values that differ (what apply would update);
- **pending**: jobs still in flight, whose rows the vendor has not taken yet.

Beside the parts, not counted as drift: the rows the vendor refused in the list's last apply
(``failed``), which the plan still holds as changes and the next apply sends again.

``reconciler.drift.compute`` makes one from a plan and the state; ``reconciler.render.drift_*``
show it; ``reconciler.drift.writeback`` turns its ``absorb`` part into suppression rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.failures import JobFailures
from reconciler.model import KIND_ORDER, ChangeKind, ContactStatus, ListMode, SuppressionReason
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange

FORMAT_VERSION = 1


class Part(StrEnum):
    """The four parts of a drift report, in the order every renderer shows them."""

    CHANGES = "changes"
    ABSORB = "absorb"
    FIELDS = "fields"
    PENDING = "pending"


PART_ORDER: tuple[Part, ...] = (Part.CHANGES, Part.ABSORB, Part.FIELDS, Part.PENDING)


class Origin(StrEnum):
    """Which side moved since the last apply (``reconciler/drift/provenance.py``)."""

    REPOSITORY = "repository"
    VENDOR = "vendor"
    BOTH = "both"
    NOT_RECONCILERS = "not_reconcilers"
    UNRECORDED = "unrecorded"

    @property
    def words(self) -> str:
        return _ORIGIN_WORDS[self]


ORIGIN_ORDER: tuple[Origin, ...] = tuple(Origin)
_ORIGIN_WORDS: Mapping[Origin, str] = {
    Origin.REPOSITORY: "changed in the repository",
    Origin.VENDOR: "changed at the vendor",
    Origin.BOTH: "changed on both sides",
    Origin.NOT_RECONCILERS: "never reconciler's",
    Origin.UNRECORDED: "nothing recorded yet",
}

#: The kinds counted under ``changes``: every action but field updates (``fields``).
CHANGE_KINDS: tuple[ChangeKind, ...] = tuple(
    kind for kind in KIND_ORDER if kind not in (ChangeKind.UPDATE, ChangeKind.HELD)
)

_REASON_OF_STATUS: Mapping[ContactStatus, SuppressionReason] = {
    ContactStatus.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBE,
    ContactStatus.BOUNCED: SuppressionReason.BOUNCE,
    ContactStatus.COMPLAINT: SuppressionReason.COMPLAINT,
}


@dataclass(frozen=True, slots=True)
class VendorSuppression:
    """A declared member who left the list at the vendor, unknown to the repository's
    suppressions."""

    email: str
    status: ContactStatus  # never active
    declared_at: str  # file:line of the declaration

    @property
    def reason(self) -> SuppressionReason:
        return _REASON_OF_STATUS[self.status]


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One address whose managed fields differ: (field, vendor value, desired value) each."""

    email: str
    fields: tuple[tuple[str, str | None, str | None], ...]
    declared_at: str


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A batch recorded in the state's ledger that has not reached its end at the vendor."""

    action: str
    batch: int
    rows: int
    status: str  # submitting, submitted or unknown
    vendor_job_id: str | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class ListDrift:
    name: str
    provider: str
    vendor: str
    vendor_list_id: str
    mode: ListMode
    current: CurrentStateRef | None
    changes: Mapping[ChangeKind, int]  # every kind of CHANGE_KINDS, zero or not
    change_sample: tuple[ListChange, ...]  # at most the sample size per kind
    absorb: tuple[VendorSuppression, ...]  # all of them: the write-back needs every one
    field_counts: Mapping[str, int]  # addresses per differing field name
    field_total: int  # addresses with at least one differing field
    field_sample: tuple[FieldDifference, ...]
    pending: tuple[PendingJob, ...]
    gaps: tuple[CapabilityGap, ...] = ()
    held_suppressed: int = 0  # held by the repository's own suppressions: not drift
    # the last apply's jobs with refused rows: a bounded sample each, read by drift.read
    failed: tuple[JobFailures, ...] = ()
    # three-way: the differences by which side moved since the last apply, over all of them,
    # and the origin of each sampled address (reconciler/drift/provenance.py)
    origins: Mapping[Origin, int] = field(default_factory=dict)
    origin_of: Mapping[str, Origin] = field(default_factory=dict)

    @property
    def counts(self) -> dict[Part, int]:
        return {
            Part.CHANGES: sum(self.changes.values()),
            Part.ABSORB: len(self.absorb),
            Part.FIELDS: self.field_total,
            Part.PENDING: sum(job.rows for job in self.pending),
        }

    @property
    def has_drift(self) -> bool:
        return any(self.counts.values())


@dataclass(frozen=True)
class Drift:
    lists: tuple[ListDrift, ...]
    created_at: datetime
    config_checksum: str
    sample: int  # the bound on every list's samples
    format_version: int = FORMAT_VERSION

    @property
    def counts(self) -> dict[Part, int]:
        totals = dict.fromkeys(PART_ORDER, 0)
        for list_drift in self.lists:
            for part, n in list_drift.counts.items():
                totals[part] += n
        return totals

    @property
    def by_vendor(self) -> dict[str, dict[Part, int]]:
        """Counts per vendor type, vendors in name order."""
        out: dict[str, dict[Part, int]] = {}
        for list_drift in sorted(self.lists, key=lambda ld: ld.vendor):
            totals = out.setdefault(list_drift.vendor, dict.fromkeys(PART_ORDER, 0))
            for part, n in list_drift.counts.items():
                totals[part] += n
        return out

    @property
    def has_drift(self) -> bool:
        return any(ld.has_drift for ld in self.lists)
