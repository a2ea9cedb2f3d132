"""The counts a plan reports (vendor rows, active contacts, distinct declared addresses) are
exact whether the export's rows are counted from its lines or by reading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.plan.model import ListPlan
from reconciler.sources.csvfile import open_csv
from tests.engine.conftest import Write, one_list, plan_for

MEMBERS = """email,first_name
a@example.com,Ann
b@example.com,Bob
B@example.com,
c@example.com,Cy
c@example.com,Cy
d@example.com,Di
"""

# d is held twice by the vendor (case variants), once unsubscribed; b is unsubscribed and
# declared twice; e is bounced and undeclared; f is active and undeclared.
EXPORT = """email,first_name,status
a@example.com,Ann,active
b@example.com,Bob,unsubscribed
c@example.com,Cy,active
d@example.com,Di,active
D@example.com,Di,unsubscribed
e@example.com,,bounced
f@example.com,,active
"""


def _plan(workdir: Path) -> ListPlan:
    """The plan of members.csv against export.csv, first names managed."""
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        managed=["first_name"],
    )
    return plan_for(workdir, config).lists[0]


@pytest.mark.parametrize("quoted", [False, True], ids=["counted-by-lines", "read"])
def test_counts_are_exact(write: Write, workdir: Path, quoted: bool) -> None:
    write("members.csv", MEMBERS)
    # A quoted field makes the export's rows impossible to count by its lines.
    write("export.csv", EXPORT.replace("f@example.com", '"f@example.com"') if quoted else EXPORT)
    plan = _plan(workdir)
    lines = open_csv(workdir / "export.csv", display="export.csv").rows_by_lines()
    assert lines == (None if quoted else 7)
    assert plan.current.rows == 7
    assert plan.active_members == 4  # a, c, d (active variant), f
    assert plan.desired_members == 4  # a, b, c, d
    assert {c.email: c.kind.value for c in plan.changes} == {
        "b@example.com": "held",
        "d@example.com": "held",
        "f@example.com": "remove",
    }


def test_addresses_sharing_a_first_key_are_told_apart(
    write: Write, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three values of the first key for eight addresses: every key repeats, and the second
    # key tells them apart, in the counts as in the changes.
    from reconciler.engine import diff, members, planner

    used: set[str] = set()
    for module in (diff, members, planner):

        def colliding(expr: str, name: str = module.__name__) -> str:
            used.add(name)
            return f"(hash({expr}) % 3)"

        monkeypatch.setattr(module, "hash_sql", colliding)
    test_counts_are_exact(write, workdir, quoted=False)
    # Not vacuous: every module that keys addresses planned with the colliding key.
    assert used == {
        "reconciler.engine.diff",
        "reconciler.engine.members",
        "reconciler.engine.planner",
    }


@pytest.mark.parametrize("declared_twice", [False, True])
def test_every_vendor_row_of_a_shared_first_key_is_decided(
    write: Write, workdir: Path, monkeypatch: pytest.MonkeyPatch, declared_twice: bool
) -> None:
    # y and z share the first key. y is declared, active and equal at the vendor (nothing to
    # do); z is not declared (removed); x, declared twice, shares the key too in the second
    # case. Unequal second keys make the key hot: y's own row must still be seen.
    from reconciler.engine import diff, members, planner

    shared = "('y@example.com', 'z@example.com', 'x@example.com')"
    for module in (diff, members, planner):
        monkeypatch.setattr(
            module,
            "hash_sql",
            lambda expr: f"(CASE WHEN {expr} IN {shared} THEN 42 ELSE hash({expr}) END)::UBIGINT",
        )
    extra = "x@example.com,Xi\nX@example.com,Xi\n" if declared_twice else ""
    write("members.csv", f"email,first_name\na@example.com,Ann\ny@example.com,Yo\n{extra}")
    write(
        "export.csv",
        "email,first_name,status\na@example.com,Ann,active\ny@example.com,Yo,active\n"
        "z@example.com,Zed,active\n",
    )
    plan = _plan(workdir)
    expected = {"z@example.com": "remove"}
    if declared_twice:
        expected["x@example.com"] = "add"
    assert {c.email: c.kind.value for c in plan.changes} == expected
    assert (plan.current.rows, plan.active_members) == (3, 3)
    assert plan.desired_members == (3 if declared_twice else 2)
