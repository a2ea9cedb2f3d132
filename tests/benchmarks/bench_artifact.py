"""Benchmark saved plans: write and read a plan of N rows, and checksum it.

    python tests/benchmarks/bench_artifact.py 1000000

The rows look like a large plan's: mostly adds with a first name and a file:line reason, some
removals, updates with previous values and held rows, with random-looking addresses. Prints
times, the artifact's size and the peak RSS; figures are printed, never asserted.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode
from reconciler.plan.artifact import SavedPlan, StateRef, read_saved_plan, write_saved_plan
from reconciler.plan.checksum import exports_checksum, plan_checksum
from reconciler.plan.model import CurrentStateRef, ListChange, ListPlan, Plan


def _row(i: int) -> ListChange:
    # Local parts as random as real ones, so that compression is not flattered.
    email = f"{hashlib.blake2b(str(i).encode(), digest_size=6).hexdigest()}.{i}@example.com"
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
    rank = {kind: n for n, kind in enumerate(KIND_ORDER)}  # the engine's order
    rows = sorted((_row(i) for i in range(n)), key=lambda c: (rank[c.kind], c.email))
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
    clock = Clock()
    checksum = plan_checksum(plan)
    took_checksum = clock.lap()
    saved = SavedPlan(plan, StateRef("state.json", "lineage", 1), checksum, exports_checksum(plan))
    write_saved_plan(path, saved)
    took_write = clock.lap()
    loaded = read_saved_plan(path)  # includes verifying the rows against the checksum
    took_read = clock.lap()
    assert len(loaded.plan.lists[0].changes) == n
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = path.stat().st_size
    print(f"{n:,} rows (wall s / CPU s)")
    print(f"  plan checksum   {took_checksum}")
    print(f"  write artifact  {took_write}  {size / 2**20:.1f} MiB ({size / n:.1f} B/row)")
    print(f"  read + verify   {took_read}")
    print(f"  peak RSS        {rss:.0f} MiB (the benchmark's own plan of {n:,} rows in memory)")


class Clock:
    """Wall and CPU time: on a busy shared machine the CPU time is the steadier figure."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = f"{wall - self.wall:6.2f} / {cpu - self.cpu:6.2f}"
        self.wall, self.cpu = wall, cpu
        return text


if __name__ == "__main__":
    main()
