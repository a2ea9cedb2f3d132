"""The plan benchmark runs end to end at a small size and prints the figures it promises (a
benchmark that broke silently would leave the README's figures unreproducible)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_plan.py")


def test_the_plan_benchmark_prints_both_runs_and_their_ratio(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "2000", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    out = done.stdout
    assert "generated 2,000 members and 2,000 export rows" in out
    # The generator's mix at 2,000 members: 10 new (user2 among them is suppressed, so held),
    # 10 gone; users 502, 1002 and 1502 suppressed by bounce, complaint and unsubscribe; 9
    # first names changed (user2003's is gone too); 6 unsubscribed or bounced at the vendor.
    plan = re.search(r"reconciler plan : +[\d.]+ s +cpu +[\d.]+ s +peak RSS +\d+ MiB .*", out)
    assert plan is not None and plan.group(0).endswith(
        "Plan: 9 to add, 10 to remove, 1 to unsubscribe, 0 to resubscribe, "
        "1 to mark as bounced, 1 to mark as complained, 9 to update, 7 held."
    )
    assert re.search(r"duckdb anti-join: .*\(10 adds, 10 removes\)", out)
    assert re.search(r"ratio plan/baseline: [\d.]+ \(cpu [\d.]+\)", out)
