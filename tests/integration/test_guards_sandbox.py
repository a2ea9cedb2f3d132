"""Export integrity against the sandbox's Ongage, through the command line: contacts deleted
behind reconciler's back shrink the export, and plan and apply refuse before sending."""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.state.model import parse_state
from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
sandbox: {seed: seed.yaml}
lists:
  news:
    provider: og
    list_id: 1001
    members: [{csv: members.csv}]
"""
PEOPLE = [f"p{n}@example.com" for n in range(10)]
SEED = 'ongage:\n  lists:\n    "1001":\n      contacts:\n' + "".join(
    f"        - {{email: {e}, status: active}}\n" for e in PEOPLE
)
SHRUNK = (
    "Error: safety guard max_export_shrink_percent blocked list 'news': the current state read "
    "(ongage POST /1001/api/export (one per status)) has 5 rows, 50% fewer than the 10 expected "
    "(the last export recorded in the state had 10 rows); the limit is 20%. If this is "
    "intended, re-run with --allow-export-shrink (or raise "
    "lists.news.guards.max_export_shrink_percent).\n"
)


def project(tmp_path: Path, members: list[str]) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email\n" + "".join(f"{e}\n" for e in members))
    return p


def imports(p: Project) -> int:
    return sum(
        1 for r in p.sandbox_requests() if r["method"] == "POST" and r["path"].endswith("/import")
    )


def delete_at_the_vendor(p: Project, emails: list[str]) -> None:
    """Contacts deleted directly in the vendor (the sandbox's store), not through reconciler."""
    with EmbeddedSandbox(p.root / ".sandbox") as sandbox:
        for email in emails:
            sandbox.app.db.execute(
                "DELETE FROM ongage_contacts WHERE list_id = '1001' AND email = ?", (email,)
            )


def last_export_rows(p: Project) -> int:
    state = parse_state((p.root / ".reconciler" / "state.json").read_text(), "state")
    seen = state.lists["news"].last_export
    assert seen is not None
    return seen.rows


def test_a_shrunk_export_is_refused_by_plan_and_apply_until_allowed(tmp_path: Path) -> None:
    p = project(tmp_path, PEOPLE)
    first = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert first.code == 0, first.err
    assert last_export_rows(p) == 10 and imports(p) == 0  # nothing to change

    delete_at_the_vendor(p, PEOPLE[5:])
    plan = p.run("plan", "-c", "reconciler.yaml")
    assert (plan.code, plan.err) == (3, SHRUNK)
    assert "  + add: 5" in plan.out  # the plan is still shown

    apply = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert (apply.code, apply.err) == (3, SHRUNK)
    assert imports(p) == 0  # nothing was sent
    assert last_export_rows(p) == 10  # the refused read did not become the baseline

    allowed = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--allow-export-shrink")
    assert allowed.code == 0, allowed.err
    assert imports(p) == 1
    assert sorted(p.vendor_list("ongage", "1001")) == PEOPLE
    assert p.run("plan", "-c", "reconciler.yaml").code == 0


def test_rows_reconciler_removed_do_not_count_as_a_shrink(tmp_path: Path) -> None:
    p = project(tmp_path, PEOPLE[:6])
    blocked = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert blocked.code == 3
    assert "4 of 10 active members (40%) would be removed or unsubscribed" in blocked.err
    assert imports(p) == 0

    allowed = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--allow-mass-removal")
    assert allowed.code == 0, allowed.err
    assert sorted(p.vendor_list("ongage", "1001")) == PEOPLE[:6]
    # The export now has 6 rows where the state recorded 10, less the 4 reconciler removed.
    after = p.run("plan", "-c", "reconciler.yaml")
    assert (after.code, after.err) == (0, "")
    assert after.out.splitlines()[-1] == "No changes. The vendors match the configuration."
