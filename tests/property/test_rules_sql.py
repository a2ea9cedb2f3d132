"""The rules' SQL forms (reconciler.engine.rules: the bulk paths the engine writes straight
into its change table) give exactly the rows the Python rules give, on random inputs: values
with every kind of white space ``str.strip`` knows, empty and missing values, every vendor
status, both list modes and drop actions. Each case runs through the change table and both of
its stores (in memory and Parquet), as a plan does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.engine import changeset
from reconciler.engine.rules import (
    AtVendor,
    Declared,
    ListRules,
    add_sql,
    at_vendor_sql,
    clean_sql,
    compare_sql,
    decide,
    drop_sql,
)
from reconciler.model import KIND_ORDER, ContactStatus, DropAction, ListMode
from reconciler.plan import changes as stores
from reconciler.plan.changes import Changes, InMemoryChanges, ListChange
from tests.hypothesis_budget import examples

FIELDS = ("first_name", "city")
#: Every character str.isspace() knows, and some it does not (zero-width space, NUL, NBSP's
#: neighbours), so SQL's idea of white space is held to Python's.
SPACES = [chr(c) for c in range(0x3001) if chr(c).isspace()]
NOT_SPACES = ["\u200b", "\x00", "\x08", "\x0e", "\x1b", "\x21", "\u180e", "\ufeff"]
CHAR = st.one_of(
    st.sampled_from(SPACES + NOT_SPACES),
    st.sampled_from("aAé"),
    st.characters(exclude_categories=("Cs",)),
)
VALUE = st.one_of(st.none(), st.text(alphabet=CHAR, max_size=5))
STATUS = st.sampled_from(list(ContactStatus))


def test_clean_sql_knows_every_white_space_python_knows() -> None:
    values = [v for c in SPACES + NOT_SPACES for v in (c, f"{c}a", f"a{c}", f"{c}{c}a b{c}")]
    got = duckdb.execute(
        f"SELECT {clean_sql('v')} FROM (SELECT unnest($1::VARCHAR[]) AS v, "
        "generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i",
        [values],
    ).fetchall()
    assert [r[0] for r in got] == [v.strip() or None for v in values]


@given(st.lists(VALUE, min_size=1, max_size=40))
@examples(60)
def test_clean_sql_strips_as_python_strips(values: list[str | None]) -> None:
    got = duckdb.execute(
        f"SELECT {clean_sql('v')} FROM (SELECT unnest($1::VARCHAR[]) AS v, "
        "generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i",
        [values],
    ).fetchall()
    assert [r[0] for r in got] == [(v.strip() or None) if v is not None else None for v in values]


def _through_the_table(
    select: str, rows: dict[str, list[Any]], inner: str = "*", where: str = "true"
) -> dict[str, Changes]:
    """``select`` run over ``inner`` of ``rows`` (columns by name) into the change table, then
    finished into both stores."""
    out: dict[str, Changes] = {}
    for store, limit in (("memory", 1 << 30), ("parquet", -1)):
        con = duckdb.connect()
        try:
            changeset.create_table(con, len(FIELDS))
            names = list(rows)
            source = ", ".join(f"unnest(${i + 1}::VARCHAR[]) AS {n}" for i, n in enumerate(names))
            con.execute(
                f"INSERT INTO chg BY NAME SELECT {select} "
                f"FROM (SELECT {inner} FROM (SELECT {source})) WHERE {where}",
                [rows[n] for n in names],
            )
            before, stores.IN_MEMORY_ROWS = stores.IN_MEMORY_ROWS, limit
            try:
                out[store] = changeset.finish(con, FIELDS)
            finally:
                stores.IN_MEMORY_ROWS = before
        finally:
            con.close()
    return out


def _expected(changes: Sequence[ListChange | None]) -> InMemoryChanges:
    return InMemoryChanges.of(sorted((c for c in changes if c is not None), key=lambda c: c.email))


def _assert_same(got: dict[str, Changes], want: InMemoryChanges) -> None:
    for store, changes in got.items():
        assert dict(changes.counts) == dict(want.counts), store
        for kind in KIND_ORDER:
            assert [tuple(c) for c in changes.of_kind(kind)] == [
                tuple(c) for c in want.of_kind(kind)
            ], (store, kind)


MEMBERS = st.lists(st.tuples(VALUE, VALUE, VALUE, VALUE, STATUS), min_size=1, max_size=25)


@given(MEMBERS)
@examples(40)
def test_matched_members_decide_as_the_rules(members: list[Any]) -> None:
    rules = ListRules(ListMode.AUTHORITATIVE, DropAction.REMOVE, FIELDS)
    emails = [f"m{i:03}@example.com" for i in range(len(members))]
    origins = [f"members.csv:{i + 2}" for i in range(len(members))]
    columns, changes = at_vendor_sql(rules, changeset.KIND_NUMBER, "origin")
    cleaned = ", ".join(compare_sql(f"w{i}", f"h{i}", i) for i in range(2))
    got = _through_the_table(
        columns,
        {
            "e": emails,
            "origin": origins,
            "status": [m[4].value for m in members],
            "w0": [m[0] for m in members],
            "w1": [m[1] for m in members],
            "h0": [m[2] for m in members],
            "h1": [m[3] for m in members],
        },
        inner=f"e, status, origin, {cleaned}",
        where=changes,
    )
    want = _expected(
        [
            decide(
                email,
                rules,
                declared=Declared(origin, dict(zip(FIELDS, m[:2], strict=True))),
                vendor=AtVendor(m[4], dict(zip(FIELDS, m[2:4], strict=True))),
                suppressed=None,
                opt_in=None,
            )
            for email, origin, m in zip(emails, origins, members, strict=True)
        ]
    )
    _assert_same(got, want)


@given(st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=25))
@examples(30)
def test_plain_adds_are_the_rules_adds(members: list[tuple[str | None, str | None]]) -> None:
    rules = ListRules(ListMode.AUTHORITATIVE, DropAction.REMOVE, FIELDS)
    emails = [f"a{i:03}@example.com" for i in range(len(members))]
    origins = [f"members.csv:{i + 2}" for i in range(len(members))]
    got = _through_the_table(
        add_sql(changeset.KIND_NUMBER, "origin", ["v0", "v1"]),
        {
            "e": emails,
            "origin": origins,
            "v0": [m[0] for m in members],
            "v1": [m[1] for m in members],
        },
    )
    want = _expected(
        [
            decide(
                email,
                rules,
                declared=Declared(origin, dict(zip(FIELDS, m, strict=True))),
                vendor=None,
                suppressed=None,
                opt_in=None,
            )
            for email, origin, m in zip(emails, origins, members, strict=True)
        ]
    )
    _assert_same(got, want)


@pytest.mark.parametrize("action", list(DropAction))
def test_plain_drops_are_the_rules_drops(action: DropAction) -> None:
    rules = ListRules(ListMode.AUTHORITATIVE, action, FIELDS)
    emails = ["b@example.com", "a@example.com", "c'o@example.com"]
    got = _through_the_table(drop_sql(rules, changeset.KIND_NUMBER), {"e": emails})
    want = _expected(
        [
            decide(
                email,
                rules,
                declared=None,
                vendor=AtVendor(ContactStatus.ACTIVE, {"first_name": "x"}),
                suppressed=None,
                opt_in=None,
            )
            for email in emails
        ]
    )
    assert len(want) == 3
    _assert_same(got, want)
