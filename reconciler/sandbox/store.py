"""The emulator's store: one SQLite database shared by every emulated vendor."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Database:
    """One SQLite database (file in the data dir, or in memory) shared by every vendor.

    SQLite serialises writers anyway; one connection behind a lock keeps the emulator simple
    and its state consistent across restarts."""

    def __init__(self, path: Path | None) -> None:
        target = str(path) if path else ":memory:"
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(
        self, sql: str, params: tuple[Any, ...] | Mapping[str, Any] = ()
    ) -> list[sqlite3.Row]:
        with self.lock:
            return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any] = ()) -> None:
        with self.lock:
            self._conn.execute(sql, params)

    def executescript(self, sql: str) -> None:
        with self.lock:
            self._conn.executescript(sql)

    def close(self) -> None:
        with self.lock:
            self._conn.close()
