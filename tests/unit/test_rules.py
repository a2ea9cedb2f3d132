"""One test per rule of specs/plan-semantics.md, on the pure decision function."""

from __future__ import annotations

import pytest

from reconciler.engine.rules import AtVendor, Declared, ListRules, OptIn, Suppressed, decide
from reconciler.model import ChangeKind, ContactStatus, DropAction, ListMode, SuppressionReason
from reconciler.plan.model import ListChange

AUTH = ListRules(ListMode.AUTHORITATIVE, DropAction.REMOVE, ("first_name",))
AUTH_UNSUB = ListRules(ListMode.AUTHORITATIVE, DropAction.UNSUBSCRIBE, ("first_name",))
ADDITIVE = ListRules(ListMode.ADDITIVE, DropAction.REMOVE, ("first_name",))
ANN = Declared("members.csv:2", {"first_name": "Ann"})
ACTIVE = AtVendor(ContactStatus.ACTIVE, {"first_name": "Ann"})
E = "ann@example.com"


def run(
    rules: ListRules = AUTH,
    declared: Declared | None = None,
    vendor: AtVendor | None = None,
    suppressed: Suppressed | None = None,
    opt_in: OptIn | None = None,
) -> ListChange | None:
    return decide(E, rules, declared=declared, vendor=vendor, suppressed=suppressed, opt_in=opt_in)


def test_add_declared_member_absent_at_vendor() -> None:
    assert run(declared=ANN) == ListChange(
        ChangeKind.ADD, E, "members.csv:2", {"first_name": "Ann"}
    )


def test_add_leaves_out_empty_fields() -> None:
    change = run(declared=Declared("m.csv:3", {"first_name": "  "}))
    assert change == ListChange(ChangeKind.ADD, E, "m.csv:3", {})


def test_declared_and_active_with_same_fields_is_no_change() -> None:
    assert run(declared=ANN, vendor=ACTIVE) is None


@pytest.mark.parametrize(
    "status", [ContactStatus.UNSUBSCRIBED, ContactStatus.BOUNCED, ContactStatus.COMPLAINT]
)
def test_held_when_vendor_status_blocks_and_no_opt_in(status: ContactStatus) -> None:
    change = run(declared=ANN, vendor=AtVendor(status, {}))
    assert change == ListChange(
        ChangeKind.HELD, E, f"vendor status: {status.value}; declared at members.csv:2"
    )


def test_opt_in_turns_held_into_resubscribe() -> None:
    change = run(
        declared=ANN,
        vendor=AtVendor(ContactStatus.UNSUBSCRIBED, {"first_name": "Old"}),
        opt_in=OptIn("ticket-42", "optins.yaml:4"),
    )
    assert change == ListChange(
        ChangeKind.RESUBSCRIBE,
        E,
        "opt-in: ticket-42 (optins.yaml:4)",
        {"first_name": "Ann"},
        {"first_name": "Old"},
    )


def test_opt_in_for_an_undeclared_address_does_nothing() -> None:
    vendor = AtVendor(ContactStatus.UNSUBSCRIBED, {})
    assert run(vendor=vendor, opt_in=OptIn("t", "o.yaml:1")) is None


def test_opt_in_never_beats_a_suppression() -> None:
    change = run(
        declared=ANN,
        vendor=AtVendor(ContactStatus.UNSUBSCRIBED, {}),
        suppressed=Suppressed(SuppressionReason.COMPLAINT, "sup.csv:9"),
        opt_in=OptIn("t", "o.yaml:1"),
    )
    assert change is not None
    assert (change.kind, change.reason) == (
        ChangeKind.HELD,
        "suppressed: complaint (sup.csv:9); declared at members.csv:2",
    )


def test_remove_undeclared_active_member_of_authoritative_list() -> None:
    assert run(vendor=ACTIVE) == ListChange(
        ChangeKind.REMOVE, E, "not declared (authoritative list, drop action: remove)"
    )


def test_drop_action_unsubscribe() -> None:
    change = run(AUTH_UNSUB, vendor=ACTIVE)
    assert change is not None and change.kind is ChangeKind.UNSUBSCRIBE


def test_additive_list_never_drops() -> None:
    assert run(ADDITIVE, vendor=ACTIVE) is None


def test_undeclared_and_already_unsubscribed_is_left_alone() -> None:
    assert run(vendor=AtVendor(ContactStatus.UNSUBSCRIBED, {})) is None


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (SuppressionReason.UNSUBSCRIBE, ChangeKind.UNSUBSCRIBE),
        (SuppressionReason.BOUNCE, ChangeKind.BOUNCE),
        (SuppressionReason.COMPLAINT, ChangeKind.COMPLAINT),
    ],
)
def test_suppressed_active_contact_gets_the_reasons_action(
    reason: SuppressionReason, kind: ChangeKind
) -> None:
    for rules in (AUTH, ADDITIVE):  # suppression applies to additive lists too
        for declared in (ANN, None):
            change = run(
                rules, declared=declared, vendor=ACTIVE, suppressed=Suppressed(reason, "sup.csv:3")
            )
            assert change == ListChange(kind, E, f"suppressed: {reason.value} (sup.csv:3)")


def test_suppressed_declared_member_is_never_added() -> None:
    change = run(declared=ANN, suppressed=Suppressed(SuppressionReason.BOUNCE, "sup.csv:3"))
    assert change == ListChange(
        ChangeKind.HELD, E, "suppressed: bounce (sup.csv:3); declared at members.csv:2"
    )


def test_suppressed_address_unknown_everywhere_is_no_change() -> None:
    assert run(suppressed=Suppressed(SuppressionReason.BOUNCE, "s.csv:2")) is None


def test_update_changed_managed_field() -> None:
    change = run(declared=ANN, vendor=AtVendor(ContactStatus.ACTIVE, {"first_name": "Anne"}))
    assert change == ListChange(
        ChangeKind.UPDATE, E, "members.csv:2", {"first_name": "Ann"}, {"first_name": "Anne"}
    )


def test_update_fills_a_missing_vendor_value() -> None:
    change = run(declared=ANN, vendor=AtVendor(ContactStatus.ACTIVE, {"first_name": ""}))
    assert change == ListChange(
        ChangeKind.UPDATE, E, "members.csv:2", {"first_name": "Ann"}, {"first_name": None}
    )


def test_empty_desired_value_never_blanks_the_vendor_value() -> None:
    declared = Declared("m.csv:2", {"first_name": ""})
    assert run(declared=declared, vendor=ACTIVE) is None


def test_unmanaged_fields_are_ignored() -> None:
    rules = ListRules(ListMode.AUTHORITATIVE, DropAction.REMOVE, ())
    assert run(rules, declared=ANN, vendor=AtVendor(ContactStatus.ACTIVE, {"x": "y"})) is None


def test_field_values_compare_trimmed() -> None:
    vendor = AtVendor(ContactStatus.ACTIVE, {"first_name": " Ann "})
    assert run(declared=ANN, vendor=vendor) is None
