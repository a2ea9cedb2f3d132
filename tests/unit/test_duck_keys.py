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


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_field_is_no_opinion(value: str | None) -> None:
    assert _field_hash(duckdb.connect(), value) is None


@pytest.mark.parametrize("other", ["ann", " Ann", "Ann ", "   ", "Ann\t", "A nn", "\u00a0Ann"])
def test_any_difference_as_written_makes_the_row_hot(other: str) -> None:
    # The key may only ever see more differences than Python's rules, never fewer: the rules
    # then decide (they strip white space, so " Ann" is no update and "   " no opinion; see
    # test_plan_rules.test_white_space_around_a_field_is_no_update).
    con = duckdb.connect()
    assert _field_hash(con, other) is not None
    assert _field_hash(con, other) != _field_hash(con, "Ann")
    # The same value keys the same on another connection: both sides of a plan (and two runs)
    # must agree, so the key cannot depend on anything but the value.
    assert _field_hash(duckdb.connect(), other) == _field_hash(con, other)


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
