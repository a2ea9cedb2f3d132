"""A throwaway GitOps project on disk, driven through the real command line, whose vendors are
the embedded sandbox (its state read back from the sandbox's data directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.sandbox.server import EmbeddedSandbox

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "reconciler", *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

    def run(self, *args: str, timeout: float = 120) -> Run:
        proc = subprocess.run(
            self.command(*args),
            cwd=self.root,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def sandbox_state(self) -> dict[str, Any]:
        with EmbeddedSandbox(self.root / ".sandbox") as sandbox:
            return sandbox.app.state()

    def sandbox_requests(self) -> list[dict[str, Any]]:
        with EmbeddedSandbox(self.root / ".sandbox") as sandbox:
            return sandbox.app.request_log()

    def vendor_list(self, vendor: str, list_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
        rows = self.sandbox_state()["vendors"][vendor]["lists"].get(list_id, [])
        return {r["email"]: (r["status"], r.get("fields") or {}) for r in rows}
