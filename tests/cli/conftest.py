"""Run the real command line in a subprocess, from a copy of a project directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of examples/ to change freely, a Git work tree of its own."""
    target = tmp_path / "project"
    shutil.copytree(
        ROOT / "examples", target, ignore=shutil.ignore_patterns(".sandbox", ".reconciler")
    )
    # A repository, as examples/ is in reconciler's own: its configurations name files in
    # sibling directories (../members), which must stay inside the Git work tree.
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    return target


@pytest.fixture
def cli(project: Path) -> Cli:
    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd or project,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})},
            timeout=120,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run
