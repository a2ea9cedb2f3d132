"""The rules of the diff, for one address on one list, as one pure function.

``specs/plan-semantics.md`` states these rules in prose; each has a unit test. The DuckDB pass
in ``diff.py`` only narrows millions of addresses down to the few that may change; every
decision is taken here, so the rules live in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.model import ChangeKind, ContactStatus, DropAction, ListMode, SuppressionReason
from reconciler.plan.model import ListChange

#: When one address is suppressed for several reasons, the strongest decides the action.
REASON_RANK: dict[SuppressionReason, int] = {
    SuppressionReason.UNSUBSCRIBE: 1,
    SuppressionReason.BOUNCE: 2,
    SuppressionReason.COMPLAINT: 3,
}


@dataclass(frozen=True, slots=True)
class Declared:
    """A declared member, merged over every row that declares it."""

    origin: str  # file:line of the first declaration
    fields: Mapping[str, str | None] = field(default_factory=dict)  # None/"" = no opinion


@dataclass(frozen=True, slots=True)
class AtVendor:
    status: ContactStatus
    fields: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suppressed:
    reason: SuppressionReason
    origin: str


@dataclass(frozen=True, slots=True)
class OptIn:
    consent: str
    origin: str


@dataclass(frozen=True, slots=True)
class ListRules:
    mode: ListMode
    drop_action: DropAction
    managed_fields: Sequence[str] = ()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def changed_fields(
    desired: Mapping[str, str | None], current: Mapping[str, str | None], managed: Sequence[str]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Managed fields whose desired value is set and differs from the vendor's.

    An empty desired value means "no opinion": it never blanks out the vendor's value."""
    new: dict[str, str | None] = {}
    old: dict[str, str | None] = {}
    for name in managed:
        want = _clean(desired.get(name))
        if want is None:
            continue
        have = _clean(current.get(name))
        if want != have:
            new[name] = want
            old[name] = have
    return new, old


def _desired_fields(declared: Declared, managed: Sequence[str]) -> dict[str, str | None]:
    return {
        name: value for name in managed if (value := _clean(declared.fields.get(name))) is not None
    }


def decide_at_vendor(
    email: str,
    rules: ListRules,
    origin: str,
    desired_fields: Mapping[str, str | None],
    vendor: AtVendor,
    *,
    opt_in: OptIn | None,
) -> ListChange | None:
    """A declared member the vendor holds, not suppressed (the engine calls this directly for
    the many addresses that are neither suppressed nor duplicated)."""
    if vendor.status is not ContactStatus.ACTIVE:
        # Unsubscribed, bounced or complained at the vendor: only an explicit, recorded
        # opt-in brings the contact back.
        if opt_in is not None:
            fields = _desired_fields(Declared(origin, desired_fields), rules.managed_fields)
            reason = f"opt-in: {opt_in.consent} ({opt_in.origin})"
            return ListChange(ChangeKind.RESUBSCRIBE, email, reason, fields, dict(vendor.fields))
        reason = f"vendor status: {vendor.status.value}; declared at {origin}"
        return ListChange(ChangeKind.HELD, email, reason)
    new, old = changed_fields(desired_fields, vendor.fields, rules.managed_fields)
    if new:
        return ListChange(ChangeKind.UPDATE, email, origin, new, old)
    return None


def decide(
    email: str,
    rules: ListRules,
    *,
    declared: Declared | None,
    vendor: AtVendor | None,
    suppressed: Suppressed | None,
    opt_in: OptIn | None,
) -> ListChange | None:
    """What happens to ``email`` on a list, or None when nothing does."""
    active = vendor is not None and vendor.status is ContactStatus.ACTIVE

    # Suppression wins over membership everywhere: a suppressed address is never added,
    # kept or re-subscribed, whatever the member sources or opt-ins say.
    if suppressed is not None:
        cause = f"suppressed: {suppressed.reason.value} ({suppressed.origin})"
        if active:
            return ListChange(ChangeKind(suppressed.reason.action.value), email, cause)
        if declared is not None:
            return ListChange(ChangeKind.HELD, email, f"{cause}; declared at {declared.origin}")
        return None

    if declared is not None:
        if vendor is None:
            fields = _desired_fields(declared, rules.managed_fields)
            return ListChange(ChangeKind.ADD, email, declared.origin, fields)
        return decide_at_vendor(
            email, rules, declared.origin, declared.fields, vendor, opt_in=opt_in
        )

    if active and rules.mode is ListMode.AUTHORITATIVE:
        kind = ChangeKind(rules.drop_action.value)
        return ListChange(kind, email, drop_reason(kind))
    return None


def drop_reason(kind: ChangeKind) -> str:
    """The reason of a drop: an active member an authoritative list does not declare."""
    return f"not declared (authoritative list, drop action: {kind})"


# The same rules in SQL, for the rows DuckDB decides in bulk (``reconciler.engine.hot``): each
# function gives the columns of table ``chg`` (see ``reconciler.engine.changeset``) for one
# rule, and a property test (tests/engine/test_rules_sql.py) holds them equal to the functions
# above on random rows.

#: The characters ``str.strip()`` removes (``str.isspace``), as an RE2 class.
_SPACE = (
    r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}"
    r"\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)


def _is_space_sql(code: str) -> str:
    return (
        f"({code} BETWEEN 9 AND 13 OR {code} BETWEEN 28 AND 32 OR {code} BETWEEN 8192 AND 8202 "
        f"OR {code} IN (133, 160, 5760, 8232, 8233, 8239, 8287, 12288))"
    )


def clean_sql(expr: str) -> str:
    """SQL of :func:`_clean`: the value stripped as ``str.strip()`` strips, NULL when nothing
    is left. Most values have no white space at either end and skip the regular expression."""
    ends = f"{_is_space_sql(f'ord({expr}[1])')} OR {_is_space_sql(f'ord({expr}[-1])')}"
    return (
        f"nullif(CASE WHEN {ends} THEN regexp_replace({expr}, '^{_SPACE}+|{_SPACE}+$', '', 'g') "
        f"ELSE {expr} END, '')"
    )


def add_sql(kind_number: Mapping[ChangeKind, int], origin: str, wants: Sequence[str]) -> str:
    """The columns of a declared member the vendor does not hold, neither suppressed nor
    opted in (:func:`decide`, ``declared`` and no ``vendor``): its desired fields."""
    values = "".join(f", {clean_sql(w)} AS f{i}" for i, w in enumerate(wants))
    nothing = "".join(f", NULL AS p{i}" for i in range(len(wants)))
    return (
        f"{kind_number[ChangeKind.ADD]} AS k, e AS email, {origin} AS reason, "
        f"'' AS rpre{values}, '' AS pm{nothing}"
    )


def drop_sql(rules: ListRules, kind_number: Mapping[ChangeKind, int]) -> str:
    """The columns of an active member an authoritative list does not declare, neither
    suppressed nor opted in (:func:`decide`, ``vendor`` and no ``declared``)."""
    kind = ChangeKind(rules.drop_action.value)
    reason = drop_reason(kind).replace("'", "''")
    width = len(rules.managed_fields)
    values = "".join(f", NULL AS f{i}" for i in range(width))
    previous = "".join(f", NULL AS p{i}" for i in range(width))
    return f"{kind_number[kind]} AS k, e AS email, '{reason}' AS reason{values}, '' AS pm{previous}"


def compare_sql(want: str, have: str, i: int) -> str:
    """Columns ``want{i}`` and ``have{i}`` for :func:`at_vendor_sql`: a declared value and the
    vendor's, cleaned; both NULL (no change) where the two are equal as written, which is
    most of them, and needs no cleaning."""
    same = f"{want} IS NOT DISTINCT FROM {have}"
    return (
        f"CASE WHEN {same} THEN NULL ELSE {clean_sql(want)} END AS want{i}, "
        f"CASE WHEN {same} THEN NULL ELSE {clean_sql(have)} END AS have{i}"
    )


def at_vendor_sql(
    rules: ListRules, kind_number: Mapping[ChangeKind, int], origin: str
) -> tuple[str, str]:
    """The columns of a declared member the vendor holds, neither suppressed nor opted in
    (:func:`decide_at_vendor` with no opt-in), over columns ``status`` and the values
    ``want0..`` (declared) and ``have0..`` (the vendor's) that :func:`compare_sql` gives; and
    the condition for the row to change at all."""
    inactive = "status <> 'active'"
    held = "'vendor status: ' || status || '; declared at '"
    changed = [
        f"(want{i} IS NOT NULL AND want{i} IS DISTINCT FROM have{i})"
        for i in range(len(rules.managed_fields))
    ]
    # A held row (inactive at the vendor) carries no fields.
    values = "".join(
        f", CASE WHEN NOT {inactive} AND {c} THEN want{i} END AS f{i}"
        for i, c in enumerate(changed)
    )
    previous = "".join(
        f", CASE WHEN NOT {inactive} AND {c} THEN have{i} END AS p{i}"
        for i, c in enumerate(changed)
    )
    mask = " || ".join(f"CASE WHEN {c} THEN '1' ELSE '0' END" for c in changed) or "''"
    updates = (
        f"CASE WHEN {inactive} THEN {kind_number[ChangeKind.HELD]} "
        f"ELSE {kind_number[ChangeKind.UPDATE]} END AS k, e AS email, "
        f"CASE WHEN {inactive} THEN {held} || {origin} ELSE {origin} END AS reason, "
        f"CASE WHEN {inactive} THEN {held} ELSE '' END AS rpre, "
        f"CASE WHEN {inactive} THEN '' ELSE {mask} END AS pm"
    )
    return updates + values + previous, " OR ".join([inactive, *changed])
