"""Batch files written from a columnar plan (the text joined by DuckDB) hold exactly the bytes
that the Python writer gives for the same rows: on random addresses and values with quotes,
line breaks, delimiters, non-ASCII letters and missing values, in every dialect a vendor
uses (header or not, lower-cased or not, comma, semicolon or tab), in batches of any size."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from hypothesis import example, given
from hypothesis import strategies as st

from reconciler.apply.batches import write_batches
from reconciler.engine import changeset
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan import changes as stores
from reconciler.plan.changes import InMemoryChanges, ListChange
from reconciler.plan.columnar import ColumnarChanges
from reconciler.plan.model import ListPlan
from reconciler.providers.base import BatchFormat
from tests.hypothesis_budget import examples

FIELDS = ("first_name", "city")
TEXT = st.text(alphabet=st.sampled_from(list('aZé ,;\t"\r\nx')), max_size=6)
LOCAL = st.text(alphabet=st.sampled_from(list("abcXYZéÉİẞΣ._+-")), min_size=1, max_size=8)
ROWS = st.lists(
    st.tuples(LOCAL, st.one_of(st.none(), TEXT), st.one_of(st.none(), TEXT)),
    min_size=1,
    max_size=30,
    unique_by=lambda r: r[0],
)
FIELD_COLUMNS = {"first_name": "FIRST", "city": "CITY"}
FORMATS = st.builds(
    BatchFormat,
    delimiter=st.sampled_from([",", ";", "\t"]),
    header=st.booleans(),
    email_column=st.sampled_from(["email", "Email Address"]),
    field_columns=st.sampled_from([FIELD_COLUMNS, {"city": "c"}, {}]),
    lowercase=st.booleans(),
    max_rows=st.integers(min_value=1, max_value=12),
)


def _list_plan(rows: list[ListChange], columnar: bool) -> ListPlan:
    if columnar:
        con = duckdb.connect()
        changeset.create_table(con, len(FIELDS))
        changeset.insert_rows(con, rows, FIELDS)
        before, stores.IN_MEMORY_ROWS = stores.IN_MEMORY_ROWS, -1
        try:
            changes = changeset.finish(con, FIELDS)
        finally:
            stores.IN_MEMORY_ROWS = before
            con.close()
        assert isinstance(changes, ColumnarChanges)
    else:
        changes = InMemoryChanges.of(rows)
    return ListPlan("news", "og", "ongage", "1", ListMode.AUTHORITATIVE, DropAction.REMOVE, changes)


@given(ROWS, FORMATS, st.sampled_from([Action.ADD, Action.REMOVE]))
@example(
    [("a", "x\ry", None), ("b", None, "q")], BatchFormat(field_columns=FIELD_COLUMNS), Action.ADD
)
@example([("c", 'say "hi"', "z")], BatchFormat(field_columns=FIELD_COLUMNS), Action.ADD)
@example([("İ", None, None)], BatchFormat(), Action.REMOVE)
@examples(60)
def test_columnar_batches_are_the_python_writers_bytes(
    drawn: list[tuple[str, str | None, str | None]], fmt: BatchFormat, action: Action
) -> None:
    rows = [
        ListChange(
            ChangeKind(action.value),
            f"{local}@example.com",
            "m.csv:2",
            {n: v for n, v in zip(FIELDS, values, strict=True) if v is not None},
        )
        for local, *values in drawn
    ]
    written = []
    for columnar in (False, True):
        with tempfile.TemporaryDirectory() as scratch:
            batches = write_batches(_list_plan(rows, columnar), action, fmt, Path(scratch))
            written.append([(b.rows, b.sha256, b.path.read_bytes()) for b in batches])
    assert written[1] == written[0]
    assert sum(rows for rows, _, _ in written[0]) == len(rows)
