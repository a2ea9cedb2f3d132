"""The drift report's JSON form (a public contract: ``specs/drift-json.md``, schema in
``specs/drift.schema.json``). The Markdown and HTML reports are rendered from this form, so
all three always agree, and addresses are masked here once for all of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.address import mask
from reconciler.drift.model import (
    CHANGE_KINDS,
    ORIGIN_ORDER,
    PART_ORDER,
    Drift,
    FieldDifference,
    ListDrift,
    Part,
)
from reconciler.failures import FailedRow
from reconciler.model import ContactStatus
from reconciler.plan.jsonform import current_to_dict
from reconciler.plan.model import CurrentStateRef
from reconciler.redact import scrub_data

#: What a field value becomes in a redacted report: names are personal data too.
HIDDEN = "***"

_LEFT = (ContactStatus.UNSUBSCRIBED, ContactStatus.BOUNCED, ContactStatus.COMPLAINT)


#: Each origin's words, by its JSON value (the reports' "since the last apply").
ORIGIN_WORDS: dict[str, str] = {o.value: o.words for o in ORIGIN_ORDER}


def _parts(counts: dict[Part, int]) -> dict[str, int]:
    return {part.value: counts[part] for part in PART_ORDER}


def _current(ref: CurrentStateRef | None) -> dict[str, Any] | None:
    """The plan JSON's fingerprint of a current state, without the vendor's reported total
    (not part of the drift report's schema)."""
    data = current_to_dict(ref)
    if data is not None:
        data.pop("reported_total", None)
    return data


def _fields(diff: FieldDifference, email: Callable[[str], str], redact: bool) -> dict[str, Any]:
    def value(text: str | None) -> str | None:
        return HIDDEN if redact and text is not None else text

    return {
        "email": email(diff.email),
        "declared_at": diff.declared_at,
        "fields": [
            {"name": name, "vendor": value(old), "desired": value(new)}
            for name, old, new in diff.fields
        ],
    }


def _failed(ld: ListDrift, email: Callable[[str], str]) -> dict[str, Any]:
    """The last apply's refused rows: every job with some, a bounded sample each."""

    def row(failed: FailedRow) -> dict[str, Any]:
        reason = failed.reason
        if failed.email is not None:  # a vendor may name the address in its reason too
            reason = reason.replace(failed.email, email(failed.email))
        return {
            "row": failed.row,
            "email": email(failed.email) if failed.email is not None else None,
            "reason": reason,
        }

    return {
        "rows": sum(job.failures.failed for job in ld.failed),
        "jobs": [
            {
                "action": job.action,
                "batch": job.batch,
                "rows": job.rows,
                "failed": job.failures.failed,
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "file": job.failures.path,
                "found": job.failures.found,
                "sample": [row(r) for r in job.failures.sample],
            }
            for job in ld.failed
        ],
    }


def list_to_dict(ld: ListDrift, *, sample: int, redact: bool) -> dict[str, Any]:
    def email(address: str) -> str:
        return mask(address) if redact else address

    def origin(address: str) -> str | None:
        found = ld.origin_of.get(address)
        return found.value if found is not None else None

    by_action: dict[str, int] = {}
    for job in ld.pending:
        by_action[job.action] = by_action.get(job.action, 0) + job.rows
    return {
        "name": ld.name,
        "provider": ld.provider,
        "vendor": ld.vendor,
        "vendor_list_id": ld.vendor_list_id,
        "mode": ld.mode.value,
        "current": _current(ld.current),
        "has_drift": ld.has_drift,
        "counts": _parts(ld.counts),
        "changes": {
            "by_kind": {kind.value: ld.changes.get(kind, 0) for kind in CHANGE_KINDS},
            "gaps": [
                {"action": g.action.value, "count": g.count, "explanation": g.explanation}
                for g in ld.gaps
            ],
            "sample": [
                {
                    "kind": c.kind.value,
                    "email": email(c.email),
                    "reason": c.reason,
                    "origin": origin(c.email),
                }
                for c in ld.change_sample
            ],
        },
        "absorb": {
            "by_status": {
                status.value: sum(1 for a in ld.absorb if a.status is status) for status in _LEFT
            },
            "sample": [
                {
                    "email": email(a.email),
                    "status": a.status.value,
                    "reason": a.reason.value,
                    "declared_at": a.declared_at,
                    "origin": origin(a.email),
                }
                for a in ld.absorb[:sample]
            ],
        },
        "fields": {
            "by_field": dict(ld.field_counts),
            "sample": [
                {**_fields(d, email, redact), "origin": origin(d.email)}
                for d in ld.field_sample[:sample]
            ],
        },
        "pending": {
            "by_action": by_action,
            "jobs": [
                {
                    "action": job.action,
                    "batch": job.batch,
                    "rows": job.rows,
                    "status": job.status,
                    "vendor_job_id": job.vendor_job_id,
                    "submitted_at": job.submitted_at.isoformat() if job.submitted_at else None,
                }
                for job in ld.pending
            ],
        },
        "held_suppressed": ld.held_suppressed,
        "failed": _failed(ld, email),
        "origins": {o.value: n for o, n in ld.origins.items()},
    }


def drift_to_dict(drift: Drift, *, redact: bool = True) -> dict[str, Any]:
    return {
        "format_version": drift.format_version,
        "created_at": drift.created_at.isoformat(),
        "config_checksum": drift.config_checksum,
        "has_drift": drift.has_drift,
        "redacted": redact,
        "sample": drift.sample,
        "summary": _parts(drift.counts),
        "vendors": {vendor: _parts(counts) for vendor, counts in drift.by_vendor.items()},
        "lists": [list_to_dict(ld, sample=drift.sample, redact=redact) for ld in drift.lists],
    }


def render_json(drift: Drift, *, redact: bool = True) -> str:
    data = scrub_data(drift_to_dict(drift, redact=redact))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
