"""Write a list plan's rows as batch files in a vendor's CSV dialect.

Files are deterministic: the same rows give the same bytes and so the same sha256, which is
what lets a re-run recognise a batch it already sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from reconciler.model import Action, ChangeKind
from reconciler.plan.model import ListChange, ListPlan
from reconciler.providers.base import Batch, BatchFormat

#: Actions whose rows carry managed field values.
WITH_FIELDS = frozenset({Action.ADD, Action.UPDATE, Action.RESUBSCRIBE})


def _chunks(rows: Iterable[ListChange], size: int) -> Iterator[list[ListChange]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def render_batch(rows: Sequence[ListChange], action: Action, fmt: BatchFormat) -> bytes:
    fields = list(fmt.field_columns.items()) if action in WITH_FIELDS else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=fmt.delimiter, lineterminator="\n")
    if fmt.header:
        writer.writerow([fmt.email_column, *(column for _, column in fields)])
    names = [name for name, _ in fields]
    if fmt.lowercase:
        writer.writerows([c.email.lower(), *[c.fields.get(n) or "" for n in names]] for c in rows)
    else:
        writer.writerows([c.email, *[c.fields.get(n) or "" for n in names]] for c in rows)
    return buffer.getvalue().encode("utf-8")


def write_batches(
    list_plan: ListPlan, action: Action, fmt: BatchFormat, directory: Path
) -> list[Batch]:
    """Batch files for one list and action, at most ``fmt.max_rows`` rows each."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = list_plan.of_kind(ChangeKind(action.value))
    batches = []
    for index, chunk in enumerate(_chunks(rows, max(1, fmt.max_rows)), start=1):
        data = render_batch(chunk, action, fmt)
        path = directory / f"{_safe(list_plan.name)}-{action.value}-{index:04d}.csv"
        path.write_bytes(data)
        batches.append(
            Batch(
                list_name=list_plan.name,
                vendor_list_id=list_plan.vendor_list_id,
                action=action,
                index=index,
                path=path,
                rows=len(chunk),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return batches
