"""The drift report as terminal text: counts only, no addresses (CI logs are widely read; the
addresses are in the report files, masked unless asked otherwise). Data values (list IDs,
locations, explanations, field names) go through ``render.safe.terminal``."""

from __future__ import annotations

from reconciler.drift.model import CHANGE_KINDS, Drift, ListDrift, Part
from reconciler.redact import scrub
from reconciler.render.safe import terminal

NO_DRIFT = "No drift. The vendors match the repository."


def summary_line(drift: Drift) -> str:
    """``Drift: 3 to apply, 1 to absorb, 2 with field drift, 0 pending.`` — every part, always,
    in the same order."""
    if not drift.has_drift:
        return NO_DRIFT
    n = drift.counts
    return (
        f"Drift: {n[Part.CHANGES]:,} to apply, {n[Part.ABSORB]:,} to absorb, "
        f"{n[Part.FIELDS]:,} with field drift, {n[Part.PENDING]:,} pending."
    )


def _detail(counts: dict[str, int]) -> str:
    shown = [f"{n:,} {terminal(name)}" for name, n in counts.items() if n]
    return f" ({', '.join(shown)})" if shown else ""


def render_list(ld: ListDrift) -> list[str]:
    lines = [
        f"List {ld.name!r} ({ld.vendor} list {terminal(ld.vendor_list_id)} via provider "
        f"{ld.provider!r}): " + ("drift" if ld.has_drift else "in sync")
    ]
    if ld.current is not None:
        ref = ld.current
        read = f", read {ref.read_at.isoformat()}" if ref.read_at else ""
        lines.append(
            f"  current state: {ref.kind} {terminal(ref.location)} ({ref.rows:,} rows, "
            f"sha256 {ref.sha256[:12]}…{read})"
        )
    counts = ld.counts
    changes = {kind.value: ld.changes.get(kind, 0) for kind in CHANGE_KINDS}
    lines.append(f"  to apply (the repository wants): {counts[Part.CHANGES]:,}{_detail(changes)}")
    for gap in ld.gaps:
        lines.append(f"    ✗ cannot apply: {terminal(gap.explanation)}")
    statuses: dict[str, int] = {}
    for item in ld.absorb:
        statuses[item.status.value] = statuses.get(item.status.value, 0) + 1
    lines.append(f"  to absorb (changed at the vendor): {counts[Part.ABSORB]:,}{_detail(statuses)}")
    lines.append(f"  field drift: {counts[Part.FIELDS]:,}{_detail(dict(ld.field_counts))}")
    if ld.origins:  # three-way: which side moved since the last apply
        moved = ", ".join(f"{n:,} {origin.words}" for origin, n in ld.origins.items())
        lines.append(f"  since the last apply: {moved}")
    jobs = len(ld.pending)
    lines.append(f"  pending: {counts[Part.PENDING]:,} rows in {jobs:,} job(s)")
    if ld.failed:  # counts and files only: the addresses are in the files and the reports
        rows = sum(job.failures.failed for job in ld.failed)
        files = ", ".join(terminal(job.failures.path) for job in ld.failed)
        lines.append(
            f"  failed in the last apply: {rows:,} rows in {len(ld.failed):,} job(s): {files}"
        )
    return lines


def render_text(drift: Drift) -> str:
    lines: list[str] = []
    for ld in drift.lists:
        lines.extend(render_list(ld))
        lines.append("")
    lines.append(summary_line(drift))
    return scrub("\n".join(lines) + "\n")
