"""A plan's rows in both stores: in memory and in Parquet files, the same rows in the same
order, filtered alike, and the files gone with the last reference to them."""

from __future__ import annotations

import gc
from pathlib import Path

import duckdb
import pytest

from reconciler.engine import changeset
from reconciler.model import ChangeKind
from reconciler.plan import changes as stores
from reconciler.plan.changes import InMemoryChanges, ListChange
from reconciler.plan.columnar import ColumnarChanges
from reconciler.plan.model import NO_VALUES

FIELDS = ("first_name", "city")
ROWS = (
    ListChange(ChangeKind.ADD, "a@example.com", "m.csv:2", {"first_name": "Ann"}),
    ListChange(ChangeKind.ADD, "b@example.com", "m.csv:3"),
    ListChange(ChangeKind.REMOVE, "z@example.com", "not declared"),
    ListChange(ChangeKind.UPDATE, "c@example.com", "m.csv:4", {"city": "Oslo"}, {"city": None}),
    ListChange(
        ChangeKind.RESUBSCRIBE,
        "d@example.com",
        "opt-in: form-7 (o.csv:2)",
        {"first_name": "Dee"},
        {"first_name": None, "city": "Rome"},
    ),
    ListChange(ChangeKind.HELD, "e@example.com", "vendor status: bounced; declared at m.csv:5"),
)


def _stored(rows: tuple[ListChange, ...], tmp_path: Path) -> ColumnarChanges:
    con = duckdb.connect()
    changeset.create_table(con, len(FIELDS))
    changeset.insert_rows(con, rows, FIELDS)
    before, stores.IN_MEMORY_ROWS = stores.IN_MEMORY_ROWS, -1
    try:
        store = changeset.finish(con, FIELDS, scratch=tmp_path)
    finally:
        stores.IN_MEMORY_ROWS = before
        con.close()
    assert isinstance(store, ColumnarChanges)
    return store


def test_both_stores_hold_the_same_rows_in_plan_order(tmp_path: Path) -> None:
    memory = InMemoryChanges.of(ROWS)
    stored = _stored(ROWS, tmp_path)
    assert [tuple(c) for c in stored] == [tuple(c) for c in memory]
    assert stored == memory and memory == (*ROWS[:3], ROWS[4], ROWS[3], ROWS[5])
    assert dict(stored.counts) == dict(memory.counts)
    assert len(stored) == 6 and stored[4] == ROWS[3]
    assert stored.head(ChangeKind.ADD, 1) == [ROWS[0]]
    assert stored.head(ChangeKind.BOUNCE, 3) == []
    assert next(stored.of_kind(ChangeKind.ADD)).previous is NO_VALUES


def test_without_takes_out_each_kinds_addresses(tmp_path: Path) -> None:
    gone = {ChangeKind.ADD: {"b@example.com"}, ChangeKind.REMOVE: {"a@example.com"}}
    for store in (InMemoryChanges.of(ROWS), _stored(ROWS, tmp_path)):
        left = store.without(gone)
        assert [c.email for c in left.of_kind(ChangeKind.ADD)] == ["a@example.com"]
        assert left.counts[ChangeKind.REMOVE] == 1 and left.counts[ChangeKind.ADD] == 1
        assert len(store) == 6  # the original stays as it was


def test_the_files_go_with_the_last_reference(tmp_path: Path) -> None:
    stored = _stored(ROWS, tmp_path)
    directory = stored.directory
    assert sorted(p.name for p in directory.iterdir()) == [
        "add.parquet",
        "held.parquet",
        "remove.parquet",
        "resubscribe.parquet",
        "update.parquet",
    ]
    del stored
    gc.collect()
    assert not directory.exists()


def test_an_index_past_the_end_is_an_index_error(tmp_path: Path) -> None:
    with pytest.raises(IndexError):
        _stored(ROWS, tmp_path)[6]
