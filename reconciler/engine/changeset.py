"""The table a list's changes are written to (``chg``), and the store they end in.

The rules that DuckDB can apply row by row (plain adds and drops, matched members: see
:mod:`reconciler.engine.rules`) write their changes here in SQL; the few addresses decided in
Python (suppressed, opted in, declared twice) are appended. A small plan is then read into
memory; a large one is written out as one Parquet file per kind, in address order, and read
back a chunk at a time (:class:`reconciler.plan.changes.ColumnarChanges`), so that a first sync
of ten million members never holds ten million Python objects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from reconciler.engine.duck import Connection
from reconciler.model import KIND_ORDER, ChangeKind
from reconciler.plan import changes as stores
from reconciler.plan.changes import Changes, InMemoryChanges, ListChange
from reconciler.plan.columnar import ColumnarChanges, row_maker, sql_path
from reconciler.sources.desired import DesiredSources

#: Each kind's number in the table (its place in ``KIND_ORDER``).
KIND_NUMBER = {kind: i for i, kind in enumerate(KIND_ORDER)}


def columns(width: int) -> str:
    """The stored columns for ``width`` managed fields (see ``ColumnarChanges``)."""
    values = "".join(f", f{i}" for i in range(width))
    previous = "".join(f", p{i}" for i in range(width))
    return f"email, reason{values}, pm{previous}"


def create_table(con: Connection, width: int) -> None:
    """``chg``: the stored columns, with the kind, and (for a reason that only Python can
    locate, NULL until :func:`locate_reasons`) the row's source and ordinal and the text that
    goes before its ``file:line``."""
    values = "".join(f", f{i} VARCHAR" for i in range(width))
    previous = "".join(f", p{i} VARCHAR" for i in range(width))
    con.execute(
        "CREATE OR REPLACE TABLE chg (k UTINYINT, email VARCHAR, reason VARCHAR, "
        f"rpre VARCHAR, src BIGINT, ord BIGINT{values}, pm VARCHAR{previous})"
    )


def insert_rows(con: Connection, rows: Sequence[ListChange], fields: Sequence[str]) -> None:
    """Append changes decided in Python, a column at a time (one list per column)."""
    if not rows:
        return
    params: list[list[object]] = [
        [KIND_NUMBER[r.kind] for r in rows],
        [r.email for r in rows],
        [r.reason for r in rows],
    ]
    params += [[r.fields.get(name) for r in rows] for name in fields]
    params.append(["".join("1" if name in r.previous else "0" for name in fields) for r in rows])
    params += [[r.previous.get(name) for r in rows] for name in fields]
    types = ["UTINYINT", "VARCHAR", "VARCHAR"] + ["VARCHAR"] * len(fields)
    types += ["VARCHAR"] + ["VARCHAR"] * len(fields)
    names = ["k", *columns(len(fields)).split(", ")]
    selected = ", ".join(
        f"unnest(${i + 1}::{t}[]) AS {name}"
        for i, (t, name) in enumerate(zip(types, names, strict=True))
    )
    con.execute(f"INSERT INTO chg BY NAME SELECT {selected}", params)


def locate_reasons(con: Connection, desired: DesiredSources) -> None:
    """Fill in the reasons SQL could not compute (inline rows, CSV rows that span lines):
    ``rpre`` followed by the row's ``file:line``, which :meth:`DesiredSources.origin` tells."""
    places = con.execute(
        "SELECT DISTINCT src, ord FROM chg WHERE reason IS NULL AND src IS NOT NULL"
    ).fetchall()
    if not places:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE origins AS SELECT unnest($1::BIGINT[]) AS src, "
        "unnest($2::BIGINT[]) AS ord, unnest($3::VARCHAR[]) AS origin",
        [
            [p[0] for p in places],
            [p[1] for p in places],
            [desired.origin(int(p[0]), int(p[1])) for p in places],
        ],
    )
    con.execute(
        "UPDATE chg SET reason = coalesce(chg.rpre, '') || o.origin FROM origins o "
        "WHERE chg.reason IS NULL AND chg.src = o.src AND chg.ord = o.ord"
    )


class BulkRows:
    """The rows SQL decides in bulk, past the size at which a plan is stored in Parquet,
    written straight there (one ``COPY … PARTITION_BY (kind)`` per rule) instead of through
    ``chg``: at ten million rows each of the two copies spilled to disk."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.directory: Path | None = None
        self.counts: dict[ChangeKind, int] = dict.fromkeys(KIND_ORDER, 0)

    def insert(
        self, con: Connection, select: str, *, estimate: int, kind: ChangeKind | None = None
    ) -> None:
        """The rows of ``select`` (named as ``chg``'s columns; every reason computed) into
        ``chg``, or, when ``estimate`` (at least as many) is past the size, to a part file;
        ``kind``: the one kind they all have, if known (a plain COPY costs less than one
        partitioned by kind)."""
        if estimate <= stores.IN_MEMORY_ROWS:
            con.execute(f"INSERT INTO chg BY NAME {select}")
            return
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="reconciler-plan-"))
        part = self.directory / f"part{sum(1 for _ in self.directory.glob('part*'))}"
        kinds = " ".join(f"WHEN {n} THEN '{kind.value}'" for kind, n in KIND_NUMBER.items())
        values = "".join(f", f{i}::VARCHAR AS f{i}" for i in range(self.width))
        previous = "".join(f", p{i}::VARCHAR AS p{i}" for i in range(self.width))
        stored = f"email::VARCHAR AS email, reason::VARCHAR AS reason{values}, pm::VARCHAR AS pm"
        if kind is not None:
            (part / f"kind={kind.value}").mkdir(parents=True)
            target = part / f"kind={kind.value}" / "data_0.parquet"
            con.execute(
                f"COPY (SELECT {stored}{previous} FROM ({select})) TO {sql_path(target)} "
                "(FORMAT parquet)"
            )
        else:
            con.execute(
                f"COPY (SELECT CASE k {kinds} END AS kind, {stored}{previous} FROM ({select})) "
                f"TO {sql_path(part)} (FORMAT parquet, PARTITION_BY (kind))"
            )
        if any(part.glob("*/*.parquet")):  # a COPY of no rows writes no file
            for value, n in con.execute(
                f"SELECT kind, count(*) FROM read_parquet({sql_path(part / '*' / '*.parquet')}, "
                "hive_partitioning=true) GROUP BY kind"
            ).fetchall():
                self.counts[ChangeKind(value)] += int(n)


def finish(
    con: Connection,
    fields: Sequence[str],
    *,
    bulk: BulkRows | None = None,
    scratch: Path | None = None,
) -> Changes:
    """The changes in ``chg`` and ``bulk``, in plan order: in memory, or in Parquet files
    under a new directory (in ``scratch``, else the system's temporary directory)."""
    counted = dict(con.execute("SELECT k, count(*) FROM chg GROUP BY k").fetchall())
    in_table = {kind: int(counted.get(KIND_NUMBER[kind], 0)) for kind in KIND_ORDER}
    stored = columns(len(fields))
    directory = bulk.directory if bulk is not None else None
    if directory is None and sum(in_table.values()) <= stores.IN_MEMORY_ROWS:
        groups: dict[ChangeKind, list[ListChange]] = {kind: [] for kind in KIND_ORDER}
        for kind in KIND_ORDER:
            if in_table[kind]:
                rows = con.execute(
                    f"SELECT {stored} FROM chg WHERE k = {KIND_NUMBER[kind]} ORDER BY email"
                ).fetchall()
                groups[kind] = list(map(row_maker(kind, tuple(fields)), rows))
        return InMemoryChanges(groups)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="reconciler-plan-", dir=scratch))
    counts = {k: n + (bulk.counts[k] if bulk is not None else 0) for k, n in in_table.items()}
    store = ColumnarChanges(directory, fields, counts)
    for kind in KIND_ORDER:
        if in_table[kind]:
            con.execute(
                f"COPY (SELECT {stored} FROM chg WHERE k = {KIND_NUMBER[kind]}) "
                f"TO {sql_path(store.path(kind))} (FORMAT parquet)"
            )
    con.execute("DROP TABLE chg")
    return store
