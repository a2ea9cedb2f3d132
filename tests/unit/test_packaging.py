"""What a user installs: the distribution's name in every install line, its licence, its
changelog, the dependencies it declares, and shell completion."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from reconciler import __version__
from reconciler.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DIST = PYPROJECT["project"]["name"]
#: Import name of each declared runtime dependency.
IMPORTS = {
    "pydantic": "pydantic",
    "ruamel.yaml": "ruamel",
    "httpx": "httpx",
    "jinja2": "jinja2",
    "duckdb": "duckdb",
    "rich": "rich",
    "werkzeug": "werkzeug",
    "shtab": "shtab",
}


def test_the_distribution_has_a_name_of_its_own_and_the_command_keeps_reconciler() -> None:
    assert DIST == "audience-reconciler"
    assert PYPROJECT["project"]["scripts"] == {"reconciler": "reconciler.cli.main:main"}
    assert PYPROJECT["project"]["version"] == __version__


def test_every_install_line_names_the_distribution() -> None:
    files = [ROOT / "README.md", *ROOT.glob("examples/**/*.yml"), *ROOT.glob("reconciler/**/*.py")]
    lines = [
        (path.relative_to(ROOT), line)
        for path in files
        for line in path.read_text().splitlines()
        if re.search(r"pip install [\"']?(reconciler|audience-reconciler)\b", line)
    ]
    assert lines, "no install line found"
    wrong = [(p, line) for p, line in lines if not re.search(rf"pip install [\"']?{DIST}\b", line)]
    assert wrong == []
    # The workflows install a released version, not a placeholder repository.
    for workflow in ROOT.glob("examples/gitops/.github/workflows/*.yml"):
        assert f'pip install "{DIST}[s3]=={__version__}"' in workflow.read_text(), workflow


def test_the_licence_and_the_changelog() -> None:
    assert (ROOT / "LICENSE").read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert PYPROJECT["project"]["license"] == {"text": "Apache-2.0"}
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and f"## [{__version__}]" in changelog


def test_every_declared_dependency_is_used() -> None:
    declared = {
        re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in PYPROJECT["project"]["dependencies"]
    }
    assert declared == set(IMPORTS)
    imported: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert {name for name in IMPORTS.values() if name not in imported} == set()


def test_completion_knows_every_command() -> None:
    for shell in ("bash", "zsh"):
        out = subprocess.run(
            [sys.executable, "-m", "reconciler", "completion", shell],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for command in COMMANDS:
            assert re.search(rf"\b{command}\b", out), (shell, command)
        assert "--auto-approve" in out  # the commands' own flags too
