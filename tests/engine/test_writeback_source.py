"""The write-back file (``writeback.path``) as a suppression source: scoped to the list each row
was seen on, or to every list under ``suppressions_policy.propagate_vendor_suppressions``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import SourceError
from tests.engine.conftest import Write, kinds, plan_for

PULLED = (
    "email,reason,vendor,list,seen_at\n"
    "carl@example.com,complaint,ongage,news,2026-11-01\n"
    "dora@example.com,bounce,ongage,gone,2026-11-01\n"
)


def config(propagate: bool | None = None) -> dict[str, Any]:
    def one(list_id: str) -> dict[str, Any]:
        return {
            "provider": "og",
            "list_id": list_id,
            "members": [{"csv": "members.csv"}],
            "export": {"format": "ongage", "path": "export.csv"},
        }

    data: dict[str, Any] = {
        "providers": {"og": {"type": "ongage"}},
        "lists": {"news": one("1"), "other": one("2")},
        "writeback": {"path": "suppressions/vendor.csv"},
    }
    if propagate is not None:
        data["suppressions_policy"] = {"propagate_vendor_suppressions": propagate}
    return data


@pytest.fixture
def files(write: Write) -> Write:
    write("members.csv", "email\ncarl@example.com\ndora@example.com\n")
    write("export.csv", "email,status\ncarl@example.com,active\ndora@example.com,active\n")
    return write


def test_no_file_yet_is_no_suppression(files: Write, workdir: Path) -> None:
    plan = plan_for(workdir, config())
    assert [kinds(lp) for lp in plan.lists] == [{}, {}]


def test_a_pulled_row_applies_to_its_own_list_only(files: Write, workdir: Path) -> None:
    files("suppressions/vendor.csv", PULLED)
    news, other = plan_for(workdir, config(propagate=False)).lists
    assert kinds(news) == {"complaint": {"carl@example.com"}}
    assert news.changes[0].reason == "suppressed: complaint (suppressions/vendor.csv:2)"
    assert kinds(other) == {}  # and dora's row names a list that no longer exists


def test_the_policy_propagates_pulled_rows_to_every_list(files: Write, workdir: Path) -> None:
    files("suppressions/vendor.csv", PULLED)
    expected = {"complaint": {"carl@example.com"}, "bounce": {"dora@example.com"}}
    assert [kinds(lp) for lp in plan_for(workdir, config(propagate=True)).lists] == [
        expected,
        expected,
    ]


def test_a_bad_row_in_the_file_is_located(files: Write, workdir: Path) -> None:
    files("suppressions/vendor.csv", "email,reason,vendor,list,seen_at\nx@example.com,spam,,,\n")
    with pytest.raises(SourceError) as exc:
        plan_for(workdir, config())
    assert [str(p) for p in exc.value.problems] == [
        "suppressions/vendor.csv:2: unknown suppression reason 'spam' "
        "(expected one of: unsubscribe, bounce, complaint)"
    ]
