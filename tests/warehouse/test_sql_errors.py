"""What goes wrong with a ``sql:`` source is one located error before anything is read or
sent: the source's place in the YAML, the warehouse's name and PostgreSQL's own words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.engine.planner import build_plan
from reconciler.errors import ConfigError, SourceError
from tests.warehouse.pgserver import Server
from tests.warehouse.test_sql_source import HEAD

Write = Callable[[str, str], Path]

# The one list of test_sql_source.py, its members from warehouse crm.
CONFIG = HEAD + "      - sql: crm\n"


def problems_of(write: Write, source: str) -> list[str]:
    write("lists.yaml", CONFIG + source)
    write("export.csv", "email,status\n")
    with pytest.raises(SourceError) as exc:
        build_plan(load_config("lists.yaml"))
    return [str(p) for p in exc.value.problems]


@pytest.fixture
def crm(database: Server) -> Server:
    database.psql("CREATE TABLE m (id int, email text, age int, first_name text)")
    return database


def test_bad_sql(crm: Server, project: Write) -> None:
    assert problems_of(project, "        query: SELEC id FROM m\n        key: id\n") == [
        "lists.yaml:13: warehouse 'crm': the query failed: syntax error at or near \"SELEC\" "
        "(SQLSTATE 42601)"
    ]


def test_a_missing_table(crm: Server, project: Write) -> None:
    assert problems_of(project, "        table: nowhere\n        key: id\n") == [
        "lists.yaml:13: warehouse 'crm': the query failed: relation \"nowhere\" does not exist "
        "(SQLSTATE 42P01)"
    ]


def test_missing_columns_are_listed_at_once(crm: Server, project: Write) -> None:
    source = "        table: m\n        key: customer_id\n        columns: {first_name: given}\n"
    assert problems_of(project, source) == [
        "lists.yaml:13: warehouse 'crm': no key column 'customer_id' "
        "(columns: id, email, age, first_name)",
        "lists.yaml:13: warehouse 'crm': no column 'given' for 'first_name' "
        "(columns: id, email, age, first_name)",
    ]


def test_an_address_that_is_not_text(crm: Server, project: Write) -> None:
    source = "        table: m\n        key: id\n        columns: {email: age}\n"
    assert problems_of(project, source) == [
        "lists.yaml:13: warehouse 'crm': column 'age' for 'email' is int4, expected text"
    ]


def test_an_error_while_rows_are_read(crm: Server, project: Write) -> None:
    source = (
        "        query: SELECT id, email, 1 / (id - id) AS first_name FROM m\n        key: id\n"
    )
    crm.psql("INSERT INTO m VALUES (1, 'ann@example.com', 30, 'Ann')")
    assert problems_of(project, source) == [
        "lists.yaml:13: warehouse 'crm': reading the rows failed: division by zero"
    ]


def test_an_unreachable_database_never_shows_the_dsn(
    postgres: Server, project: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port nobody listens on (the server's own, plus one, is not certain: ask the kernel).
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WAREHOUSE_DSN", f"postgresql://reader:s3cret-pw@127.0.0.1:{port}/crm")
    problems = problems_of(project, "        table: m\n        key: id\n")
    assert problems == [
        f"lists.yaml:13: warehouse 'crm': cannot connect: connection to server at "
        f'"127.0.0.1", port {port} failed: Connection refused Is the server running on that '
        "host and accepting TCP/IP connections?"
    ]


def test_a_wrong_password_is_never_printed(postgres: Server, project: Write) -> None:
    postgres.psql("DROP ROLE IF EXISTS reader; CREATE ROLE reader LOGIN PASSWORD 'right-pw'")
    write_dsn = f"postgresql://reader:wrong-pw-123@127.0.0.1:{postgres.port}/nodb"
    project(
        "lists.yaml",
        CONFIG.replace("${env:WAREHOUSE_DSN}", write_dsn) + "        table: m\n        key: id\n",
    )
    project("export.csv", "email,status\n")
    with pytest.raises(SourceError) as exc:
        build_plan(load_config("lists.yaml"))
    assert str(exc.value.problems[0]) == (
        "lists.yaml:13: warehouse 'crm': cannot connect: connection to server at "
        f'"127.0.0.1", port {postgres.port} failed: FATAL:  database "nodb" does not exist'
    )
    assert "wrong-pw-123" not in str(exc.value)
    assert "wrong-pw-123" not in repr(load_config("lists.yaml").config)


def test_an_unknown_warehouse(project: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://127.0.0.1:1/crm")
    source = "        table: m\n        key: id\n"
    text = CONFIG.replace("      - sql: crm\n", "      - sql: dwh\n")
    project("lists.yaml", text + source)
    project("export.csv", "email,status\n")
    with pytest.raises(SourceError) as exc:
        build_plan(load_config("lists.yaml"))
    assert [str(p) for p in exc.value.problems] == [
        "lists.yaml:13: warehouse 'dwh': no such warehouse (defined under 'warehouses:': crm)"
    ]


def test_query_and_table_together_are_a_config_error(
    project: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://127.0.0.1:1/crm")
    project("lists.yaml", CONFIG + "        table: m\n        query: SELECT 1\n        key: id\n")
    with pytest.raises(ConfigError) as exc:
        load_config("lists.yaml")
    assert "give exactly one of 'query' or 'table'" in str(exc.value)


def test_an_empty_dsn_is_a_plain_connection_error(project: Write) -> None:
    project(
        "lists.yaml",
        CONFIG.replace("${env:WAREHOUSE_DSN}", '""') + "        table: m\n        key: id\n",
    )
    project("export.csv", "email,status\n")
    with pytest.raises(SourceError) as exc:
        build_plan(load_config("lists.yaml"))
    (problem,) = exc.value.problems
    assert str(problem).startswith("lists.yaml:13: warehouse 'crm': cannot connect: ")
    assert "***" not in str(problem)
