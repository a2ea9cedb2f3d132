"""Benchmark reading members from PostgreSQL into the engine's DuckDB, by each reading method.

    python tests/benchmarks/bench_warehouse.py 1000000 [10000000 ...] [--methods adbc,copy,ext,plan]
                                               [--ext-python PYTHON]

Starts a private PostgreSQL (tests/warehouse/pgserver.py), fills a table of N members
(``customer_id bigint, email text, first_name text``) and reads the query reconciler runs for a
``sql:`` source (every column cast to text, the key first) into a DuckDB table with the
engine's settings (memory limit, threads), each method in a process of its own:

- ``adbc``: what reconciler does (reconciler/sources/sqlread.py): ADBC's driver, Arrow batches
  scanned by DuckDB;
- ``copy``: psycopg 3's ``COPY (…) TO STDOUT (FORMAT csv)``, written into a FIFO that DuckDB's
  CSV reader reads as it is written;
- ``ext``: DuckDB's postgres extension (``postgres_query``). It is downloaded at run time,
  which fails offline, and the registry packages that ship it pin an older DuckDB than the
  engine's: give ``--ext-python`` a Python whose DuckDB can load it (e.g. a venv with
  ``duckdb==1.5.5 duckdb-extension-postgres==1.5.5``); without it the method is skipped;
- ``plan``: the whole ``reconciler plan`` with those members from the ``sql:`` source against
  an export file of about N rows (0.5% adds, 0.5% removals), next to ``plan-csv``, the same
  members from a CSV file.

Each prints wall time, the CPU seconds of the reading process (the server's own are not
counted), its peak RSS and rows per second. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.warehouse.pgserver import Server, postgres_server  # noqa: E402

#: The query a ``sql:`` source with ``table: members, key: customer_id`` and one managed
#: field runs (reconciler/sources/sqlsource.py builds it the same way).
SELECT = (
    'SELECT q."customer_id"::text AS sql_key, q."email"::text AS "email", '
    'q."first_name"::text AS "f0" FROM (SELECT * FROM members) AS q'
)

# Each child prints one JSON line: seconds, cpu, rss (MiB) and rows.
MEASURE = """
import json, resource, sys, time
def report(t0, rows):
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": r.ru_utime + r.ru_stime,
                      "rss": r.ru_maxrss / 1024, "rows": rows}))
"""

ADBC = (
    MEASURE
    + """
from reconciler.engine.duck import connect
from reconciler.sources.sqlread import connect as warehouse, load
dsn, select = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
con = connect()
with warehouse(dsn) as conn:
    rows = load(con, "members", conn, select, dsn)
report(t0, rows)
"""
)

COPY = (
    MEASURE
    + """
import os, tempfile, threading
import psycopg
from reconciler.engine.duck import connect
dsn, select = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
con = connect()
fifo = os.path.join(tempfile.mkdtemp(), "rows.csv")
os.mkfifo(fifo)
failed = []
def write():
    try:
        with psycopg.connect(dsn) as pg, pg.cursor() as cur, open(fifo, "wb") as out:
            with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
                for chunk in copy:
                    out.write(chunk)
    except Exception as exc:
        failed.append(exc)
writer = threading.Thread(target=write)
writer.start()
columns = "{'sql_key': 'VARCHAR', 'email': 'VARCHAR', 'f0': 'VARCHAR'}"
con.execute(
    "CREATE TABLE members AS SELECT (row_number() OVER ())::UBIGINT AS sql_ord, * FROM "
    f"read_csv('{fifo}', header=false, auto_detect=false, columns={columns}, quote='\\"', "
    "escape='\\"')"
)
writer.join()
assert not failed, failed
report(t0, con.execute("SELECT count(*) FROM members").fetchall()[0][0])
"""
)

EXT = (
    MEASURE
    + """
import duckdb
dsn, select = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET memory_limit='720MB'")
con.execute("SET preserve_insertion_order=false")
try:
    con.execute("LOAD postgres")
except duckdb.Error:
    # duckdb-extension-postgres ships the file under a name DuckDB does not look for.
    import glob, os, shutil, duckdb_extension_postgres
    found = glob.glob(os.path.dirname(duckdb_extension_postgres.__file__) + "/extensions/*/*")
    target = os.path.join(tempfile.mkdtemp(), "postgres_scanner.duckdb_extension")
    shutil.copy(found[0], target)
    con.execute(f"LOAD '{target}'")
# Timed from here: loading the extension is a one-off the other methods do not pay either.
t0 = time.perf_counter()
con.execute(f"ATTACH '{dsn}' AS pg (TYPE postgres, READ_ONLY)")
quoted = select.replace("'", "''")
con.execute(
    "CREATE TABLE members AS SELECT (row_number() OVER ())::UBIGINT AS sql_ord, * "
    f"FROM postgres_query('pg', '{quoted}')"
)
report(t0, con.execute("SELECT count(*) FROM members").fetchall()[0][0])
""".replace("import duckdb\n", "import duckdb, tempfile\n", 1)
)

PLAN = (
    MEASURE
    + """
import contextlib, io, os
from reconciler.cli.main import main
t0 = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["plan", "-c", sys.argv[1]])
assert code == 0, (code, out.getvalue()[-2000:])
assert "Plan: " in out.getvalue(), out.getvalue()[-2000:]
report(t0, int(sys.argv[2]))
"""
)

CONFIG = """\
providers:
  bench: {{type: ongage}}
warehouses:
  crm: {{dsn: "${{env:WAREHOUSE_DSN}}"}}
guards: {{max_drop_percent: null, max_add_percent: null, max_update_percent: null}}
lists:
  bench:
    provider: bench
    list_id: "1"
    managed_fields: [first_name]
    members: [{members}]
    export: {{format: ongage, path: export.csv}}
"""


def fill(server: Server, rows: int) -> float:
    started = time.perf_counter()
    server.psql(
        "DROP TABLE IF EXISTS members; "
        "CREATE TABLE members AS SELECT g::bigint AS customer_id, "
        "'user' || g || '@example.com' AS email, 'Name' || (g % 1000) AS first_name "
        f"FROM generate_series(1, {rows}) g; ALTER TABLE members ADD PRIMARY KEY (customer_id)"
    )
    return time.perf_counter() - started


def write_plan_files(server: Server, rows: int, work: Path) -> None:
    """export.csv (99.5% of the members, 0.5% others) and members.csv, written by COPY."""
    keep = rows - rows // 200
    export = work / "export.csv"
    members = work / "members.csv"
    server.psql(
        f"\\copy (SELECT email, first_name, 'active' AS status FROM members WHERE customer_id "
        f"<= {keep} UNION ALL SELECT 'gone' || g || '@example.com', 'Gone', 'active' FROM "
        f"generate_series(1, {rows // 200}) g) TO '{export}' WITH (FORMAT csv, HEADER)"
    )
    server.psql(
        f"\\copy (SELECT customer_id, email, first_name FROM members) TO '{members}' "
        "WITH (FORMAT csv, HEADER)"
    )
    sql = "{sql: crm, table: members, key: customer_id}"
    (work / "sql").mkdir(exist_ok=True)
    (work / "csv").mkdir(exist_ok=True)
    (work / "sql" / "reconciler.yaml").write_text(CONFIG.format(members=sql))
    (work / "csv" / "reconciler.yaml").write_text(CONFIG.format(members="{csv: members.csv}"))
    for name in ("sql", "csv"):
        (work / name / "export.csv").symlink_to(export)
    (work / "csv" / "members.csv").symlink_to(members)


def run(python: str, code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    import os

    done = subprocess.run(
        [python, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        check=False,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def show(method: str, rows: int, m: dict[str, float]) -> None:
    assert m["rows"] == rows, (method, m)
    print(
        f"  {method:9} {m['seconds']:7.2f} s  cpu {m['cpu']:6.2f} s  peak RSS {m['rss']:6.0f} MiB"
        f"  {rows / m['seconds']:>12,.0f} rows/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="+")
    parser.add_argument("--methods", default="adbc,copy,ext,plan")
    parser.add_argument("--ext-python", help="a Python whose DuckDB loads the postgres extension")
    args = parser.parse_args()
    methods = args.methods.split(",")
    with postgres_server() as server, tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            print(f"{rows:,} members (filled in {fill(server, rows):.1f} s):", flush=True)
            dsn = server.dsn()
            if "adbc" in methods:
                show("adbc", rows, run(sys.executable, ADBC, dsn, SELECT))
            if "copy" in methods:
                show("copy", rows, run(sys.executable, COPY, dsn, SELECT))
            if "ext" in methods:
                if args.ext_python:
                    show("ext", rows, run(args.ext_python, EXT, dsn, SELECT))
                else:
                    print("  ext       skipped: give --ext-python (see the docstring)")
            if "plan" in methods:
                work = Path(tmp) / str(rows)
                work.mkdir()
                write_plan_files(server, rows, work)
                # Both repositories link the same files, kept in their parent.
                env = {"WAREHOUSE_DSN": dsn, "RECONCILER_PATHS_ROOT": str(work)}
                for name, config in (("plan", "sql"), ("plan-csv", "csv")):
                    show(
                        name,
                        rows,
                        run(sys.executable, PLAN, str(work / config), str(rows), env=env),
                    )


if __name__ == "__main__":
    main()
