"""Benchmark saved plans: write and read a plan of N rows, and checksum it.

    python tests/benchmarks/bench_artifact.py 1000000

The rows look like a large plan's: mostly adds with a first name and a file:line reason, some
removals, updates with previous values and held rows. Prints times, the artifact's size and
the peak RSS; figures are printed, never asserted.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.artifact import SavedPlan, StateRef, read_saved_plan, write_saved_plan
from reconciler.plan.checksum import exports_checksum, plan_checksum
from reconciler.plan.model import CurrentStateRef, ListChange, ListPlan, Plan


def _row(i: int) -> ListChange:
    email = f"member{i:08d}@example.com"
    if i % 100 == 0:
        return ListChange(ChangeKind.REMOVE, email, "not declared (authoritative list)")
    if i % 100 == 1:
        return ListChange(
            ChangeKind.UPDATE,
            email,
            f"members/big.csv:{i + 2}",
            {"first_name": f"Name{i % 1000}"},
            {"first_name": "Old"},
        )
    if i % 100 == 2:
        return ListChange(ChangeKind.HELD, email, "vendor status: unsubscribed")
    return ListChange(
        ChangeKind.ADD, email, f"members/big.csv:{i + 2}", {"first_name": f"Name{i % 1000}"}
    )


def make_plan(n: int) -> Plan:
    rows = sorted((_row(i) for i in range(n)), key=lambda c: (c.kind.value, c.email))
    now = datetime.now(UTC)
    list_plan = ListPlan(
        "big",
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        tuple(rows),
        CurrentStateRef("vendor", "ongage POST /1001/api/export", n, "ab" * 32, now),
        n,
        n,
    )
    return Plan((list_plan,), now, "c" * 64)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    plan = make_plan(n)
    path = Path(tempfile.mkdtemp(prefix="reconciler-bench-artifact-")) / "plan.zip"
    t0 = time.perf_counter()
    checksum = plan_checksum(plan)
    t1 = time.perf_counter()
    saved = SavedPlan(plan, StateRef("state.json", "lineage", 1), checksum, exports_checksum(plan))
    write_saved_plan(path, saved)
    t2 = time.perf_counter()
    loaded = read_saved_plan(path)  # includes verifying the rows against the checksum
    t3 = time.perf_counter()
    assert len(loaded.plan.lists[0].changes) == n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = path.stat().st_size
    print(f"{n:,} rows")
    print(f"  plan checksum   {t1 - t0:6.2f} s")
    print(f"  write artifact  {t2 - t1:6.2f} s  {size / 2**20:7.1f} MiB ({size / n:.1f} B/row)")
    print(f"  read + verify   {t3 - t2:6.2f} s")
    print(f"  peak RSS        {rss:6.0f} MiB")


if __name__ == "__main__":
    main()
