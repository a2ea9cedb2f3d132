"""Turn the few hot rows DuckDB found into the inputs of :func:`reconciler.engine.rules.decide`:
declarations merged over duplicate rows, one vendor contact per address, the strongest
suppression per address."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler import limits
from reconciler.address import invalid_reason
from reconciler.config.text import quoted, refusal
from reconciler.engine.rules import REASON_RANK, AtVendor, Declared, OptIn, Suppressed
from reconciler.errors import Problem
from reconciler.model import ContactStatus, SuppressionReason
from reconciler.sources.desired import DesiredSources

_STATUS_RANK = {
    ContactStatus.ACTIVE: 0,
    ContactStatus.UNSUBSCRIBED: 1,
    ContactStatus.BOUNCED: 2,
    ContactStatus.COMPLAINT: 3,
}
MAX_REPORTED = 1000  # problems listed per kind before "... and N more"


@dataclass
class OptInIndex:
    """Resubscribe opt-ins by normalised address."""

    entries: dict[str, list[tuple[OptIn, tuple[str, ...] | None]]] = field(default_factory=dict)

    def for_list(self, email: str, list_name: str) -> OptIn | None:
        for opt_in, lists in self.entries.get(email, []):
            if lists is None or list_name in lists:
                return opt_in
        return None


def bounded(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_REPORTED:
        return problems
    rest = len(problems) - MAX_REPORTED
    return [*problems[:MAX_REPORTED], Problem(f"... and {rest:,} more")]


def merge_declared(
    desired: DesiredSources,
    rows: Sequence[tuple[Any, ...]],
    managed: Sequence[str],
    problems: list[Problem],
) -> tuple[dict[str, Declared], list[Problem]]:
    """Merge duplicate declarations (every row of an address in ``rows`` is here: the engine
    reads all rows of a hot address); a field given two different values is an error naming
    both places. Returns the declarations and the invalid rows."""
    invalid: list[Problem] = []
    first: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
    for src, ordinal, raw, email, ok, *values in sorted(rows, key=lambda r: (r[0], r[1])):
        file, line = desired.locate(src, ordinal)
        if not ok:
            reason = (
                invalid_reason(raw or "")
                or _refused_field(managed, values)
                or f"invalid e-mail address {raw!r}"
            )
            invalid.append(Problem(reason, file=file, line=line))
            continue
        origin = f"{file}:{line}" if line else file
        if email not in first:
            first[email] = (origin, {})
        seen = first[email][1]
        for name, value in zip(managed, values, strict=True):
            clean = (value or "").strip()
            if not clean:
                continue
            known = seen.get(name)
            if known is None:
                seen[name] = (clean, origin)
            elif known[0] != clean:
                problems.append(
                    Problem(
                        f"conflicting {name} for {email}: {quoted(known[0])} at {known[1]}, "
                        f"{quoted(clean)} at {origin}",
                        file=file,
                        line=line,
                    )
                )
    declared = {
        email: Declared(origin, {name: value for name, (value, _) in seen.items()})
        for email, (origin, seen) in first.items()
    }
    return declared, invalid


def _refused_field(managed: Sequence[str], values: Sequence[str | None]) -> str | None:
    most = limits.current().field_chars
    for name, value in zip(managed, values, strict=True):
        if value and (refused := refusal(value)) is not None:
            return f"{name} {refused}"
        if value and len(value) > most:
            return (
                f"{name} is {len(value):,} characters long, longer than {most:,}, the most a "
                f"field value may hold ({limits.variable_of('field_chars')} raises it)"
            )
    return None


def merge_vendor(rows: Sequence[tuple[Any, ...]], managed: Sequence[str]) -> dict[str, AtVendor]:
    """One contact per address; if the vendor holds an address twice (case variants), the most
    restrictive status wins so that nobody is mailed by mistake, and between equal statuses the
    values that sort first: rows arrive in no set order, and a plan must not depend on it."""
    state: dict[str, AtVendor] = {}
    for row in rows:
        email, status = row[0], ContactStatus(row[1])
        fields = {name: row[3 + i] for i, name in enumerate(managed)}
        known = state.get(email)
        if (
            known is None
            or _STATUS_RANK[status] > _STATUS_RANK[known.status]
            or (status is known.status and _sort_key(fields) < _sort_key(known.fields))
        ):
            state[email] = AtVendor(status, fields)
    return state


def _sort_key(fields: Mapping[str, str | None]) -> tuple[str, ...]:
    return tuple(value or "" for value in fields.values())


def merge_suppressions(
    desired: DesiredSources, rows: Sequence[tuple[Any, ...]]
) -> dict[str, Suppressed]:
    out: dict[str, Suppressed] = {}
    for email, reason_text, src, ordinal in sorted(rows, key=lambda r: (r[2], r[3])):
        reason = SuppressionReason(reason_text)
        known = out.get(email)
        if known is None or REASON_RANK[reason] > REASON_RANK[known.reason]:
            out[email] = Suppressed(reason, desired.origin(src, ordinal))
    return out
