"""Write a list plan's rows as batch files in a vendor's CSV dialect.

Files are deterministic: the same rows give the same bytes and so the same sha256, which is
what lets a re-run recognise a batch it already sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path

from reconciler.model import Action, ChangeKind
from reconciler.plan.columnar import ColumnarChanges
from reconciler.plan.model import ListChange, ListPlan
from reconciler.private import private_dir, write_private
from reconciler.providers.base import Batch, BatchFormat

#: Actions whose rows carry managed field values.
WITH_FIELDS = frozenset({Action.ADD, Action.UPDATE, Action.RESUBSCRIBE})


_EMAIL = itemgetter(1)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def render_batch(rows: Sequence[ListChange], action: Action, fmt: BatchFormat) -> bytes:
    names = list(fmt.field_columns) if action in WITH_FIELDS else []
    emails = list(map(_EMAIL, rows))
    return render_columns(emails, [[c.fields.get(n) for c in rows] for n in names], action, fmt)


def render_columns(
    emails: Sequence[str], values: Sequence[Sequence[str | None]], action: Action, fmt: BatchFormat
) -> bytes:
    """A batch file from its columns: the addresses and, for an action with fields, each of
    ``fmt.field_columns``' values in order (None or empty: no value)."""
    fields = list(fmt.field_columns.items()) if action in WITH_FIELDS else []
    header = [fmt.email_column, *(column for _, column in fields)]
    # Column by column: a batch holds up to hundreds of thousands of rows.
    addresses: Iterable[str] = emails
    if fmt.lowercase:
        addresses = map(str.lower, addresses)
    columns = [list(addresses)]
    for column in values[: len(fields)]:
        columns.append([value or "" for value in column])
    table = list(zip(*columns, strict=True))
    text = _join_plain(table, fmt.delimiter, len(header), header if fmt.header else None)
    if text is None:  # some value needs quoting: let the csv module do it
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\n")
        if fmt.header:
            writer.writerow(header)
        writer.writerows(table)
        text = buffer.getvalue()
    return text.encode("utf-8")


def _join_plain(
    table: list[tuple[str, ...]], delimiter: str, columns: int, header: list[str] | None
) -> str | None:
    """The CSV text of ``table`` when no value needs quoting (the common case, and several
    times faster than :mod:`csv`), else None. Equal to what ``csv.writer`` writes."""
    lines = list(map(delimiter.join, table))
    if header is not None:
        lines.insert(0, delimiter.join(header))
    body = "\n".join(lines)
    # A value needs quoting when it holds a quote, a line break or the delimiter: no quote or
    # carriage return at all, and exactly the separators that joining put there.
    if (
        '"' in body
        or "\r" in body
        or body.count("\n") != len(lines) - 1
        or body.count(delimiter) != len(lines) * (columns - 1)
    ):
        return None
    return body + "\n" if lines else ""


def write_batches(
    list_plan: ListPlan, action: Action, fmt: BatchFormat, directory: Path
) -> list[Batch]:
    """Batch files for one list and action, at most ``fmt.max_rows`` rows each."""
    private_dir(directory)  # addresses and field values: readable by their owner only
    names = list(fmt.field_columns) if action in WITH_FIELDS else []
    kind, size = ChangeKind(action.value), max(1, fmt.max_rows)
    changes = list_plan.changes
    rendered: Iterable[tuple[int, bytes]]
    if isinstance(changes, ColumnarChanges):
        rendered = _rendered_in_sql(changes, kind, names, size, action, fmt)
    else:
        rendered = (
            (len(emails), render_columns(emails, values, action, fmt))
            for emails, values in changes.columns(kind, names, size)
        )
    batches = []
    for index, (rows, data) in enumerate(rendered, start=1):
        path = directory / f"{_safe(list_plan.name)}-{action.value}-{index:04d}.csv"
        write_private(path, data)
        batches.append(
            Batch(
                list_name=list_plan.name,
                vendor_list_id=list_plan.vendor_list_id,
                action=action,
                index=index,
                path=path,
                rows=rows,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return batches


def _rendered_in_sql(
    changes: ColumnarChanges,
    kind: ChangeKind,
    names: Sequence[str],
    size: int,
    action: Action,
    fmt: BatchFormat,
) -> Iterator[tuple[int, bytes]]:
    """Each batch's rows and bytes, the text joined by DuckDB from the columnar store: the
    bytes :func:`render_columns` writes (``tests/unit/test_batches_sql.py``), at several times
    its speed. A batch with a value that needs quoting or a non-ASCII address (Python's
    ``str.lower`` is the reference) is written by :func:`render_columns`."""
    source = changes.ordered_source(kind)
    delimiter = _sql_text(fmt.delimiter)
    email = "lower(email)" if fmt.lowercase else "email"
    values = [f"coalesce({changes.field_column(n)}, '')" for n in names[: len(fmt.field_columns)]]
    line = f" || {delimiter} || ".join([email, *values])
    special = [_sql_text(c) for c in ('"', "\r", "\n", fmt.delimiter)]
    needs_python = " OR ".join(
        ["strlen(email) <> length(email)"]
        + [f"contains({v}, {c})" for v in ["email", *values] for c in special]
    )
    header = fmt.delimiter.join([fmt.email_column, *(fmt.field_columns[n] for n in names)])
    for batch, rows, python, body in changes.query(
        f"SELECT file_row_number // {size:d} AS batch, count(*), bool_or({needs_python}), "
        f"string_agg({line}, chr(10) ORDER BY file_row_number) FROM {source} "
        "GROUP BY batch ORDER BY batch"
    ):
        if python:
            emails, columns = _batch_columns(changes, source, names, batch, size)
            yield rows, render_columns(emails, columns, action, fmt)
        else:
            text = f"{header}\n{body}\n" if fmt.header else f"{body}\n"
            yield rows, text.encode("utf-8")


def _batch_columns(
    changes: ColumnarChanges, source: str, names: Sequence[str], batch: int, size: int
) -> tuple[list[str], list[list[str | None]]]:
    values = ", ".join(["email", *(changes.field_column(n) for n in names)])
    rows = list(
        changes.query(
            f"SELECT {values} FROM {source} WHERE file_row_number // {size:d} = {batch:d} "
            "ORDER BY file_row_number"
        )
    )
    emails, *columns = (list(column) for column in zip(*rows, strict=True))
    return emails, columns


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
