"""Benchmark apply's own overhead: plan → batch files → staged → submitted jobs, for N adds.

    python tests/benchmarks/bench_apply.py 1000000

Runs against an embedded sandbox (Ongage). Prints the time of each of reconciler's own steps
and rows/s over them, then how long the (emulated) vendor took to process the jobs, which is
not reconciler's overhead. Figures are printed, never asserted.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from reconciler.apply.batches import write_batches
from reconciler.config.loader import load_config
from reconciler.engine.planner import build_plan
from reconciler.model import Action
from reconciler.providers.base import JobState
from reconciler.workflow.runtime import Runtime

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
lists:
  big:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members.csv}]
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="reconciler-bench-apply-"))
    duckdb.connect().execute(
        f"COPY (SELECT 'member' || i || '@example.com' AS email, 'Name' || (i % 1000) AS "
        f"first_name FROM range({n}) t(i)) TO '{root}/members.csv' (HEADER)"
    )
    (root / "reconciler.yaml").write_text(CONFIG)
    loaded = load_config(root / "reconciler.yaml")
    with Runtime(loaded, workdir=root / "work") as runtime:
        # Starting the emulated vendor is not reconciler's overhead: do it before the clock.
        runtime.provider("og")
        t0 = time.perf_counter()
        plan = build_plan(loaded, vendors=runtime)
        t1 = time.perf_counter()
        provider = runtime.provider("og")
        list_config = loaded.config.lists["big"]
        fmt = provider.batch_format(list_config, Action.ADD)
        batches = write_batches(plan.lists[0], Action.ADD, fmt, root / "batches")
        t2 = time.perf_counter()
        stager = runtime.stager_for("og")
        assert stager is not None
        from dataclasses import replace

        staged = [replace(b, url=stager.publish(b.path)) for b in batches]
        t3 = time.perf_counter()
        jobs = []
        for batch in staged:
            jobs.append(provider.submit(list_config, batch))
            # One import at a time, as apply with the default max_imports_in_flight (1);
            # bench_apply_in_flight.py measures overlapping them.
            while provider.poll(list_config, jobs[-1]).state is JobState.PENDING:
                pass
        t4 = time.perf_counter()
    rows = sum(b.rows for b in batches)
    own = (t1 - t0) + (t2 - t1) + (t3 - t2)
    print(f"{rows:,} adds in {len(batches)} batches of {fmt.max_rows:,}")
    print(f"  plan (vendor export read + diff): {t1 - t0:6.2f} s")
    print(f"  batch files (write + sha256):     {t2 - t1:6.2f} s")
    print(f"  staging (upload to file host):    {t3 - t2:6.2f} s")
    print(f"  reconciler's overhead:            {own:6.2f} s  {rows / own:12,.0f} rows/s")
    after = (t2 - t1) + (t3 - t2)
    print(f"  of it, plan → staged batch files: {after:6.2f} s  {rows / after:12,.0f} rows/s")
    print(f"  submit + vendor processing:       {t4 - t3:6.2f} s  (the emulated vendor's work)")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
