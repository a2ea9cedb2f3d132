"""Rows the vendor holds without a valid address: no batch can name them, so the plan leaves
them as they are and says how many there are (never `- None` in a removal batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
