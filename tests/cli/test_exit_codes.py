"""Exit codes as documented, saved-plan refusals that need no vendor, and PR comment files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from reconciler.cli.exitcodes import ExitCode
from reconciler.errors import ReconcilerError, StalePlanError, UnsafePlanError
from tests.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]


def documented_codes(text: str) -> dict[int, str]:
    """The rows ``| code | meaning | …`` of the first table whose header starts with code."""
    start = text.index("| code | meaning |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[int(cells[0])] = cells[1]
    return rows


def test_exit_codes_in_specs_and_readme_match_the_code() -> None:
    spec = documented_codes((ROOT / "specs" / "exit-codes.md").read_text())
    readme = documented_codes((ROOT / "README.md").read_text())
    assert sorted(spec) == sorted(readme) == [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5]
    assert "stale plan" in spec[4] and "stale plan" in readme[4]
    assert "safety guard" in spec[3] and "failed" in readme[5]
    assert ReconcilerError.exit_code == ExitCode.ERROR
    assert UnsafePlanError.exit_code == ExitCode.BLOCKED
    assert StalePlanError.exit_code == ExitCode.STALE_PLAN


def test_usage_errors_exit_1_not_2(cli: Cli) -> None:
    result = cli("plan", "--no-such-option")
    assert result.code == 1
    assert "reconciler: error: unrecognized arguments: --no-such-option" in result.err
    assert cli("--version").code == 0


def test_unreadable_or_edited_plan_files_exit_1(cli: Cli, project: Path) -> None:
    missing = cli("apply", "nothing.zip", "-c", "offline")
    assert (missing.code, missing.err) == (
        1,
        "Error: no saved plan at nothing.zip: make one with `reconciler plan -out nothing.zip`\n",
    )
    (project / "plan.zip").write_text("{}")
    bad = cli("apply", "plan.zip", "-c", "offline")
    assert bad.code == 1 and bad.err.startswith(
        "Error: plan.zip is not a readable reconciler saved plan (BadZipFile: "
    )

    planned = cli("plan", "-c", "offline", "--out", "plan.zip", "--detailed-exitcode")
    assert planned.code == 2, planned.err  # saved, and changes present
    with zipfile.ZipFile(project / "plan.zip") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["rows/0001.jsonl"] = members["rows/0001.jsonl"].replace(
        b"ann.archer@example.com", b"someone.else@example.com"
    )
    with zipfile.ZipFile(project / "plan.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    edited = cli("apply", "plan.zip", "-c", "offline")
    assert edited.code == 1
    assert edited.err.startswith("Error: plan.zip was changed after it was written")


def test_target_cannot_narrow_a_saved_plan(cli: Cli) -> None:
    assert cli("plan", "-c", "offline", "-out", "plan.zip").code == 0
    result = cli("apply", "plan.zip", "-c", "offline", "--target", "newsletter")
    assert result.code == 1
    assert result.err == (
        "Error: --target cannot be used with a saved plan: the plan applies the lists it was "
        "made for; make it with `reconciler plan --target LIST -out FILE`\n"
    )


def test_a_plan_with_capability_gaps_is_not_saved(cli: Cli, project: Path) -> None:
    (project / "gap.yaml").write_text(
        "providers: {ym: {type: yesmail}}\n"
        "lists:\n  vip:\n    provider: ym\n    list_id: vip\n"
        "    members: [{inline: [{email: ann@example.com}]}]\n"
        "    export: {format: ongage, path: exports/ym.csv}\n"
    )
    (project / "exports" / "ym.csv").write_text("email,status\nzed@example.com,active\n")
    result = cli("plan", "-c", "gap.yaml", "-out", "plan.zip")
    assert result.code == 1 and "nothing was sent" in result.err
    assert not (project / "plan.zip").exists()


def test_markdown_dir_writes_numbered_comments_masked_and_replaces_old_ones(
    cli: Cli, project: Path
) -> None:
    (project / "comments").mkdir()
    (project / "comments" / "comment-07.md").write_text("from an earlier, longer plan")
    result = cli("plan", "-c", "offline", "--markdown-dir", "comments")
    assert result.code == 0, result.err
    files = sorted(p.name for p in (project / "comments").iterdir())
    assert files == ["comment-01.md"]  # this plan fits one comment
    comment = (project / "comments" / "comment-01.md").read_text()
    assert comment.startswith("## reconciler plan\n\nPlan: 3 to add, 1 to remove,")
    assert "| newsletter | ongage | 1 | 1 | 0 | 1 | 1 | 1 | 1 | 1 |" in comment
    assert "| a***@example.com | first_name='Ann' | members/newsletter.csv:2 |" in comment
    assert not re.search(r"\b[a-z]{2,}\.[a-z]+@example\.com", comment)  # no full address
    shown = cli("plan", "-c", "offline", "--markdown-dir", "comments", "--no-redact")
    assert shown.code == 0
    assert "ann.archer@example.com" in (project / "comments" / "comment-01.md").read_text()
