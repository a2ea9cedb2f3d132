"""Work that runs beside DuckDB's own threads while a list is diffed: queries on a second
cursor, and scans of files' bytes (I/O and ``bytes.count``, which leave the cores to DuckDB)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from reconciler.exports.snapshot import CurrentSnapshot, LineCountable
from reconciler.sources.desired import CsvRowSource, ListSources


class BackgroundQueries:
    """Queries run on their own cursor in a thread while the caller goes on; ``results()``
    waits for them and re-raises a failure in the caller's thread."""

    def __init__(self, con: Any, queries: Sequence[str]) -> None:
        self._cursor = con.cursor()
        self._results: list[list[tuple[Any, ...]]] = []
        self._failure: list[BaseException] = []
        self._cursor_closed = False
        self._thread = threading.Thread(
            target=self._work, args=(queries,), name="reconciler-counts", daemon=True
        )
        self._thread.start()

    def _work(self, queries: Sequence[str]) -> None:
        try:
            for sql in queries:
                self._results.append(self._cursor.execute(sql).fetchall())
        except BaseException as exc:  # re-raised in the caller's thread
            self._failure.append(exc)

    def join(self) -> None:
        self._thread.join()
        if not self._cursor_closed:
            self._cursor.close()
            self._cursor_closed = True

    def results(self) -> list[list[tuple[Any, ...]]]:
        self.join()
        if self._failure:
            raise self._failure[0]
        return self._results


class FileScans:
    """Scan the member files' lines (for ``file:line`` and for numbering them in parts) and
    count the export's rows by its lines where that is exact, in a thread while DuckDB reads
    the members: mostly I/O and ``bytes.count``, which leave the cores to DuckDB."""

    def __init__(self, entry: ListSources, current: CurrentSnapshot) -> None:
        self._files = [s.file for s in entry.members if isinstance(s, CsvRowSource)]
        self._current = current if isinstance(current, LineCountable) else None
        self.export_rows: int | None = None
        self._thread = threading.Thread(target=self._work, name="reconciler-lines", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        for csv_file in self._files:
            csv_file.scan()
        if self._current is not None:
            self.export_rows = self._current.rows_by_lines()

    def __enter__(self) -> FileScans:
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
