"""Benchmark what overlapping a list's imports gains: `reconciler apply` of one Ongage list in
several batches, with max_imports_in_flight 1 and 3, against a sandbox whose every import takes
a fixed time (the invented seed setting import_seconds).

    python tests/benchmarks/bench_apply_in_flight.py [BATCHES] [SECONDS] [ROWS_PER_BATCH]

The sandbox runs in this process and the command in a child, so the CPU seconds printed are
reconciler's own (the child's user + system time), the vendor's work not counted. Prints, per
setting: the command's wall time (plan, apply and the re-read that verifies it), its CPU seconds,
and the most imports the vendor had in progress at once. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reconciler.sandbox.server import EmbeddedSandbox

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
providers:
  og:
    type: ongage
    base_url: {base_url}/ongage
    credentials: {{username: "${{env:OG_USER}}", password: "${{env:OG_PASS}}",
                  account_code: "${{env:OG_ACCOUNT}}"}}
    staging: {{backend: http, port: {port}}}
    options: {{batch_size: {rows}, max_imports_in_flight: {in_flight},
              poll_interval_seconds: 0.1}}
guards: {{max_add_percent: null}}
lists:
  news:
    provider: og
    list_id: 1001
    mode: additive
    managed_fields: [first_name]
    members: [{{csv: members.csv}}]
"""


def _free_port() -> int:
    """A port for the staging server (validate wants it fixed: specs/config.md#staging)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def most_at_once(log: list[dict[str, Any]], seconds: float) -> int:
    """The most imports in progress at once: each from its creation for ``seconds``."""
    starts = [
        r["time"]
        for r in log
        if r["method"] == "POST" and r["path"] == "/ongage/1001/api/import" and r["status"] == 200
    ]
    return max((sum(1 for s in starts if s <= t < s + seconds) for t in starts), default=0)


def run(sandbox: EmbeddedSandbox, in_flight: int, batches: int, rows: int, seconds: float) -> None:
    sandbox.app.reset()
    sandbox.app.seed(
        {
            "ongage": {
                "settings": {"import_seconds": seconds},
                "lists": {"1001": {"fields": ["first_name"]}},
            }
        }
    )
    root = Path(tempfile.mkdtemp(prefix="reconciler-bench-in-flight-"))
    (root / "reconciler.yaml").write_text(
        CONFIG.format(base_url=sandbox.base_url, rows=rows, in_flight=in_flight, port=_free_port())
    )
    with (root / "members.csv").open("w") as out:
        out.write("email,first_name\n")
        for i in range(batches * rows):
            out.write(f"member{i}@example.com,Name{i % 100}\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "OG_USER": "u",
        "OG_PASS": "p",
        "OG_ACCOUNT": "acme",
    }
    command = [sys.executable, "-m", "reconciler", "apply", "-c", "reconciler.yaml"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [*command, "--auto-approve"], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    jobs = json.loads((root / ".reconciler" / "state.json").read_text())["jobs"]
    members = sandbox.app.state()["vendors"]["ongage"]["lists"]["1001"]
    assert len(members) == batches * rows and all(j["status"] == "succeeded" for j in jobs)
    peak = most_at_once(sandbox.app.request_log(), seconds)
    print(
        f"  max_imports_in_flight {in_flight}: {wall:6.2f} s wall, {cpu:5.2f} s CPU, "
        f"{len(jobs)} jobs, at most {peak} in progress at once"
    )


def main() -> None:
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    print(
        f"{batches * rows:,} adds in {batches} batches of {rows:,}; every import takes "
        f"{seconds:g} s at the vendor ({batches * seconds:g} s one after another)"
    )
    with EmbeddedSandbox() as sandbox:
        for in_flight in (1, 3):
            run(sandbox, in_flight, batches, rows, seconds)


if __name__ == "__main__":
    main()
