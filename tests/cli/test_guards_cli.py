"""Safety guards as a user meets them: the plan is shown (text, JSON, Markdown), then refused
with exit 3 and a message naming the guard, the numbers and the one flag that overrides it."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.state.model import ExportSeen, ListState, State, parse_state
from tests.cli.conftest import Cli

# A 5-member list whose members CSV was committed empty by mistake.
CONFIG = """\
# Ongage fetches batch files by URL: apply needs somewhere to publish them.
providers:
  og: {type: ongage, staging: {backend: directory, path: www, base_url: "https://files.example.com"}}
lists:
  newsletter:
    provider: og
    list_id: 1001
    members: [{csv: members/empty.csv}]
    export: {format: ongage, path: exports/five.csv}
"""
FIVE = "email,status\n" + "".join(f"m{n}@example.com,active\n" for n in range(5))
MESSAGE = (
    "Error: safety guard max_drop_percent blocked list 'newsletter': 5 of 5 active members "
    "(100%) would be removed or unsubscribed; the limit is 30%. If this is intended, re-run "
    "with --allow-mass-removal (or raise lists.newsletter.guards.max_drop_percent).\n"
)
SUMMARY = (
    "Plan: 0 to add, 5 to remove, 0 to unsubscribe, 0 to resubscribe, "
    "0 to mark as bounced, 0 to mark as complained, 0 to update, 0 held."
)


def write_project(project: Path, config: str = CONFIG) -> None:
    (project / "guarded.yaml").write_text(config)
    (project / "members" / "empty.csv").write_text("email\n")
    (project / "exports" / "five.csv").write_text(FIVE)


def test_an_empty_members_file_is_shown_then_refused_with_exit_3(cli: Cli, project: Path) -> None:
    write_project(project)
    result = cli(
        "plan", "-c", "guarded.yaml", "--json", "out/plan.json", "--markdown", "out/plan.md"
    )
    assert (result.code, result.err) == (3, MESSAGE)
    lines = result.out.splitlines()
    assert "  - remove: 5" in lines
    assert lines[-4:] == [
        "Blocked by safety guards:",
        "  ✗ max_drop_percent on list 'newsletter': 5 of 5 active members (100%) would be "
        "removed or unsubscribed; the limit is 30% (override: --allow-mass-removal)",
        "",
        SUMMARY,
    ]
    data = json.loads((project / "out/plan.json").read_text())
    assert data["summary"]["remove"] == 5
    assert data["guards"] == [
        {
            "guard": "max_drop_percent",
            "list": "newsletter",
            "count": 5,
            "base": 5,
            "limit": 30.0,
            "flag": "--allow-mass-removal",
            "overridden": False,
            "explanation": "5 of 5 active members (100%) would be removed or unsubscribed; "
            "the limit is 30%",
        }
    ]
    markdown = (project / "out/plan.md").read_text()
    assert "> **Blocked by safety guards**" in markdown
    assert "(override: `--allow-mass-removal`)" in markdown


def test_the_guards_flag_lets_it_through_and_the_plan_says_so(cli: Cli, project: Path) -> None:
    write_project(project)
    result = cli("plan", "-c", "guarded.yaml", "--allow-mass-removal", "--json", "plan.json")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[-4:] == [
        "Let through past safety guards:",
        "  ! max_drop_percent on list 'newsletter': 5 of 5 active members (100%) would be "
        "removed or unsubscribed; the limit is 30% (allowed by --allow-mass-removal)",
        "",
        SUMMARY,
    ]
    [guard] = json.loads((project / "plan.json").read_text())["guards"]
    assert (guard["guard"], guard["overridden"]) == ("max_drop_percent", True)


def test_another_guards_flag_does_not_let_it_through(cli: Cli, project: Path) -> None:
    write_project(project)
    result = cli(
        "plan",
        "-c",
        "guarded.yaml",
        "--allow-mass-add",
        "--allow-mass-update",
        "--allow-mass-suppression",
        "--allow-export-shrink",
        "--allow-empty-export",
        "--allow-export-mismatch",
    )
    assert (result.code, result.err) == (3, MESSAGE)
    forced = cli("plan", "-c", "guarded.yaml", "--force")  # there is no blanket override
    assert (forced.code, forced.err.splitlines()[-1]) == (
        1,
        "reconciler: error: unrecognized arguments: --force",
    )


def test_blocked_beats_detailed_exitcode(cli: Cli, project: Path) -> None:
    write_project(project)
    blocked = cli("plan", "-c", "guarded.yaml", "--detailed-exitcode")
    assert (blocked.code, blocked.err) == (3, MESSAGE)
    allowed = cli("plan", "-c", "guarded.yaml", "--detailed-exitcode", "--allow-mass-removal")
    assert (allowed.code, allowed.err, allowed.out.splitlines()[-1]) == (2, "", SUMMARY)


def test_a_lists_own_limit_overrides_the_default(cli: Cli, project: Path) -> None:
    for guards in ("    guards: {max_drop_percent: 100}\n", "guards: {max_drop_percent: null}\n"):
        write_project(project, CONFIG + guards)
        result = cli("plan", "-c", "guarded.yaml")
        # Planned in full (the five removals), and not blocked.
        assert (result.code, result.err, result.out.splitlines()[-1]) == (0, "", SUMMARY)


def test_apply_refuses_before_asking_and_records_the_run(cli: Cli, project: Path) -> None:
    write_project(project)
    # Not on a terminal and without --auto-approve: the guard answers before the confirmation.
    result = cli("apply", "-c", "guarded.yaml")
    assert (result.code, result.err) == (3, MESSAGE)
    assert result.out.splitlines()[-1] == SUMMARY
    state = parse_state((project / ".reconciler" / "state.json").read_text(), "state")
    assert [run.outcome for run in state.runs] == ["blocked by safety guards"]
    assert state.jobs == []
    assert state.lists == {}  # the refused read is not the new baseline


def test_an_empty_export_where_the_state_saw_rows_is_refused(cli: Cli, project: Path) -> None:
    write_project(project)
    (project / "exports" / "five.csv").write_text("email,status\n")
    seen = ExportSeen(kind="export", location="exports/five.csv", rows=5, sha256="ab" * 32)
    state = State(
        lists={
            "newsletter": ListState(
                provider="og", vendor="ongage", vendor_list_id="1001", last_export=seen
            )
        }
    )
    (project / ".reconciler").mkdir()
    (project / ".reconciler" / "state.json").write_text(state.model_dump_json())
    result = cli("plan", "-c", "guarded.yaml")
    assert (result.code, result.err) == (
        3,
        "Error: safety guard allow_empty_export blocked list 'newsletter': the current state "
        "read (exports/five.csv) has no rows, and the last export recorded in the state had 5 "
        "rows. If this is intended, re-run with --allow-empty-export (or set "
        "lists.newsletter.guards.allow_empty_export: true).\n",
    )
    assert cli("plan", "-c", "guarded.yaml", "--allow-empty-export").code == 0


def test_a_json_export_short_of_its_total_is_refused(cli: Cli, project: Path) -> None:
    results = [
        {"email": f"s{n}@example.com", "status": "enabled", "lists": [{"id": 3}]} for n in range(2)
    ]
    (project / "exports" / "page1.json").write_text(
        json.dumps({"data": {"results": results, "total": 40, "per_page": 2, "page": 1}})
    )
    (project / "lm.yaml").write_text(
        "providers: {lm: {type: listmonk}}\n"
        "lists:\n  updates:\n    provider: lm\n    list_id: 3\n    mode: additive\n"
        "    members: [{inline: [{email: s0@example.com}, {email: s1@example.com}]}]\n"
        "    export: {format: listmonk-json, path: exports/page1.json, list_id: 3}\n"
    )
    result = cli("plan", "-c", "lm.yaml")
    assert (result.code, result.err) == (
        3,
        "Error: safety guard allow_export_mismatch blocked list 'updates': the current state "
        "read (exports/page1.json) has 2 rows but listmonk reports a total of 40. If this is "
        "intended, re-run with --allow-export-mismatch (or set "
        "lists.updates.guards.allow_export_mismatch: true).\n",
    )
    assert cli("plan", "-c", "lm.yaml", "--allow-export-mismatch").code == 0
