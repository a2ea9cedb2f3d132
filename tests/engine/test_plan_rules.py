"""The rules of specs/plan-semantics.md end to end through the DuckDB engine: exact sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import ChangeKind
from reconciler.plan.model import ListPlan
from tests.engine.conftest import Write, kinds, one_list, plan_for

MEMBERS = """email,first_name
ann@example.com,Ann
BOB@Example.COM ,Bob
carl@example.com,Carl
dora@example.com,Dora
erin@example.com,Erin
fay@example.com,
gus@example.com,Gus
"""

EXPORT = """email,first_name,status
bob@example.com,Robert,active
carl@example.com,Carl,unjoin-member
dora@example.com,Dora,active
erin@example.com,Erin,bounced
fay@example.com,Fay,active
gus@example.com,Gus,complaint
yan@example.com,Yan,active
zed@example.com,Zed,active
old@example.com,Old,unjoin-member
"""

SUPPRESSIONS = """email,reason
yan@example.com,complaint
dora@example.com,bounce
hal@example.com,unsubscribe
"""


def plan_files(
    write: Write,
    workdir: Path,
    members: str = MEMBERS,
    export: str = EXPORT,
    suppressions: str | None = SUPPRESSIONS,
    **extra: object,
) -> ListPlan:
    """The plan of one list with ``first_name`` managed, from these CSV texts."""
    write("members.csv", members)
    write("export.csv", export)
    if suppressions is not None:
        write("sup.csv", suppressions)
        extra["suppressions"] = [{"csv": "sup.csv"}]
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        managed=["first_name"],
        **extra,
    )
    return plan_for(workdir, config).lists[0]


def scenario(write: Write, workdir: Path, **extra: object) -> dict[str, set[str]]:
    return kinds(plan_files(write, workdir, **extra))


def test_every_kind_of_change_with_exact_sets(write: Write, workdir: Path) -> None:
    assert scenario(write, workdir) == {
        "add": {"ann@example.com"},
        "remove": {"zed@example.com"},
        "bounce": {"dora@example.com"},
        "complaint": {"yan@example.com"},
        "update": {"bob@example.com"},
        "held": {"carl@example.com", "erin@example.com", "gus@example.com"},
    }


def test_resubscribe_only_with_an_opt_in(write: Write, workdir: Path) -> None:
    opt_ins = [{"inline": [{"email": "ERIN@example.com", "consent": "form-7"}]}]
    result = scenario(write, workdir, resubscribe=opt_ins)
    assert result["resubscribe"] == {"erin@example.com"}
    assert result["held"] == {"carl@example.com", "gus@example.com"}


def test_opt_in_restricted_to_other_lists_does_not_apply(write: Write, workdir: Path) -> None:
    opt_ins = [{"inline": [{"email": "erin@example.com", "consent": "f", "lists": ["other"]}]}]
    result = scenario(write, workdir, resubscribe=opt_ins)
    assert "resubscribe" not in result
    assert "erin@example.com" in result["held"]


def test_additive_list_never_removes(write: Write, workdir: Path) -> None:
    result = scenario(write, workdir, mode="additive")
    assert "remove" not in result
    assert result["complaint"] == {"yan@example.com"}  # suppressions still apply


def test_drop_action_unsubscribe(write: Write, workdir: Path) -> None:
    result = scenario(write, workdir, drop_action="unsubscribe")
    assert "remove" not in result
    assert result["unsubscribe"] == {"zed@example.com"}


def test_reasons_name_the_source_line(write: Write, workdir: Path) -> None:
    plan = plan_files(write, workdir)
    reasons = {(c.kind, c.email): c.reason for c in plan.changes}
    assert reasons[(ChangeKind.ADD, "ann@example.com")] == "members.csv:2"
    assert reasons[(ChangeKind.UPDATE, "bob@example.com")] == "members.csv:3"
    assert reasons[(ChangeKind.BOUNCE, "dora@example.com")] == "suppressed: bounce (sup.csv:3)"
    assert reasons[(ChangeKind.HELD, "carl@example.com")] == (
        "vendor status: unsubscribed; declared at members.csv:4"
    )
    update = next(plan.of_kind(ChangeKind.UPDATE))
    assert (dict(update.fields), dict(update.previous)) == (
        {"first_name": "Bob"},
        {"first_name": "Robert"},
    )
    assert (plan.desired_members, plan.active_members) == (7, 5)
    assert plan.current is not None and plan.current.rows == 9


def test_suppression_reason_precedence_and_list_scope(write: Write, workdir: Path) -> None:
    write("members.csv", "email\nann@example.com\n")
    write("export.csv", "email\nann@example.com\nbob@example.com\n")
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        suppressions=[{"inline": [{"email": "ann@example.com", "reason": "unsubscribe"}]}],
    )
    config["lists"]["news"]["suppressions"] = [
        {
            "inline": [
                {"email": "ann@example.com", "reason": "complaint"},
                {"email": "bob@example.com", "reason": "bounce"},
            ]
        }
    ]
    plan = plan_for(workdir, config).lists[0]
    assert kinds(plan) == {"complaint": {"ann@example.com"}, "bounce": {"bob@example.com"}}


def test_changes_sorted_by_kind_then_address(write: Write, workdir: Path) -> None:
    write("members.csv", "email\nc@example.com\na@example.com\nb@example.com\n")
    write("export.csv", "email\nz@example.com\ny@example.com\n")
    config = one_list(
        members=[{"csv": "members.csv"}], export={"format": "ongage", "path": "export.csv"}
    )
    plan = plan_for(workdir, config).lists[0]
    assert [(c.kind.value, c.email) for c in plan.changes] == [
        ("add", "a@example.com"),
        ("add", "b@example.com"),
        ("add", "c@example.com"),
        ("remove", "y@example.com"),
        ("remove", "z@example.com"),
    ]


def test_no_changes_when_in_sync(write: Write, workdir: Path) -> None:
    write("members.csv", "email\nA@example.com\n")
    write("export.csv", "email,status\na@example.com,active\n")
    config = one_list(
        members=[{"csv": "members.csv"}], export={"format": "ongage", "path": "export.csv"}
    )
    plan = plan_for(workdir, config)
    assert plan.lists[0].changes == () and not plan.has_actions


def test_white_space_around_a_field_is_no_update(write: Write, workdir: Path) -> None:
    # On either side, and in every path the engine decides by: a plain matched member (ann,
    # bob, cy, dee), an address declared twice (eve), a suppressed one (fox).
    plan = plan_files(
        write,
        workdir,
        "email,first_name\n"
        "ann@example.com, Ann \nbob@example.com,   \ncy@example.com,Cy\ndee@example.com,Dee\n"
        "eve@example.com,Eve\neve@example.com,Eve \nfox@example.com,\tFox\n",
        "email,first_name,status\n"
        "ann@example.com,Ann,active\nbob@example.com,Robert,active\ncy@example.com,Cy  ,active\n"
        "dee@example.com,Deb,active\neve@example.com, Eve,active\n"
        "fox@example.com,Fox,active\n",
        "email,reason\nfox@example.com,unsubscribe\n",
    )
    rows = {(c.kind.value, c.email, *c.fields.items(), *c.previous.items()) for c in plan.changes}
    assert rows == {
        ("update", "dee@example.com", ("first_name", "Dee"), ("first_name", "Deb")),
        ("unsubscribe", "fox@example.com"),
    }


@pytest.mark.parametrize("first", [0, 1])
def test_an_address_held_twice_at_the_vendor_is_planned_the_same_in_any_order(
    write: Write, workdir: Path, first: int
) -> None:
    # Both case variants are active with different names: the plan names the same previous
    # value whichever comes first in the export.
    variants = ["ANN@example.com,Annie,active\n", "ann@example.com,Anne,active\n"]
    changes = plan_files(
        write,
        workdir,
        "email,first_name\nann@example.com,Ann\n",
        "email,first_name,status\n" + variants[first] + variants[1 - first],
        None,
    ).changes
    rows = [(c.kind.value, c.email, *c.fields.items(), *c.previous.items()) for c in changes]
    assert rows == [("update", "ann@example.com", ("first_name", "Ann"), ("first_name", "Anne"))]


def test_capability_gaps_name_vendor_list_action_and_count(write: Write, workdir: Path) -> None:
    write("members.csv", "email\na@example.com\n")
    write("export.csv", "email\nx@example.com\ny@example.com\nz@example.com\n")
    config = one_list(
        members=[{"csv": "members.csv"}], export={"format": "ongage", "path": "export.csv"}
    )
    config["providers"]["og"]["type"] = "yesmail"
    plan = plan_for(workdir, config).lists[0]
    assert [(g.action, g.count, g.explanation) for g in plan.gaps] == [
        (
            ChangeKind.REMOVE,
            3,
            "yesmail cannot remove through its documented API: 3 removals on list 'news' "
            "cannot be applied",
        )
    ]


def test_forty_managed_fields_keep_every_previous_value(write: Write, workdir: Path) -> None:
    """A list may manage more fields than an integer has bits: which fields an update
    changes is kept for each of them, in both stores."""
    names = [f"f{i:02d}" for i in range(40)]
    header = ",".join(["email", *names])
    write("members.csv", f"{header}\nann@example.com,{','.join(['x'] * 39 + ['new'])}\n")
    write(
        "export.csv",
        f"email,status,{','.join(names)}\nann@example.com,active,{','.join(['x'] * 39 + [''])}\n",
    )
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        managed=names,
    )
    plan = plan_for(workdir, config).lists[0]
    assert [(c.kind.value, c.email, dict(c.fields), dict(c.previous)) for c in plan.changes] == [
        ("update", "ann@example.com", {"f39": "new"}, {"f39": None})
    ]
