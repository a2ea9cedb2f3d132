"""Make a Drift from a plan (made with in-flight rows subtracted) and the state's job ledger."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from reconciler.drift.model import (
    CHANGE_KINDS,
    Drift,
    FieldDifference,
    ListDrift,
    PendingJob,
    VendorSuppression,
)
from reconciler.drift.provenance import Provenance
from reconciler.failures import JobFailures
from reconciler.model import ChangeKind, ContactStatus
from reconciler.plan.model import ListChange, ListPlan, Plan
from reconciler.state.model import IN_FLIGHT, State

SAMPLE = 20

#: The reason ``reconciler.engine.rules.decide`` gives a declared member held because of their
#: status at the vendor (a test ties the two together).
_VENDOR_HELD = re.compile(r"vendor status: (unsubscribed|bounced|complaint); declared at (.*)")


def vendor_held(change: ListChange) -> VendorSuppression | None:
    """The vendor-side suppression behind a held row, or None when the repository's own
    suppressions hold it (then the repository already knows)."""
    if change.kind is not ChangeKind.HELD:
        return None
    match = _VENDOR_HELD.fullmatch(change.reason)
    if match is None:
        return None
    return VendorSuppression(change.email, ContactStatus(match.group(1)), match.group(2))


def _field_difference(change: ListChange) -> FieldDifference:
    fields = tuple(
        (name, change.previous.get(name), value) for name, value in change.fields.items()
    )
    return FieldDifference(change.email, fields, change.reason)


def _pending(state: State | None, list_name: str) -> tuple[PendingJob, ...]:
    if state is None:
        return ()
    return tuple(
        PendingJob(job.action, job.index, job.rows, job.status, job.vendor_job_id, job.submitted_at)
        for job in state.jobs
        if job.list == list_name and job.status in IN_FLIGHT
    )


def list_drift(
    list_plan: ListPlan,
    state: State | None,
    *,
    sample: int = SAMPLE,
    failed: Sequence[JobFailures] = (),
    provenance: Provenance | None = None,
) -> ListDrift:
    changes = list_plan.changes
    change_sample = tuple(c for kind in CHANGE_KINDS for c in changes.head(kind, sample))
    absorb = []
    held_suppressed = 0
    for change in changes.of_kind(ChangeKind.HELD):
        found = vendor_held(change)
        if found is None:
            held_suppressed += 1
        else:
            absorb.append(found)
    field_counts = Counter(
        name for change in changes.of_kind(ChangeKind.UPDATE) for name in change.fields
    )
    return ListDrift(
        name=list_plan.name,
        provider=list_plan.provider,
        vendor=list_plan.vendor,
        vendor_list_id=list_plan.vendor_list_id,
        mode=list_plan.mode,
        current=list_plan.current,
        changes={kind: changes.counts[kind] for kind in CHANGE_KINDS},
        change_sample=change_sample,
        absorb=tuple(absorb),
        field_counts=dict(sorted(field_counts.items())),
        field_total=changes.counts[ChangeKind.UPDATE],
        field_sample=tuple(_field_difference(c) for c in changes.head(ChangeKind.UPDATE, sample)),
        pending=_pending(state, list_plan.name),
        gaps=list_plan.gaps,
        held_suppressed=held_suppressed,
        failed=tuple(failed),
        origins=provenance.counts if provenance else {},
        origin_of=provenance.of if provenance else {},
    )


def compute_drift(
    plan: Plan,
    state: State | None,
    *,
    sample: int = SAMPLE,
    failed: Mapping[str, Sequence[JobFailures]] | None = None,
    provenance: Mapping[str, Provenance] | None = None,
) -> Drift:
    """``plan`` should have the rows of in-flight jobs subtracted (``plan.pending``), so that
    a pending row is counted once, as pending. ``failed``: per list, the refused rows of its
    last apply, as read from the ledger's failures files (``state.failures``).
    ``provenance``: per list, which side moved (``reconciler/drift/provenance.py``)."""
    failed = failed or {}
    provenance = provenance or {}
    return Drift(
        lists=tuple(
            list_drift(
                lp,
                state,
                sample=sample,
                failed=failed.get(lp.name, ()),
                provenance=provenance.get(lp.name),
            )
            for lp in plan.lists
        ),
        created_at=plan.created_at,
        config_checksum=plan.config_checksum,
        sample=sample,
    )
