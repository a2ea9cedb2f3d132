"""Through the command line: ``validate`` reads a ``sql:`` source's rows, and a configuration
without one never loads the warehouse driver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.warehouse.pgserver import Server

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ("adbc_driver_postgresql", "adbc_driver_manager", "pyarrow", "psycopg")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_validate_reports_a_bad_row_by_its_key(database: Server, tmp_path: Path) -> None:
    database.psql(
        "CREATE TABLE m (id int, email text); "
        "INSERT INTO m VALUES (1, 'ann@example.com'), (2, 'nobody-at-example.com')"
    )
    (tmp_path / "lists.yaml").write_text(
        "providers:\n  lm: {type: listmonk, base_url: sandbox}\n"
        "warehouses:\n  crm: {dsn: '${env:WAREHOUSE_DSN}'}\n"
        "lists:\n  news:\n    provider: lm\n    list_id: '1'\n"
        "    members:\n      - {sql: crm, table: m, key: id}\n"
    )
    done = run(tmp_path, "validate", "-c", "lists.yaml")
    assert done.returncode == 1
    assert (
        "lists.yaml:10 (m id=2): invalid e-mail address 'nobody-at-example.com'"
        in done.stdout + done.stderr
    )
    assert database.dsn() not in done.stdout + done.stderr
    database.psql("UPDATE m SET email = 'bob@example.com' WHERE id = 2")
    done = run(tmp_path, "validate", "-c", "lists.yaml")
    assert (done.returncode, done.stderr) == (0, "")


def test_a_configuration_without_sql_sources_loads_no_driver(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("email\nann@example.com\n")
    (tmp_path / "lists.yaml").write_text(
        "providers:\n  og: {type: ongage}\n"
        "lists:\n  news:\n    provider: og\n    list_id: '1'\n    members: [{csv: m.csv}]\n"
    )
    code = (
        "import sys\n"
        "from reconciler.config.loader import load_config\n"
        "from reconciler.engine.validate import validate_sources\n"
        "assert validate_sources(load_config('lists.yaml')) == []\n"
        f"print(sorted(m for m in {DRIVERS!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "[]"


def test_validate_without_the_dsn_notes_it_and_plan_refuses(tmp_path: Path) -> None:
    # No server is needed: with the variable unset nothing connects.
    (tmp_path / "lists.yaml").write_text(
        "providers:\n  lm: {type: listmonk, base_url: sandbox}\n"
        "warehouses:\n  crm: {dsn: '${env:WAREHOUSE_DSN}'}\n"
        "lists:\n  news:\n    provider: lm\n    list_id: '1'\n"
        "    members:\n      - {sql: crm, table: m, key: id}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_DSN"}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "-c", "lists.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "Note: connection settings not checked: WAREHOUSE_DSN unset "
        "(lists.yaml:4:9 [warehouses.crm.dsn])"
    ) in done.stdout + done.stderr
    planned = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "-c", "lists.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        check=False,
    )
    assert planned.returncode == 1
    assert (
        "lists.yaml:4:9: [warehouses.crm.dsn] environment variable WAREHOUSE_DSN is not set"
    ) in planned.stderr
