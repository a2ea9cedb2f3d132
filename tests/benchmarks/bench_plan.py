"""Benchmark `reconciler plan` on generated data of any size and shape, beside a peer doing the
same work and a floor.

    python tests/benchmarks/bench_plan.py 1000000 [--shape steady|first|update|removal|all]
        [--dir DIR] [--keep]

Generated (``generate``): N members with two managed fields (``first_name``, ``plan``),
random local parts over four domains, 2% of the addresses in another case, and a vendor export
shaped as one of:

- ``steady``: the steady state: ~0.5% of the members new, ~0.5% of the export gone, ~0.5%
  first names changed, ~0.3% unsubscribed or bounced at the vendor, ~0.2% suppressed;
- ``first``: a first sync: the vendor holds none of them (every member an add);
- ``update``: a mass update: every member's first name differs at the vendor;
- ``removal``: a mass removal: the repository declares 1% of what the vendor holds.

Three programs run on the same files, each in its own process, with wall time, CPU seconds
(user + system, every thread) and peak RSS:

- ``reconciler plan``, the whole command;
- the peer: the DuckDB script a data engineer would write for the same job instead of using
  reconciler (``PEER``): the member file read once with row numbers (for ``file:line``),
  addresses normalised and checked with a regex, duplicates merged, the export joined,
  suppressions applied first, vendor statuses, every managed field compared, and every
  change row (kind, address, line) written to a file;
- the floor: a plain anti-join in each direction on normalised addresses (``FLOOR``).

The counts of each kind are printed for reconciler and the peer: they must agree (the smoke
test checks it). Figures are printed, never asserted: performance is measured here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ("steady", "first", "update", "removal")

CONFIG = """\
providers:
  bench:
    type: ongage
guards:
  max_drop_percent: null
  max_add_percent: null
  max_update_percent: null
  max_suppression_count: null
  max_export_shrink_percent: null
  allow_empty_export: true
lists:
  bench:
    provider: bench
    list_id: "1"
    mode: authoritative
    managed_fields: [first_name, plan]
    members:
      - csv: members.csv
    export:
      format: ongage
      path: export.csv
suppressions:
  - csv: suppressions.csv
"""

FLOOR = """
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

PEER = r"""
import sys, duckdb
d = sys.argv[1]
con = duckdb.connect()
con.execute("SET enable_progress_bar=false")
csv = "all_varchar=true, header=true"
# Members, once, numbered for file:line (the header is line 1).
con.execute(f'''CREATE TABLE m AS SELECT row_number() OVER () + 1 AS line,
    lower(trim(email)) AS e, nullif(trim(first_name), '') AS f1, nullif(trim(plan), '') AS f2
    FROM read_csv('{d}/members.csv', {csv})''')
ok = "regexp_full_match(e, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')"
bad = con.execute(f"SELECT count(*) FROM m WHERE NOT coalesce({ok}, false)").fetchone()[0]
con.execute(f'''CREATE TABLE des AS SELECT e, min(line) AS line,
    arg_min(f1, line) FILTER (WHERE f1 IS NOT NULL) AS f1,
    arg_min(f2, line) FILTER (WHERE f2 IS NOT NULL) AS f2
    FROM m WHERE {ok} GROUP BY e''')
con.execute(f'''CREATE TABLE sup AS SELECT lower(trim(email)) AS e,
    max(CASE reason WHEN 'complaint' THEN 3 WHEN 'bounce' THEN 2 ELSE 1 END) AS r
    FROM read_csv('{d}/suppressions.csv', {csv}) GROUP BY 1''')
con.execute(f'''COPY (
  SELECT kind, email, line FROM (
    SELECT CASE
      WHEN s.r IS NOT NULL AND v.status = 'active'
        THEN CASE s.r WHEN 3 THEN 'complaint' WHEN 2 THEN 'bounce' ELSE 'unsubscribe' END
      WHEN s.r IS NOT NULL AND d.e IS NOT NULL THEN 'held'
      WHEN s.r IS NOT NULL THEN NULL
      WHEN d.e IS NOT NULL AND v.e IS NULL THEN 'add'
      WHEN d.e IS NOT NULL AND v.status <> 'active' THEN 'held'
      WHEN d.e IS NOT NULL
           AND ((d.f1 IS NOT NULL AND d.f1 IS DISTINCT FROM nullif(trim(v.f1), ''))
             OR (d.f2 IS NOT NULL AND d.f2 IS DISTINCT FROM nullif(trim(v.f2), '')))
        THEN 'update'
      WHEN d.e IS NULL AND v.status = 'active' THEN 'remove'
    END AS kind, coalesce(d.e, v.e) AS email, d.line
    FROM des d
    FULL JOIN (SELECT lower(trim(email)) AS e, status, first_name AS f1, plan AS f2
               FROM read_csv('{d}/export.csv', {csv})) v ON d.e = v.e
    LEFT JOIN sup s ON s.e = coalesce(d.e, v.e)
  ) WHERE kind IS NOT NULL
) TO '{d}/peer-changes.csv' (HEADER)''')
counts = con.execute(
    f"SELECT kind, count(*) FROM read_csv('{d}/peer-changes.csv') GROUP BY 1"
).fetchall()
print(" ".join(f"{k}={n}" for k, n in sorted(counts)), f"invalid={bad}")
"""

#: The closing line's words for each kind (``reconciler/render/text.py``).
_WORDS = {
    "to add": "add",
    "to remove": "remove",
    "to unsubscribe": "unsubscribe",
    "to resubscribe": "resubscribe",
    "to mark as bounced": "bounce",
    "to mark as complained": "complaint",
    "to update": "update",
    "held": "held",
}


def generate(n: int, shape: str, out: Path) -> None:
    """Write members.csv, export.csv, suppressions.csv and reconciler.yaml."""
    import duckdb

    # At least eight hex digits: with six, ten million addresses held a few dozen repeats
    # (with conflicting fields, which a plan rightly refuses).
    local = "substr(md5(i::VARCHAR), 1, 8 + i % 5) || '.' || (i % 997)"
    domain = "['example.com', 'example.org', 'example.net', 'mail.example.com'][i % 4 + 1]"
    address = f"({local} || '@' || {domain})"
    shift = max(1, n // 200) if shape == "steady" else 0
    members = f"range({n // 100})" if shape == "removal" else f"range({n})"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT CASE WHEN i % 50 = 0 THEN upper({address}) ELSE {address} END
                                   AS email,
                                 'Name' || (i % 1000) AS first_name, 'p' || (i % 3) AS plan
                          FROM {members} t(i)) TO '{out}/members.csv' (HEADER)""")
    changed = "i % 200 = 3" if shape == "steady" else ("true" if shape == "update" else "false")
    inactive = "i % 333 = 1" if shape == "steady" else "false"
    rows = "WHERE false" if shape == "first" else ""
    con.execute(f"""COPY (SELECT {address} AS email,
                                 CASE WHEN {changed} THEN 'Other' || (i % 1000)
                                      ELSE 'Name' || (i % 1000) END AS first_name,
                                 'p' || (i % 3) AS plan,
                                 CASE WHEN {inactive} THEN
                                        CASE WHEN i % 2 = 0 THEN 'unjoin-member' ELSE 'bounced' END
                                      ELSE 'active' END AS status
                          FROM range({shift}, {n} + {shift}) t(i) {rows})
                 TO '{out}/export.csv' (HEADER)""")
    suppressed = "i % 500 = 2" if shape == "steady" else "false"
    con.execute(f"""COPY (SELECT {address} AS email,
                                 CASE i % 3 WHEN 0 THEN 'complaint' WHEN 1 THEN 'bounce'
                                            ELSE 'unsubscribe' END AS reason
                          FROM range({n}) t(i) WHERE {suppressed})
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


def plan_counts(closing: str) -> dict[str, int]:
    """The kinds with changes, from the plan's closing line."""
    found = re.findall(
        r"([\d,]+) (to add|to remove|to unsubscribe|to resubscribe|"
        r"to mark as bounced|to mark as complained|to update|held)",
        closing,
    )
    counts = {_WORDS[words]: int(n.replace(",", "")) for n, words in found}
    return {kind: n for kind, n in sorted(counts.items()) if n}


def run_shape(n: int, shape: str, workdir: Path) -> None:
    t0 = time.perf_counter()
    generate(n, shape, workdir)
    members = sum(1 for _ in (workdir / "members.csv").open()) - 1
    exported = sum(1 for _ in (workdir / "export.csv").open()) - 1
    rows = members + exported
    print(
        f"[{shape}] generated {members:,} members and {exported:,} export rows in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    plan = [
        sys.executable,
        "-m",
        "reconciler",
        "plan",
        "-c",
        "reconciler.yaml",
        "--detailed-exitcode",
    ]
    wall, cpu, rss, out = measure(plan, workdir)
    closing = out.splitlines()[-1] if out else ""
    mine = plan_counts(closing)
    print(
        f"  reconciler plan : {wall:7.2f} s  cpu {cpu:6.1f} s  peak RSS {rss:7.0f} MiB  "
        f"{rows / wall:>12,.0f} rows/s"
    )
    p_wall, p_cpu, p_rss, p_out = measure([sys.executable, "-c", PEER, str(workdir)], workdir)
    peer = {kind: int(n) for kind, n in (w.split("=") for w in p_out.split()) if kind != "invalid"}
    print(
        f"  peer script     : {p_wall:7.2f} s  cpu {p_cpu:6.1f} s  peak RSS {p_rss:7.0f} MiB  "
        f"{rows / p_wall:>12,.0f} rows/s"
    )
    f_wall, f_cpu, f_rss, f_out = measure([sys.executable, "-c", FLOOR, str(workdir)], workdir)
    print(
        f"  anti-join floor : {f_wall:7.2f} s  cpu {f_cpu:6.1f} s  peak RSS {f_rss:7.0f} MiB  "
        f"{rows / f_wall:>12,.0f} rows/s   (%s adds, %s removes)" % tuple(f_out.split())
    )
    print(
        f"  ratio plan/peer: {wall / p_wall:.2f} (cpu {cpu / p_cpu:.2f})  "
        f"plan/floor: {wall / f_wall:.2f} (cpu {cpu / f_cpu:.2f})"
    )
    print(f"  changes: reconciler {mine}")
    print(
        f"  changes: peer       {dict(sorted(peer.items()))}"
        + ("" if mine == dict(sorted(peer.items())) else "  DIFFERENT")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--shape", choices=(*SHAPES, "all"), default="steady")
    parser.add_argument("--dir", type=Path, help="where to write the data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    # Byte-compile the package first, as installing it does: start-up is part of the time.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "reconciler")], check=True)
    for shape in SHAPES if args.shape == "all" else (args.shape,):
        workdir = (
            (args.dir / shape) if args.dir else Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            run_shape(args.n, shape, workdir)
        finally:
            if not args.keep and args.dir is None:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
