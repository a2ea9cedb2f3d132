"""The engine's SQL keys agree with the Python rules they stand in for."""

from __future__ import annotations

import duckdb
import pytest

from reconciler.engine.duck import field_hash_sql, keep_join_sides


def _field_hash(con: duckdb.DuckDBPyConnection, value: str | None) -> int | None:
    row = con.execute(f"SELECT {field_hash_sql('v')} FROM (SELECT ?::VARCHAR AS v)", [value])
    result = row.fetchone()
    assert result is not None
    return result[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", [None, "", " ", "   "])
def test_an_empty_field_is_no_opinion(value: str | None) -> None:
    assert _field_hash(duckdb.connect(), value) is None


def test_surrounding_spaces_do_not_change_a_field() -> None:
    con = duckdb.connect()
    hashes = {_field_hash(con, v) for v in ("Ann", " Ann", "Ann ", "  Ann  ")}
    assert len(hashes) == 1 and None not in hashes


@pytest.mark.parametrize("other", ["ann", "Ann\t", "A nn", "\u00a0Ann"])
def test_any_other_difference_does(other: str) -> None:
    # A tab or a non-breaking space makes the row hot; Python's rules then decide (they strip
    # all white space), so the SQL key may only ever see more differences, never fewer.
    con = duckdb.connect()
    assert _field_hash(con, other) != _field_hash(con, "Ann")


class _NoSuchOptimizer:
    """A connection whose DuckDB does not know the optimizer (an older or newer release)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def execute(self, sql: str) -> None:
        self.sql.append(sql)
        raise duckdb.InvalidInputException("unknown optimizer")


def test_join_sides_are_kept_where_duckdb_allows_and_ignored_where_not() -> None:
    con = duckdb.connect()
    with keep_join_sides(con):
        inside = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    after = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    assert (inside, after) == (("build_side_probe_side",), ("",))
    old = _NoSuchOptimizer()
    with keep_join_sides(old):
        ran = True
    assert ran and old.sql == ["SET disabled_optimizers = 'build_side_probe_side'"]
