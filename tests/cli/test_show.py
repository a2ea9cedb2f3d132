"""Terraform's habits: `show PLANFILE`, `--json -`, and every long flag with one dash too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.main import build_parser, single_dash
from tests.cli.conftest import Cli


def test_show_prints_a_saved_plan_as_plan_printed_it_and_as_json(cli: Cli, project: Path) -> None:
    planned = cli("plan", "-c", "offline", "-out", "plan.zip")
    assert planned.code == 0, planned.err
    shown = cli("show", "plan.zip", cwd=project)
    assert shown.code == 0, shown.err
    # The same lists, rows and summary line, read from the file alone.
    text_of_plan = planned.out.split("\nSaved the plan to")[0]
    assert shown.out.startswith(text_of_plan)
    assert shown.out.splitlines()[-1] == (
        "Saved plan plan.zip: made by reconciler 0.1.0 against no state yet at "
        "offline/.reconciler/state.json."
    )
    as_json = cli("show", "plan.zip", "--json")
    data = json.loads(as_json.out)
    assert data["summary"] == {
        "add": 3,
        "remove": 1,
        "unsubscribe": 1,
        "resubscribe": 1,
        "bounce": 1,
        "complaint": 2,
        "update": 2,
        "held": 2,
    }
    rows = {r["email"] for lp in data["lists"] for r in lp["rows"]}
    assert "ann.archer@example.com" in rows


def test_show_of_an_edited_plan_is_refused(cli: Cli, project: Path) -> None:
    (project / "plan.zip").write_bytes(b"not a zip")
    shown = cli("show", "plan.zip")
    assert shown.code == 1
    assert shown.err.startswith("Error: plan.zip is not a readable reconciler saved plan")


def test_json_dash_writes_json_to_stdout_and_the_text_to_stderr(cli: Cli, project: Path) -> None:
    result = cli("plan", "-c", "offline", "--json", "-", "-out", "plan.zip")
    assert result.code == 0, result.err
    data = json.loads(result.out)  # nothing else on stdout
    assert [lp["name"] for lp in data["lists"]] == ["newsletter", "product-updates"]
    assert "Plan: 3 to add" in result.err and "Saved the plan to plan.zip" in result.err
    assert not (project / "-").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apply", "-auto-approve"], ["apply", "--auto-approve"]),
        (["plan", "-detailed-exitcode=x"], ["plan", "--detailed-exitcode=x"]),
        (["plan", "-c", "-out"], ["plan", "-c", "--out"]),  # -c is a short flag: kept
        (["plan", "--", "-show-all"], ["plan", "--", "-show-all"]),
        (["plan", "-nonsense"], ["plan", "-nonsense"]),  # not a flag: argparse refuses it
    ],
)
def test_every_long_flag_has_its_single_dash_spelling(argv: list[str], expected: list[str]) -> None:
    assert single_dash(build_parser(None), argv) == expected


def test_single_dash_flags_work_end_to_end(cli: Cli) -> None:
    result = cli("plan", "-c", "offline", "-detailed-exitcode", "-no-color")
    assert result.code == 2, result.err  # changes present: the flag was understood
