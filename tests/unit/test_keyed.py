"""The keyed hashes are the same computed in Python and in DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from reconciler.engine.keyed import field_hash, field_hash_sql, key_of, key_sql

SALT = "0123456789abcdef" * 4


@pytest.mark.parametrize("text", ["ann@example.com", "zoë@exämple.com", "", "Ann O'Neil"])
def test_python_and_sql_agree(text: str) -> None:
    con = duckdb.connect()
    key, value = con.execute(
        f"SELECT {key_sql('?', SALT)}, {field_hash_sql('?', SALT)}", [text, text]
    ).fetchone()
    assert (key, value) == (key_of(text, SALT), field_hash(text, SALT))
    assert len(key) == 16 and len(value) == 16 and int(value, 16) >= 0


def test_another_key_gives_other_hashes() -> None:
    assert key_of("ann@example.com", SALT) != key_of("ann@example.com", "ab" * 32)


def test_a_key_that_is_not_hex_is_refused() -> None:
    with pytest.raises(ValueError, match="a key must be lower-case hex"):
        key_sql("e", "x' OR 1=1 --")
