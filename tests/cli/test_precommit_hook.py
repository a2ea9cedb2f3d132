"""The GitOps example's pre-commit hook runs `reconciler validate` as the parser reads it, and
passes there without any secret."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from reconciler.cli.main import build_parser

GITOPS = Path(__file__).resolve().parents[2] / "examples" / "gitops"


def _hook() -> dict[str, object]:
    config = YAML(typ="safe").load((GITOPS / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    (hook,) = repo["hooks"]
    assert repo["repo"] == "local"
    return dict(hook)


def test_the_hook_runs_validate_on_the_repository_not_on_each_file() -> None:
    hook = _hook()
    assert hook["pass_filenames"] is False  # validate takes -c PATH, not a list of files
    assert hook["additional_dependencies"] == ["audience-reconciler"]
    argv = shlex.split(str(hook["entry"]))[1:]
    args = build_parser(argv).parse_args(argv)
    assert (args.command, args.config, args.require_env) == ("validate", "config", False)
    files = str(hook["files"])
    assert re.search(files, "config/lists.yaml") and re.search(files, "members/news.csv")
    assert not re.search(files, "README.md")


def test_the_hook_passes_in_the_example_without_secrets() -> None:
    argv = shlex.split(str(_hook()["entry"]))[1:]
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}  # no vendor secret, no AWS variable
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", *argv],
        cwd=GITOPS,
        env={**env, "PYTHONPATH": str(GITOPS.parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode, run.stderr) == (0, "")
    lines = run.stdout.splitlines()
    assert lines[0].startswith("The configuration is valid: ")
    # Each variable CI sets is named, none is an error.
    assert [line.split(" unset ")[0] for line in lines[1:-1]] == [
        "Note: credentials not checked: ONGAGE_USERNAME",
        "Note: credentials not checked: ONGAGE_PASSWORD",
        "Note: credentials not checked: ONGAGE_ACCOUNT_CODE",
        "Note: connection settings not checked: LISTMONK_URL",
        "Note: credentials not checked: LISTMONK_USER",
        "Note: credentials not checked: LISTMONK_TOKEN",
    ]
