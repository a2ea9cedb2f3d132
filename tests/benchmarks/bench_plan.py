"""Benchmark `reconciler plan` on generated data of any size, next to a plain DuckDB baseline.

    python tests/benchmarks/bench_plan.py 1000000 [--dir DIR] [--keep]

Generates a list of N members and a vendor export of about N rows with the mix the core issue
names (~0.5% adds, ~0.5% removals, ~2% case differences, ~0.3% unsubscribed/bounced at the
vendor, ~0.2% suppressed, ~0.5% changed first names), then runs, each in its own process:

- the whole ``reconciler plan`` command (wall time, peak RSS, rows/s over both files);
- the baseline: a plain DuckDB anti-join in each direction (adds, then removes) over the same
  files on normalised addresses, with DuckDB's default settings.

Figures are printed, never asserted: performance is measured here, not in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
providers:
  bench:
    type: ongage
lists:
  bench:
    provider: bench
    list_id: "1"
    mode: authoritative
    managed_fields: [first_name]
    members:
      - csv: members.csv
    export:
      format: ongage
      path: export.csv
suppressions:
  - csv: suppressions.csv
"""

BASELINE = """
import sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
con.execute("SET enable_progress_bar=false")
m = f"read_csv('{d}/members.csv', all_varchar=true)"
e = f"read_csv('{d}/export.csv', all_varchar=true)"
adds = con.execute(f"SELECT count(*) FROM (SELECT lower(trim(email)) FROM {m} "
                   f"EXCEPT SELECT lower(trim(email)) FROM {e})").fetchone()[0]
removes = con.execute(f"SELECT count(*) FROM (SELECT lower(trim(email)) FROM {e} "
                      f"EXCEPT SELECT lower(trim(email)) FROM {m})").fetchone()[0]
print(adds, removes)
"""


def generate(n: int, out: Path) -> None:
    """Write members.csv, export.csv, suppressions.csv and reconciler.yaml for ``n`` members."""
    import duckdb

    shift = max(1, n // 200)  # 0.5% of the members are new, 0.5% of the export is gone
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT CASE WHEN i % 50 = 0 THEN 'User' || i || '@Example.com'
                                      ELSE 'user' || i || '@example.com' END AS email,
                                 'Name' || (i % 1000) AS first_name
                          FROM range({n}) t(i)) TO '{out}/members.csv' (HEADER)""")
    con.execute(f"""COPY (SELECT 'user' || i || '@example.com' AS email,
                                 CASE WHEN i % 200 = 3 THEN 'Other' || (i % 1000)
                                      ELSE 'Name' || (i % 1000) END AS first_name,
                                 CASE WHEN i % 333 = 1 THEN
                                        CASE WHEN i % 2 = 0 THEN 'unjoin-member' ELSE 'bounced' END
                                      ELSE 'active' END AS status
                          FROM range({shift}, {n} + {shift}) t(i))
                 TO '{out}/export.csv' (HEADER)""")
    con.execute(f"""COPY (SELECT 'user' || i || '@example.com' AS email,
                                 CASE i % 3 WHEN 0 THEN 'complaint' WHEN 1 THEN 'bounce'
                                            ELSE 'unsubscribe' END AS reason
                          FROM range({n}) t(i) WHERE i % 500 = 2)
                 TO '{out}/suppressions.csv' (HEADER)""")
    (out / "reconciler.yaml").write_text(CONFIG)


def measure(argv: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Run ``argv``; return wall seconds, CPU seconds (user + system, every thread), peak RSS
    in MiB and its stdout. CPU seconds vary less than wall time when the machine is shared."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{argv[2:]} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where to write the data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        generate(args.n, workdir)
        rows = sum(1 for _ in (workdir / "export.csv").open()) - 1 + args.n
        print(
            f"generated {args.n:,} members and {rows - args.n:,} export rows in "
            f"{time.perf_counter() - t0:.1f}s under {workdir}"
        )
        plan_argv = [
            sys.executable,
            "-m",
            "reconciler",
            "plan",
            "-c",
            "reconciler.yaml",
            "--detailed-exitcode",
            # 0.2% suppressed is over 1,000 bounces and complaints from 1M members on.
            "--allow-mass-suppression",
        ]
        # Byte-compile the package first, as installing it does: start-up is part of the time.
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "reconciler")], check=True
        )
        wall, cpu, rss, out = measure(plan_argv, workdir)
        summary = next((ln for ln in out.splitlines() if ln.startswith("Plan:")), "")
        print(
            f"reconciler plan : {wall:7.2f} s  cpu {cpu:6.1f} s  peak RSS {rss:7.0f} MiB  "
            f"{rows / wall:>12,.0f} rows/s   {summary}"
        )
        base_wall, base_cpu, base_rss, base_out = measure(
            [sys.executable, "-c", BASELINE, str(workdir)], workdir
        )
        adds, removes = base_out.split()
        print(
            f"duckdb anti-join: {base_wall:7.2f} s  cpu {base_cpu:6.1f} s  "
            f"peak RSS {base_rss:7.0f} MiB  {rows / base_wall:>12,.0f} rows/s   "
            f"({int(adds):,} adds, {int(removes):,} removes)"
        )
        print(f"ratio plan/baseline: {wall / base_wall:.2f} (cpu {cpu / base_cpu:.2f})")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
