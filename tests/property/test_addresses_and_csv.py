"""Property-based tests: the address normaliser and the CSV reader on hostile input."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import duckdb
from hypothesis import example, given
from hypothesis import strategies as st

from reconciler.address import SQL_NORMALISE, SQL_VALID, invalid_reason, is_valid, normalise
from reconciler.errors import SourceError
from reconciler.sources.csvfile import open_csv
from tests.hypothesis_budget import examples

LOCAL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._+-", min_size=1, max_size=20
)
DOMAIN = st.from_regex(
    r"[a-zA-Z0-9]{1,10}(\.[a-zA-Z0-9]{1,10}){0,2}\.[a-zA-Z]{2,6}", fullmatch=True
)


@given(st.text(max_size=60))
def test_normalise_is_idempotent(address: str) -> None:
    assert normalise(normalise(address)) == normalise(address)


@given(LOCAL, DOMAIN, st.text(alphabet=" ", max_size=3), st.text(alphabet=" ", max_size=3))
def test_case_and_surrounding_spaces_never_change_the_match(
    local: str, domain: str, before: str, after: str
) -> None:
    address = f"{local}@{domain}"
    assert normalise(f"{before}{address.upper()}{after}") == normalise(address)


#: Unicode case mappings that fold a non-ASCII letter into ASCII or change the length: where
#: Python and DuckDB could disagree, or an address become another person's.
CASE_TRAPS = ["İ", "ı", "\u212a", "ß", "ẞ", "ﬁ", "ς", "Σ", "Ａ", "ａ", "\u00a0", "Å", "ǅ"]


@examples(300)
@given(
    st.text(max_size=80)
    | st.builds(
        lambda pre, trap, post: f"{pre}{trap}{post}@Example.com",
        st.text(alphabet="abcXYZ. ", max_size=5),
        st.sampled_from(CASE_TRAPS),
        st.text(alphabet="abcXYZ ", max_size=5),
    )
)
# DuckDB's trim() strips a non-breaking space, normalise() does not
@example("\u00a0user@example.com")
@example(" User@Example.COM  ")
# Unicode lower-casing makes these ASCII: İvan -> ivan, the Kelvin sign -> k
@example("İvan@example.com")
@example("\u212aim@example.com")
@example("ẞ@example.com")
def test_python_and_duckdb_agree_on_normalising_and_validity(address: str) -> None:
    con = duckdb.connect()
    e, valid = con.execute(
        f"SELECT e, coalesce({SQL_VALID('e')}, false) "
        f"FROM (SELECT {SQL_NORMALISE('raw')} AS e FROM (SELECT ?::VARCHAR AS raw))",
        [address],
    ).fetchone()  # type: ignore[misc]
    assert e == normalise(address)
    assert bool(valid) == is_valid(address)
    if not address.strip(" ").isascii():
        # Never folded into an ASCII address: it stays as written, and is invalid.
        assert e == address.strip(" ") and not valid


@given(st.text(max_size=40))
def test_invalid_reason_quotes_the_value_or_says_empty(address: str) -> None:
    reason = invalid_reason(address)
    if reason is not None:
        value = normalise(address)
        non_ascii = next((c for c in value if not c.isascii()), None)
        assert reason in (
            "empty e-mail address",
            f"invalid e-mail address {value!r}",
            f"invalid e-mail address {value!r}: U+{ord(non_ascii or ' '):04X} is not an ASCII "
            "character (addresses are matched and sent as ASCII)",
            "e-mail address longer than 254 characters",
            "e-mail address whose local part is longer than 64 characters",
        )
        # A non-ASCII address is told why, naming its first such character.
        assert (non_ascii is not None and reason.startswith("invalid")) == reason.endswith(
            "(addresses are matched and sent as ASCII)"
        )


def _rows() -> st.SearchStrategy[list[list[str]]]:
    cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
    return st.lists(st.lists(cell, min_size=2, max_size=2), min_size=0, max_size=20)


@examples(60)
@given(_rows(), st.sampled_from([",", ";", "|", "\t"]), st.booleans(), st.booleans())
def test_any_well_formed_csv_reads_back_exactly(
    rows: list[list[str]], delimiter: str, bom: bool, crlf: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_ALL
    )
    writer.writerow(["email", "name"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode())
        csv_file = open_csv(path, display="m.csv", delimiter=delimiter)
        con = duckdb.connect()
        got = con.execute(
            f"SELECT email, name FROM {csv_file.relation({'email': 'email', 'name': 'name'})} "
            "ORDER BY ord"
        ).fetchall()
    # DuckDB reads an empty quoted field as NULL; blank lines do not occur with QUOTE_ALL.
    assert [(a or "", b or "") for a, b in got] == [(a, b) for a, b in rows]


@examples(60)
@given(st.binary(max_size=300))
def test_random_bytes_give_a_clear_error_or_rows_never_a_crash(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        path.write_bytes(b"email,name\n" + data)
        try:
            csv_file = open_csv(path, display="m.csv")
        except SourceError as exc:
            assert all(p.file == "m.csv" for p in exc.problems)
            return
        con = duckdb.connect()
        try:
            con.execute(f"SELECT count(*) FROM {csv_file.relation({'email': 'email'})}")
        except duckdb.Error as exc:
            from reconciler.sources.csverrors import translate_duckdb_error

            error = translate_duckdb_error(exc, "m.csv")
            assert error.problems[0].file == "m.csv"
            assert "Traceback" not in str(error)
