"""The DuckDB connection the engine works in, tuned to stay inside a memory budget."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, Protocol

import duckdb

from reconciler.errors import PlanError
from reconciler.limits import DUCKDB_MEMORY

DEFAULT_MEMORY_LIMIT = DUCKDB_MEMORY


class Cursor(Protocol):
    """What the engine reads a query's result with (a DuckDB connection or cursor)."""

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchmany(self, size: int = ...) -> list[tuple[Any, ...]]: ...


class Connection(Cursor, Protocol):
    """The DuckDB connection the engine runs on: ``execute`` returns it, ready to fetch."""

    def execute(self, query: str, parameters: object = ...) -> Cursor: ...

    def cursor(self) -> Connection: ...

    def close(self) -> None: ...


@cache
def _spill_directory() -> str:
    """One directory per process for DuckDB to spill to, removed when the process exits."""
    path = tempfile.mkdtemp(prefix="reconciler-duckdb-")
    atexit.register(shutil.rmtree, path, True)
    return path


def cores() -> int:
    """The threads DuckDB runs on (and the parts a large file is numbered in)."""
    return max(1, min(os.cpu_count() or 1, 8))


def connect(*, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> Any:
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads={threads or cores()}")
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute(f"SET temp_directory='{_spill_directory()}'")
    # Row order inside the engine never matters (rows are numbered by WITH ORDINALITY at the
    # source); not preserving it lets DuckDB stream joins with less memory.
    con.execute("SET preserve_insertion_order=false")
    # DuckDB draws a progress bar on stdout for slow queries: stdout belongs to the plan.
    con.execute("SET enable_progress_bar=false")
    return con


def out_of_memory(exc: Exception) -> PlanError:
    """DuckDB's out-of-memory error as one that says what to do."""
    detail = str(exc).splitlines()[0].removeprefix("Out of Memory Error: ")
    return PlanError(
        f"the engine ran out of its memory budget ({DEFAULT_MEMORY_LIMIT}; DuckDB: {detail}). "
        "Give it more with the environment variable RECONCILER_DUCKDB_MEMORY (e.g. "
        "RECONCILER_DUCKDB_MEMORY=2GB) and run the command again; nothing was sent."
    )


def hash_sql(expr: str) -> str:
    """A 64-bit key of a normalised address (joined on; collisions are caught by ``hash2``)."""
    return f"hash({expr})"


def hash2_sql(expr: str) -> str:
    """An independent second key, so two addresses sharing ``hash`` are told apart: 32 bits
    are enough next to the first key's 64 (one pair in 2^96), and ten million of them fit in
    40MB less."""
    return f"(hash({expr} || '\x1f') >> 32)::UINTEGER"


def field_hash_sql(expr: str) -> str:
    """Hash of a field value as written, NULL when empty (an empty value is "no opinion").

    The key only tells which rows may have changed, so it may see more differences than the
    rules, never fewer: a value that differs only by surrounding white space (or is nothing
    but white space) makes its row hot, and :func:`reconciler.engine.rules.changed_fields`,
    which strips values, then finds no change. Trimming in SQL cost about 0.3 s per ten
    million values on each side, for rows that are rare."""
    return f"(CASE WHEN {expr} <> '' THEN hash({expr}) END)"


@contextmanager
def keep_join_sides(con: Any) -> Iterator[None]:
    """Keep DuckDB from swapping a join's sides while the block runs: the right side is the
    hash table. Its estimates of a CSV read are rough, and building on ten million rows of
    addresses instead of the few thousand keys asked for costs seconds and memory."""
    try:
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    except duckdb.Error:  # a DuckDB without that optimizer: only speed is at stake
        yield
        return
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")
