"""A plan's rows on disk: one Parquet file per kind, written and read by DuckDB a chunk at a
time (see :mod:`reconciler.plan.changes` for the interface and when a plan is stored so)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from reconciler.limits import DUCKDB_MEMORY
from reconciler.model import KIND_ORDER, ChangeKind
from reconciler.plan.changes import CHUNK_ROWS, NO_VALUES, Changes, FieldValues, ListChange


class ColumnarChanges(Changes):
    """Rows in one Parquet file per kind under ``directory`` (removed with the last reference
    to it). Each file has the columns ``email, reason``, then for each managed field its desired
    value (NULL: not set), which fields have a previous value (``pm``: a ``0`` or ``1`` per
    field, in order, or empty for none; a list may manage more fields than an integer has
    bits), and those values.

    The files are written in any order: sorting millions of rows by address costs about half
    a second per million, and a plan that is only shown needs a few of them (``head`` takes
    the first ones in one pass). The first stream of a kind's every row writes a sorted copy,
    which later streams read."""

    def __init__(
        self, directory: Path, fields: Sequence[str], counts: Mapping[ChangeKind, int]
    ) -> None:
        self.directory = directory
        self.fields = tuple(fields)
        self._counts = {kind: int(counts.get(kind, 0)) for kind in KIND_ORDER}
        self._owner = _Directory.of(directory)
        self._lock = threading.Lock()

    @property
    def counts(self) -> Mapping[ChangeKind, int]:
        return self._counts

    def path(self, kind: ChangeKind) -> Path:
        """Where the engine writes the rows of ``kind``, in any order. Rows written in bulk
        may also lie in partitions ``PART/kind=KIND/*.parquet`` of the directory (``COPY …
        PARTITION_BY (kind)``, see ``reconciler.engine.changeset``)."""
        return self.directory / f"{kind.value}.parquet"

    def _files(self, kind: ChangeKind) -> list[Path]:
        parts = sorted(self.directory.glob(f"*/kind={kind.value}/*.parquet"))
        return parts + ([self.path(kind)] if self.path(kind).exists() else [])

    def _sorted_path(self, kind: ChangeKind) -> Path:
        return self.directory / f"{kind.value}.sorted.parquet"

    def of_kind(self, kind: ChangeKind) -> Iterator[ListChange]:
        if not self._counts[kind]:
            return iter(())
        return self._stream(kind)

    def head(self, kind: ChangeKind, n: int | None) -> list[ListChange]:
        if n is None or not self._counts[kind]:
            return super().head(kind, n)
        return self._rows(kind, f"SELECT * FROM {self._source(kind)} ORDER BY email LIMIT {n:d}")

    def _source(self, kind: ChangeKind) -> str:
        files = ", ".join(sql_path(p) for p in self._files(kind))
        return f"read_parquet([{files}], hive_partitioning=false)"

    def _rows(self, kind: ChangeKind, query: str) -> list[ListChange]:
        cursor = _reader().cursor()
        try:
            return list(map(row_maker(kind, self.fields), cursor.execute(query).fetchall()))
        finally:
            cursor.close()

    def _ordered(self, kind: ChangeKind) -> Path:
        """The rows of ``kind`` sorted by address, written on first use."""
        ordered = self._sorted_path(kind)
        with self._lock:
            if not ordered.exists():
                partial = ordered.with_suffix(".partial")
                _execute(
                    f"COPY (SELECT * FROM {self._source(kind)} ORDER BY email) "
                    f"TO {sql_path(partial)} (FORMAT parquet)"
                )
                partial.replace(ordered)
        return ordered

    def ordered_source(self, kind: ChangeKind) -> str:
        """SQL naming the rows of ``kind`` in address order, each with its place among them
        (``file_row_number``, from 0), for writers that render rows in SQL (batch files)."""
        return f"read_parquet({sql_path(self._ordered(kind))}, file_row_number=true)"

    def field_column(self, name: str) -> str:
        """The column of ``name``'s desired value in :meth:`ordered_source` (NULL if none)."""
        return f"f{self.fields.index(name)}" if name in self.fields else "NULL::VARCHAR"

    def query(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql`` (over :meth:`ordered_source`), fetched one at a time."""
        cursor = _reader().cursor()
        try:
            cursor.execute(sql)
            while (row := cursor.fetchone()) is not None:
                yield row
        finally:
            cursor.close()

    def _stream(self, kind: ChangeKind) -> Iterator[ListChange]:
        cursor = _reader().cursor()
        try:
            cursor.execute(f"SELECT * FROM read_parquet({sql_path(self._ordered(kind))})")
            make = row_maker(kind, self.fields)
            while chunk := cursor.fetchmany(CHUNK_ROWS):
                yield from map(make, chunk)
        finally:
            cursor.close()

    def columns(
        self, kind: ChangeKind, names: Sequence[str], size: int
    ) -> Iterator[tuple[list[str], list[list[str | None]]]]:
        if not self._counts[kind]:
            return
        values = [self.field_column(n) for n in names]
        cursor = _reader().cursor()
        try:
            cursor.execute(
                f"SELECT {', '.join(['email', *values])} "
                f"FROM read_parquet({sql_path(self._ordered(kind))})"
            )
            while chunk := cursor.fetchmany(size):
                emails, *columns = (list(column) for column in zip(*chunk, strict=True))
                yield emails, columns
        finally:
            cursor.close()

    def without(self, emails: Mapping[ChangeKind, Collection[str]]) -> Changes:
        if not any(emails.values()):
            return self
        target = _Directory.new(self.directory.parent)
        counts = dict(self._counts)
        cursor = _reader().cursor()
        try:
            for kind in KIND_ORDER:
                if not counts[kind]:
                    continue
                query = f"SELECT * FROM {self._source(kind)}"
                if gone := list(emails.get(kind, ())):
                    cursor.execute(
                        "CREATE OR REPLACE TEMP TABLE gone AS SELECT unnest(?) AS e", [gone]
                    )
                    query += " WHERE email NOT IN (SELECT e FROM gone)"
                # COPY answers with the rows it wrote: the count needs no second scan.
                written = cursor.execute(
                    f"COPY ({query}) TO {sql_path(target / self.path(kind).name)} (FORMAT parquet)"
                ).fetchall()
                counts[kind] = int(written[0][0])
        finally:
            cursor.close()
        return ColumnarChanges(target, self.fields, counts)


def columnar_from_json_lines(path: Path) -> ColumnarChanges:
    """A store of the rows in a JSON Lines file (a saved plan's, ``plan.jsonform``), read by
    DuckDB without a Python object per row: the managed fields are the keys its rows use.
    Raises ValueError when the file does not hold such rows."""
    import duckdb

    directory = Path(tempfile.mkdtemp(prefix="reconciler-plan-"))
    owner = _Directory.of(directory)
    every = directory / "rows.parquet"
    columns = (
        "{kind: 'VARCHAR', email: 'VARCHAR', reason: 'VARCHAR', fields: 'JSON', previous: 'JSON'}"
    )
    cursor = _reader().cursor()
    try:
        cursor.execute(
            f"COPY (SELECT * FROM read_json({sql_path(path)}, format='newline_delimited', "
            f"columns={columns})) TO {sql_path(every)} (FORMAT parquet)"
        )
        rows = f"read_parquet({sql_path(every)})"
        fields = sorted(
            str(name)
            for (name,) in cursor.execute(
                f"SELECT DISTINCT unnest(json_keys(fields)) FROM {rows} UNION "
                f"SELECT DISTINCT unnest(json_keys(previous)) FROM {rows}"
            ).fetchall()
        )
        counts = {
            ChangeKind(kind): int(n)
            for kind, n in cursor.execute(
                f"SELECT kind, count(*) FROM {rows} GROUP BY kind"
            ).fetchall()
        }
        paths = [_json_path(name) for name in fields]
        values = "".join(f", json_extract_string(fields, {q}) AS f{i}" for i, q in enumerate(paths))
        previous = "".join(
            f", json_extract_string(previous, {q}) AS p{i}" for i, q in enumerate(paths)
        )
        present = [f"CASE WHEN json_exists(previous, {q}) THEN '1' ELSE '0' END" for q in paths]
        mask = " || ".join(present) or "''"
        store = ColumnarChanges(directory, fields, counts)
        for kind in counts:
            cursor.execute(
                f"COPY (SELECT email, reason{values}, {mask}::VARCHAR AS pm{previous} "
                f"FROM {rows} WHERE kind = {_sql_text(kind.value)}) "
                f"TO {sql_path(store.path(kind))} (FORMAT parquet)"
            )
    except duckdb.Error as exc:
        raise ValueError(f"rows unreadable: {str(exc).splitlines()[0]}") from exc
    finally:
        cursor.close()
        every.unlink(missing_ok=True)
    del owner  # the store holds the directory now
    return store


def _json_path(name: str) -> str:
    """A JSON path naming the key ``name``, as SQL text."""
    return _sql_text('$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def row_maker(kind: ChangeKind, fields: tuple[str, ...]) -> Any:
    """A function from a stored row to its :class:`ListChange`."""
    new = tuple.__new__
    if not fields:
        return lambda row: new(ListChange, (kind, row[0], row[1], NO_VALUES, NO_VALUES))
    width = len(fields)

    def make(row: tuple[Any, ...]) -> ListChange:
        values: FieldValues = {
            name: value
            for name, value in zip(fields, row[2 : 2 + width], strict=True)
            if value is not None
        }
        mask = row[2 + width]
        previous: FieldValues = (
            {name: row[3 + width + i] for i, name in enumerate(fields) if mask[i : i + 1] == "1"}
            if mask and "1" in mask
            else NO_VALUES
        )
        return new(ListChange, (kind, row[0], row[1], values or NO_VALUES, previous))

    return make


def sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class _Directory:
    """A scratch directory removed when the last store reading it is gone (or at exit)."""

    _live: ClassVar[weakref.WeakValueDictionary[str, _Directory]] = weakref.WeakValueDictionary()

    def __init__(self, path: Path) -> None:
        self.path = path
        weakref.finalize(self, shutil.rmtree, str(path), True)

    @classmethod
    def of(cls, path: Path) -> _Directory:
        known = cls._live.get(str(path))
        if known is None:
            known = cls._live[str(path)] = cls(path)
        return known

    @staticmethod
    def new(parent: Path) -> Path:
        return Path(tempfile.mkdtemp(prefix="changes-", dir=parent))


_READER: Any = None


def _reader() -> Any:
    """One DuckDB connection for reading stores (a cursor per stream), within a memory budget
    like the engine's: a sort of ten million rows spills to disk rather than growing."""
    global _READER
    if _READER is None:
        import duckdb

        con = duckdb.connect(":memory:")
        con.execute(f"SET memory_limit='{DUCKDB_MEMORY}'")
        spill = tempfile.mkdtemp(prefix="reconciler-reader-")
        atexit.register(shutil.rmtree, spill, True)
        con.execute(f"SET temp_directory={sql_path(Path(spill))}")
        con.execute("SET enable_progress_bar=false")
        _READER = con
    return _READER


def _execute(query: str) -> None:
    cursor = _reader().cursor()
    try:
        cursor.execute(query)
    finally:
        cursor.close()
