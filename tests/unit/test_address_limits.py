"""The 254-character limit of an address (RFC 5321's path limit, less the angle brackets), at
exactly 254 and 255 characters, on both paths that judge an address: Python
(``invalid_reason``/``is_valid``, which names the problem) and DuckDB
(``SQL_VALID(SQL_NORMALISE(...))``, which the planner filters member files with).

The addresses are well formed in every other respect: a 64-character local part (the most
RFC 5321 allows) and long domain labels, so that only their length can make them invalid."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from reconciler.address import SQL_NORMALISE, SQL_VALID, invalid_reason, is_valid

LOCAL = "l" * 64


def address(length: int) -> str:
    """A well-formed address of exactly ``length`` characters, under example.com."""
    fixed = len(f"{LOCAL}@{'a' * 63}.{'b' * 63}..example.com")
    address = f"{LOCAL}@{'a' * 63}.{'b' * 63}.{'c' * (length - fixed)}.example.com"
    assert len(address) == length
    return address


AT_LIMIT = address(254)
OVER_LIMIT = address(255)
TOO_LONG = "e-mail address longer than 254 characters"


def duckdb_valid(raw: str) -> bool:
    """Whether DuckDB's path takes ``raw`` as valid, exactly as the planner asks it."""
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT coalesce({SQL_VALID('e')}, false) "
            f"FROM (SELECT {SQL_NORMALISE('raw')} AS e FROM (SELECT ?::VARCHAR AS raw))",
            [raw],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return bool(row[0])


def test_the_addresses_are_otherwise_well_formed() -> None:
    # Only the length may decide: the labels are at most 63 characters, the local part 64.
    for value in (AT_LIMIT, OVER_LIMIT):
        local, _, domain = value.partition("@")
        assert len(local) == 64
        assert max(len(label) for label in domain.split(".")) <= 63
        assert domain.endswith(".example.com")


# The raw forms: as written, upper case, and with the spaces normalisation trims (which do not
# count towards the length).
FORMS = [
    pytest.param(lambda a: a, id="plain"),
    pytest.param(str.upper, id="upper"),
    pytest.param(lambda a: f"  {a} ", id="spaces"),
]


@pytest.mark.parametrize("form", FORMS)
def test_254_characters_is_valid_on_both_paths(form: Callable[[str], str]) -> None:
    raw = form(AT_LIMIT)
    assert invalid_reason(raw) is None
    assert is_valid(raw) is True
    assert duckdb_valid(raw) is True


@pytest.mark.parametrize("form", FORMS)
def test_255_characters_is_invalid_on_both_paths_with_the_exact_message(
    form: Callable[[str], str],
) -> None:
    raw = form(OVER_LIMIT)
    assert invalid_reason(raw) == TOO_LONG
    assert is_valid(raw) is False
    assert duckdb_valid(raw) is False


@pytest.mark.parametrize(
    ("length", "valid"), [(253, True), (254, True), (255, False), (256, False)]
)
def test_both_paths_agree_around_the_limit(length: int, valid: bool) -> None:
    value = address(length)
    assert (is_valid(value), duckdb_valid(value)) == (valid, valid)
    assert invalid_reason(value) == (None if valid else TOO_LONG)
