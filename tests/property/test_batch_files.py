"""Batch files: the fast writer gives exactly the bytes Python's csv module writes."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from reconciler.apply.batches import render_batch
from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange
from reconciler.providers.base import BatchFormat
from tests.hypothesis_budget import examples

VALUES = st.text(alphabet=st.sampled_from(list('ab ,;|\t"\r\n\u00e9x')), max_size=6)


def expected(rows: list[ListChange], fmt: BatchFormat, names: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\n")
    writer.writerow([fmt.email_column, *fmt.field_columns.values()])
    for change in rows:
        email = change.email.lower() if fmt.lowercase else change.email
        writer.writerow([email, *[change.fields.get(n) or "" for n in names]])
    return buffer.getvalue().encode("utf-8")


@examples(300)
@given(
    emails=st.lists(VALUES.filter(bool), max_size=5),
    values=st.lists(st.one_of(st.none(), VALUES), min_size=5, max_size=5),
    delimiter=st.sampled_from([",", ";", "|", "\t"]),
    lowercase=st.booleans(),
)
def test_fast_batch_writer_equals_csv_module(
    emails: list[str], values: list[str | None], delimiter: str, lowercase: bool
) -> None:
    fmt = BatchFormat(
        max_rows=1000,
        email_column="email",
        field_columns={"first_name": "first_name"},
        delimiter=delimiter,
        lowercase=lowercase,
    )
    rows = [
        ListChange(ChangeKind.ADD, email.upper(), "x", {"first_name": value})
        for email, value in zip(emails, values, strict=False)
    ]
    assert render_batch(rows, Action.ADD, fmt) == expected(rows, fmt, ["first_name"])


def test_a_value_holding_the_delimiter_is_quoted() -> None:
    fmt = BatchFormat(max_rows=10, email_column="email", field_columns={"first_name": "name"})
    rows = [ListChange(ChangeKind.ADD, "a@example.com", "x", {"first_name": "Doe, Jane"})]
    assert render_batch(rows, Action.ADD, fmt) == b'email,name\na@example.com,"Doe, Jane"\n'
