"""A throwaway project written the way a hostile pull request would write it, run through the
real command line with a credential in the environment, and what every security test checks
after a run: no output and no file holds the credential, and no vendor was asked for anything."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.sandbox.core import Sandbox

ROOT = Path(__file__).resolve().parents[2]
#: The CI's vendor password, as the environment of a pull-request run holds it.
SECRET = "hostile-pr-s3cr3t-password"
SECRET_ENV = {"ONGAGE_PASSWORD": SECRET}


@dataclass
class Run:
    code: int
    out: str
    err: str


class HostileProject:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        base = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            env={**base, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **SECRET_ENV, **(env or {})},
            timeout=120,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log, read-only; empty when no sandbox ever started."""
        db = self.root / ".sandbox" / "sandbox.sqlite3"
        if not db.exists():
            return []
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY seq")]

    def changing_requests(self) -> list[tuple[str, str]]:
        """(method, path) of each request that asked a vendor to change something: every
        write except the export jobs a plan starts to read a list."""
        return [
            (r["method"], r["path"])
            for r in self.requests()
            if r["method"] != "GET" and "/api/export" not in r["path"]
        ]

    def vendor_list(self, vendor: str, list_id: str) -> dict[str, dict[str, Any]]:
        """The sandbox's list after the runs: address -> fields."""
        sandbox = Sandbox(self.root / ".sandbox")
        try:
            rows = sandbox.state()["vendors"][vendor]["lists"].get(list_id, [])
        finally:
            sandbox.db.close()
        return {r["email"]: r.get("fields") or {} for r in rows}

    def leaks(self, *runs: Run) -> list[str]:
        """Where the secret is: in a run's output, or in a file under the project."""
        found = [f"run {i}" for i, r in enumerate(runs) if SECRET in r.out or SECRET in r.err]
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and SECRET.encode() in path.read_bytes():
                found.append(str(path.relative_to(self.root)))
        return found
