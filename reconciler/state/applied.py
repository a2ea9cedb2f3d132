"""The applied membership: for each list, what reconciler last applied there successfully
(``specs/state.md``, "Applied membership"). For a list whose vendor has no documented way to
read it (Yesmail, Omnigage) it stands in for the vendor's list when the list is planned ("last
applied, per the state"), so that an unchanged repository plans nothing and sends nothing; for
the others it is what reconciler did, kept as keyed hashes (``reconciler/state/keys.py``), for
ownership and three-way drift. This module writes it; ``membership.py`` reads it.

Two kinds of file, beside the state in its backend (``reconciler/state/blobs.py``):

- ``journal/<list>/<time>-<entry>[.keyed].parquet``: the rows of one job, written when the
  vendor reports it succeeded and *before* the ledger records that (a crash in between
  replays the same rows, which is harmless). A job's refused rows are left out: they were not
  applied.
- ``lists/<list>-<sha256>.parquet``: a list's whole membership, merged from the previous
  file and the journals at the end of a run. The state's ``lists.NAME.applied`` names the
  current one; the journals it took in are deleted once the state names it."""

from __future__ import annotations

import csv
import hashlib
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reconciler.model import Action
from reconciler.private import private_dir
from reconciler.state.blobs import Blobs
from reconciler.state.keys import field_hash_sql, key_sql
from reconciler.state.membership import (
    JOURNAL,
    KEYED_SUFFIX,
    LISTS,
    Form,
    fetch,
    form_of_journal,
    has_added,
    journal_fields,
    journals,
    lit,
    membership_sql,
    safe_name,
)
from reconciler.state.model import AppliedRef, now

if TYPE_CHECKING:  # the providers pull in httpx, which a plan need not load to read this
    from reconciler.providers.base import BatchFormat

#: Actions whose batch files carry the managed fields (``reconciler/apply/batches.py``).
WITH_FIELDS = frozenset({Action.ADD, Action.UPDATE, Action.RESUBSCRIBE})


def _source_sql(path: Path, fmt: BatchFormat) -> str:
    names = None if fmt.header else [fmt.email_column, *fmt.field_columns.values()]
    return (
        f"read_csv({lit(str(path))}, delim = {lit(fmt.delimiter)}, quote = '\"', "
        f"escape = '\"', all_varchar = true, "
        + (
            f"header = false, names = [{', '.join(lit(n) for n in names)}])"
            if names
            else "header = true)"
        )
    )


def _fields_sql(action: Action, fmt: BatchFormat, salt: str | None) -> str:
    if action not in WITH_FIELDS or not fmt.field_columns:
        return "NULL::JSON"
    pairs = []
    for name, column in fmt.field_columns.items():
        value = f"nullif(trim({_ident(column)}), '')"
        pairs.append(f"{lit(name)}, {field_hash_sql(value, salt) if salt else value}")
    # Merged over '{}', an empty value (a field the row did not send) is no key at all.
    return f"json_merge_patch('{{}}', json_object({', '.join(pairs)}))"


def record_batch(
    blobs: Blobs,
    list_name: str,
    entry_id: str,
    action: Action,
    path: Path,
    fmt: BatchFormat,
    refused: Iterable[str],
    scratch: Path,
    *,
    salt: str | None = None,
) -> None:
    """Journal the rows of a batch file the vendor applied, read back in the vendor's CSV
    dialect, less the ``refused`` addresses: one Parquet file (whole or absent), written by
    DuckDB straight from the batch file. With ``salt``, in the keyed form."""
    skip = sorted({a.strip().casefold() for a in refused if a})
    email = f"trim({_ident(fmt.email_column)})"
    member = f"{key_sql(email, salt)} AS key" if salt else f"{email} AS email"
    query = (
        f"SELECT (row_number() OVER ())::UBIGINT AS n, {member}, {lit(action.value)} AS action, "
        f"{_fields_sql(action, fmt, salt)} AS fields FROM {_source_sql(path, fmt)}"
    )
    if skip:
        query += f" WHERE {email} NOT IN (SELECT unnest(?::VARCHAR[]))"
    private_dir(scratch)
    target = scratch / f"journal-{entry_id}.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute(
            f"COPY ({query}) TO {lit(str(target))} (FORMAT parquet)", [skip] if skip else []
        )
    finally:
        con.close()
    suffix = KEYED_SUFFIX if salt else ".parquet"
    name = f"{JOURNAL}{safe_name(list_name)}/{time.time_ns():020d}-{entry_id}{suffix}"
    try:
        blobs.put(name, target.read_bytes())
    finally:
        target.unlink(missing_ok=True)


def record_file(blobs: Blobs, list_name: str, entry_id: str, path: Path, form: Form) -> None:
    """Journal a Parquet file of journal rows made elsewhere (a baseline)."""
    suffix = KEYED_SUFFIX if form is Form.KEYED else ".parquet"
    name = f"{JOURNAL}{safe_name(list_name)}/{time.time_ns():020d}-{entry_id}{suffix}"
    blobs.put(name, path.read_bytes())


def record_rows(
    blobs: Blobs,
    list_name: str,
    entry_id: str,
    action: Action,
    addresses: Iterable[str],
    scratch: Path,
    *,
    salt: str | None = None,
) -> None:
    """Journal ``action`` for ``addresses`` (e.g. forgetting members: a removal)."""
    from reconciler.providers.base import BatchFormat

    private_dir(scratch)
    path = scratch / f"rows-{entry_id}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email"])
        writer.writerows([a] for a in addresses)
    try:
        record_batch(
            blobs, list_name, entry_id, action, path, BatchFormat(), (), scratch, salt=salt
        )
    finally:
        path.unlink(missing_ok=True)


def list_files(blobs: Blobs, list_name: str) -> list[str]:
    """The list's membership files, the current one and older ones."""
    # Exactly NAME-<16 hex>.parquet: list "vip" must not take list "vip-2"'s files.
    pattern = re.compile(re.escape(f"{LISTS}{safe_name(list_name)}-") + r"[0-9a-f]{16}\.parquet")
    return [n for n in blobs.names(LISTS) if pattern.fullmatch(n)]


def merge(
    con: Any,
    blobs: Blobs,
    list_name: str,
    previous: AppliedRef | None,
    scratch: Path,
) -> tuple[AppliedRef | None, list[str]]:
    """The list's new membership file from ``previous`` and its journals: its reference for
    the state, and the journals it took in (to delete once the state names the file).
    ``previous`` and no journals when there was nothing to merge. The journals' form is the
    latest one's: files of the other form (the list's vendor changed) are dropped."""
    names = journals(blobs, list_name)
    if not names:
        return previous, []
    form = form_of_journal(names[-1])
    if previous is not None and Form(previous.form) is not form:
        previous = None
    parquet = fetch(blobs, [previous.file], scratch) if previous else []
    files = fetch(blobs, [n for n in names if form_of_journal(n) is form], scratch)
    target = scratch / f"{safe_name(list_name)}-merged.parquet"
    sql = membership_sql(
        parquet[0] if parquet else None,
        files,
        form=form,
        with_added=not parquet or has_added(con, parquet[0]),
        field_names=journal_fields(con, files),
    )
    con.execute(
        f"COPY (SELECT * FROM ({sql}) ORDER BY {form.column}) TO {lit(str(target))} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    data = target.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet({lit(str(target))})").fetchone()
    name = f"{LISTS}{safe_name(list_name)}-{digest[:16]}.parquet"
    blobs.put(name, data)
    ref = AppliedRef(file=name, sha256=digest, rows=int(rows), merged_at=now(), form=form.value)
    return ref, names


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
