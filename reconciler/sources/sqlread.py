"""Reading a PostgreSQL query into DuckDB: through ADBC, as an Arrow stream.

ADBC's PostgreSQL driver runs the query as ``COPY … TO STDOUT (FORMAT binary)`` and hands the
rows over as Arrow record batches, which DuckDB scans batch by batch: no row is ever a Python
object, and memory holds a batch at a time. It was measured against psycopg's ``COPY`` fed to
DuckDB's CSV reader and against DuckDB's own postgres extension (see
``tests/benchmarks/bench_warehouse.py`` and the README): the extension is faster, but no
registry package ships it for the DuckDB the engine runs on, and it is downloaded at run time
otherwise, which fails offline.

The driver is imported by the functions that connect, never at module load, so that a
configuration without ``sql:`` sources never loads it. Every failure becomes
:class:`WarehouseError` with PostgreSQL's own words, the DSN scrubbed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from reconciler.redact import register_secret, scrub

#: PostgreSQL's text types: what an address, a reason or a consent reference must be.
TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext", "name"})
#: libpq waits forever on an address that drops packets; a plan should fail instead.
CONNECT_TIMEOUT_SECONDS = "15"
#: The password in a URI DSN (``postgresql://user:PASSWORD@host``) or a key=value one.
_PASSWORD_RE = re.compile(r"(?::([^:@/?#]+)@)|(?:\bpassword\s*=\s*('[^']*'|\S+))")


class WarehouseError(Exception):
    """A warehouse could not be reached or a query failed; the message is fit to print."""


def _register_dsn(dsn: str) -> None:
    """The DSN and the password inside it become secrets: a DSN written in the YAML (not
    taken from the environment) is not registered by the loader, and a driver message may
    quote either."""
    register_secret(dsn)
    for match in _PASSWORD_RE.finditer(dsn):
        register_secret((match.group(1) or match.group(2) or "").strip("'"))


def _message(exc: BaseException, dsn: str) -> str:
    """PostgreSQL's error without the driver's wrapping (status prefix, the query echoed)."""
    text = str(exc).replace(dsn, "***") if dsn else str(exc)
    found = re.search(r"ERROR:\s+(.*)", text)
    if found:
        state = re.search(r"SQLSTATE: (\w+)", text)
        suffix = f" (SQLSTATE {state.group(1)})" if state else ""
        return scrub(found.group(1).strip() + suffix)
    found = re.search(r"Failed to connect: (.*)", text, re.DOTALL)
    if found:
        text = found.group(1)
    first = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return scrub(re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", first))


@contextmanager
def connect(dsn: str) -> Iterator[Any]:
    """An ADBC connection whose session reads only (a source never writes to the warehouse)."""
    _register_dsn(dsn)
    os.environ.setdefault("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS)
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(dsn, autocommit=True)
    except Exception as exc:  # the driver's errors share no base class with the manager's
        raise WarehouseError(f"cannot connect: {_message(exc, dsn)}") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        yield conn
    finally:
        conn.close()


def describe(conn: Any, relation: str, dsn: str) -> dict[str, str]:
    """The columns of ``relation`` (a SELECT) and their PostgreSQL type names, from a plan of
    the query that reads no row."""
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({relation}) AS q LIMIT 0")
            schema = cur.fetch_arrow_table().schema
    except Exception as exc:
        raise WarehouseError(f"the query failed: {_own_words(conn, relation, exc, dsn)}") from None
    columns: dict[str, str] = {}
    for column in schema:
        meta = column.metadata or {}
        type_name = meta.get(b"POSTGRESQL:type") or meta.get(b"ADBC:postgresql:typname") or b""
        columns[column.name] = type_name.decode() or str(column.type)
    return columns


def _own_words(conn: Any, relation: str, exc: Exception, dsn: str) -> str:
    """The error of the query as written, not inside the wrapper that described it (which
    moves a syntax error's place): EXPLAIN parses and plans it without running it."""
    try:
        with conn.cursor() as cur:
            cur.execute(f"EXPLAIN {relation}")
            cur.fetchall()
    except Exception as own:
        return _message(own, dsn)
    return _message(exc, dsn)


def load(con: Any, table: str, conn: Any, select: str, dsn: str) -> int:
    """Stream ``select``'s rows into DuckDB table ``table`` (numbered in column ``sql_ord``);
    the rows read."""
    view = f"{table}_arrow"
    try:
        with conn.cursor() as cur:
            cur.execute(select)
            reader = cur.fetch_record_batch()
            con.register(view, reader)
            try:
                con.execute(
                    f"CREATE OR REPLACE TABLE {table} AS "
                    f"SELECT (row_number() OVER ())::UBIGINT AS sql_ord, * FROM {view}"
                )
            finally:
                con.unregister(view)
    except duckdb.OutOfMemoryException:
        raise  # the engine's own error, which says how to raise the budget
    except Exception as exc:
        raise WarehouseError(f"reading the rows failed: {_message(exc, dsn)}") from None
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
