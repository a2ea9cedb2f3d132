"""The command line imports only the command it runs; help still lists every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.cli.main import COMMANDS, _chosen_command, build_parser, main


@pytest.mark.parametrize(
    ("argv", "chosen"),
    [
        (["plan", "-c", "x"], "plan"),
        (["--version"], None),
        (["--help", "plan"], None),
        (["-h"], None),
        (["nonsense"], None),
        ([], None),
        (["state", "pull"], "state"),
    ],
)
def test_chosen_command(argv: list[str], chosen: str | None) -> None:
    assert _chosen_command(argv) == chosen


def test_a_single_command_parser_still_parses_that_command() -> None:
    args = build_parser(["validate", "-c", "here.yaml"]).parse_args(["validate", "-c", "here.yaml"])
    assert (args.command, args.config) == ("validate", "here.yaml")


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nonsense"]) == 1
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_top_level_help_lists_every_command_with_its_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "reconciler", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)
    assert "show what apply would change, per list, and why" in out


def test_plan_does_not_import_http_or_template_libraries() -> None:
    code = (
        "import sys; from reconciler.cli.main import build_parser; "
        "build_parser(['plan']); "
        "print(sorted(m for m in ('httpx', 'jinja2', 'werkzeug', 'boto3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
