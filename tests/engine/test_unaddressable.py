"""Rows the vendor holds without a valid address: no batch can name them, so the plan leaves
them as they are and says how many there are (never `- None` in a removal batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SourceError
from reconciler.model import DropAction, ListMode
from reconciler.plan.model import Unaddressable
from tests.engine.conftest import Write, kinds, one_list, plan_for

EXPORT = {"format": "ongage", "path": "export.csv"}


@pytest.mark.parametrize("mode", [ListMode.AUTHORITATIVE, ListMode.ADDITIVE])
@pytest.mark.parametrize("drop", [DropAction.REMOVE, DropAction.UNSUBSCRIBE])
def test_undeclared_vendor_rows_without_a_valid_address_are_left_alone(
    write: Write, workdir: Path, mode: ListMode, drop: DropAction
) -> None:
    write("members.csv", "email\na@example.com\n")
    write(
        "export.csv",
        "email,status\n,active\nb@example.com,active\nNot An Email,active\n"
        "x@@example.com,unsubscribed\n a@example.com ,active\n",
    )
    config = one_list(
        members=[{"csv": "members.csv"}], export=EXPORT, mode=mode.value, drop_action=drop.value
    )
    plan = plan_for(workdir, config).lists[0]
    expected = {drop.value: {"b@example.com"}} if mode is ListMode.AUTHORITATIVE else {}
    assert kinds(plan) == expected  # a@example.com is held at the vendor as declared
    assert plan.unaddressable == Unaddressable(3, ("", "not an email", "x@@example.com"))
    # They are still the vendor's rows: counted as such.
    assert (plan.current.rows if plan.current else None, plan.active_members) == (5, 4)


def test_a_clean_export_has_nothing_unaddressable(write: Write, workdir: Path) -> None:
    write("members.csv", "email\na@example.com\n")
    write("export.csv", "email,status\nb@example.com,active\n")
    plan = plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT)).lists[0]
    assert plan.unaddressable is None
    assert kinds(plan) == {"add": {"a@example.com"}, "remove": {"b@example.com"}}


def test_a_vendor_address_that_unicode_folds_into_a_member_is_not_that_member(
    write: Write, workdir: Path
) -> None:
    # Unicode lower-casing turns "İvan" into "ivan" and the Kelvin sign into "k": the vendor's
    # rows are not these members, and cannot be addressed.
    write("members.csv", "email\nivan@example.com\nkim@example.com\n")
    write(
        "export.csv", "email,status\nİvan@example.com,unsubscribed\n\u212aim@example.com,active\n"
    )
    plan = plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT)).lists[0]
    assert kinds(plan) == {"add": {"ivan@example.com", "kim@example.com"}}
    assert plan.unaddressable == Unaddressable(2, ("İvan@example.com", "\u212aim@example.com"))


def test_a_member_that_unicode_folds_into_ascii_is_invalid(write: Write, workdir: Path) -> None:
    write(
        "members.csv",
        "email\nİvan@example.com\n\u212aim@example.com\n" + "a" * 65 + "@example.com\n",
    )
    write("export.csv", "email,status\nivan@example.com,active\n")
    with pytest.raises(SourceError) as caught:
        plan_for(workdir, one_list(members=[{"csv": "members.csv"}], export=EXPORT))
    assert [str(p) for p in caught.value.problems] == [
        "members.csv:2: invalid e-mail address 'İvan@example.com': U+0130 is not an ASCII "
        "character (addresses are matched and sent as ASCII)",
        "members.csv:3: invalid e-mail address '\u212aim@example.com': U+212A is not an ASCII "
        "character (addresses are matched and sent as ASCII)",
        "members.csv:4: e-mail address whose local part is longer than 64 characters",
    ]
