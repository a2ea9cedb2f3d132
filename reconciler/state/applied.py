"""The applied membership: for each list whose vendor has no documented way to read it
(Yesmail, Omnigage), what reconciler last applied there successfully. It stands in for the
vendor's list when such a list is planned ("last applied, per the state"), so that an
unchanged repository plans nothing and sends nothing (``specs/state.md``, "Applied
membership").

It holds what the vendor was sent, no more: per member the normalised address, its status
there, and the managed fields' values. Lists of vendors that can be read keep nothing here:
their vendor is read afresh for every plan.

Two kinds of file, beside the state in its backend (``reconciler/state/blobs.py``):

- ``journal/<list>/<time>-<entry>.parquet``: the rows of one job, written when the vendor
  reports it succeeded and *before* the ledger records that (a crash in between replays the
  same rows, which is harmless). A job's refused rows are left out: they were not applied.
- ``lists/<list>-<sha256>.parquet``: a list's whole membership, merged from the previous
  file and the journals at the end of a run. The state's ``lists.NAME.applied`` names the
  current one; the journals it took in are deleted once the state names it.

A plan reads the list's file and any journal not yet merged (a run that was killed)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from reconciler.config.schema import ListConfig
from reconciler.exports.snapshot import now_utc
from reconciler.model import Action
from reconciler.plan.model import CurrentStateRef
from reconciler.private import private_dir, write_private
from reconciler.state.blobs import Blobs
from reconciler.state.model import AppliedRef, State, now

if TYPE_CHECKING:  # the providers pull in httpx, which a plan need not load to read this
    from reconciler.providers.base import BatchFormat

JOURNAL = "journal/"
LISTS = "lists/"
#: A member's status at the vendor once an action's batch succeeded; None: no longer there.
STATUS_AFTER: Mapping[Action, str | None] = {
    Action.ADD: "active",
    Action.UPDATE: "active",
    Action.RESUBSCRIBE: "active",
    Action.UNSUBSCRIBE: "unsubscribed",
    Action.BOUNCE: "bounced",
    Action.COMPLAINT: "complaint",
    Action.REMOVE: None,
}
#: Actions whose batch files carry the managed fields (``reconciler/apply/batches.py``).
WITH_FIELDS = frozenset({Action.ADD, Action.UPDATE, Action.RESUBSCRIBE})


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def record_batch(
    blobs: Blobs,
    list_name: str,
    entry_id: str,
    action: Action,
    path: Path,
    fmt: BatchFormat,
    refused: Iterable[str],
    scratch: Path,
) -> None:
    """Journal the rows of a batch file the vendor applied, read back in the vendor's CSV
    dialect, less the ``refused`` addresses: one Parquet file (whole or absent), written by
    DuckDB straight from the batch file."""
    names = None if fmt.header else [fmt.email_column, *fmt.field_columns.values()]
    source = (
        f"read_csv({_lit(str(path))}, delim = {_lit(fmt.delimiter)}, quote = '\"', "
        f"escape = '\"', all_varchar = true, "
        + (
            f"header = false, names = [{', '.join(_lit(n) for n in names)}])"
            if names
            else "header = true)"
        )
    )
    if action in WITH_FIELDS and fmt.field_columns:
        pairs = ", ".join(f"{_lit(n)}, {_ident(c)}" for n, c in fmt.field_columns.items())
        fields = f"json_object({pairs})"
    else:
        fields = "NULL::JSON"
    skip = sorted({a.strip().casefold() for a in refused if a})
    email = _ident(fmt.email_column)
    query = (
        f"SELECT (row_number() OVER ())::UBIGINT AS n, trim({email}) AS email, "
        f"{_lit(action.value)} AS action, {fields} AS fields FROM {source}"
    )
    if skip:
        query = f"SELECT * FROM ({query}) WHERE email NOT IN (SELECT unnest(?::VARCHAR[]))"
    private_dir(scratch)
    target = scratch / f"journal-{entry_id}.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute(
            f"COPY ({query}) TO {_lit(str(target))} (FORMAT parquet)", [skip] if skip else []
        )
    finally:
        con.close()
    name = f"{JOURNAL}{safe_name(list_name)}/{time.time_ns():020d}-{entry_id}.parquet"
    try:
        blobs.put(name, target.read_bytes())
    finally:
        target.unlink(missing_ok=True)


def record_rows(
    blobs: Blobs,
    list_name: str,
    entry_id: str,
    action: Action,
    addresses: Iterable[str],
    scratch: Path,
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
        record_batch(blobs, list_name, entry_id, action, path, BatchFormat(), (), scratch)
    finally:
        path.unlink(missing_ok=True)


def journals(blobs: Blobs, list_name: str) -> list[str]:
    return blobs.names(f"{JOURNAL}{safe_name(list_name)}/")


def list_files(blobs: Blobs, list_name: str) -> list[str]:
    """The list's membership files, the current one and older ones."""
    # Exactly NAME-<16 hex>.parquet: list "vip" must not take list "vip-2"'s files.
    pattern = re.compile(re.escape(f"{LISTS}{safe_name(list_name)}-") + r"[0-9a-f]{16}\.parquet")
    return [n for n in blobs.names(LISTS) if pattern.fullmatch(n)]


def fetch(blobs: Blobs, names: Sequence[str], directory: Path) -> list[Path]:
    """Local files of ``names`` for DuckDB: a local state's own files read in place (they are
    never changed, only replaced by new names), others copied into a private directory."""
    private_dir(directory)
    paths = []
    for name in names:
        here = blobs.local_path(name)
        if here is not None:
            paths.append(here)
            continue
        data = blobs.get(name)
        if data is None:
            continue  # merged and deleted by a run that ended meanwhile
        path = directory / name.replace("/", "__")
        write_private(path, data)
        paths.append(path)
    return paths


def membership_sql(parquet: Path | None, journal_files: Sequence[Path]) -> str:
    """``email, status, fields`` (fields a JSON object) of a list: its last merged file with
    every journal row over it, the latest row of an address winning."""
    base = (
        f"SELECT email, status, fields FROM read_parquet({_lit(str(parquet))})"
        if parquet is not None
        else "SELECT NULL::VARCHAR AS email, NULL::VARCHAR AS status, NULL::JSON AS fields "
        "WHERE false"
    )
    if not journal_files:
        return base
    files = "[" + ", ".join(_lit(str(p)) for p in journal_files) + "]"  # Parquet files
    statuses = " ".join(
        f"WHEN {_lit(a.value)} THEN {_lit(s)}" for a, s in STATUS_AFTER.items() if s is not None
    )
    return f"""
        WITH base AS ({base}),
        rows AS (
            SELECT email, action, fields, filename, n
            FROM read_parquet({files}, filename = true, union_by_name = true)
        ),
        latest AS (
            -- The latest row's action; the latest fields any row gave (an unsubscribe after an
            -- update in one run carries none, and keeps the update's).
            SELECT email, action, last_value(fields IGNORE NULLS) OVER (
                PARTITION BY email ORDER BY filename, n
                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            ) AS fields
            FROM rows
            QUALIFY row_number() OVER (PARTITION BY email ORDER BY filename DESC, n DESC) = 1
        )
        SELECT b.email, b.status, b.fields FROM base b ANTI JOIN latest l ON b.email = l.email
        UNION ALL
        SELECT l.email, CASE l.action {statuses} END, coalesce(l.fields, b.fields)
        FROM latest l LEFT JOIN base b ON b.email = l.email
        WHERE l.action <> 'remove'
    """


def merge(
    con: Any,
    blobs: Blobs,
    list_name: str,
    previous: AppliedRef | None,
    scratch: Path,
) -> tuple[AppliedRef | None, list[str]]:
    """The list's new membership file from ``previous`` and its journals: its reference for
    the state, and the journals it took in (to delete once the state names the file). None
    and no journals when there was nothing to merge."""
    names = journals(blobs, list_name)
    if not names:
        return previous, []
    parquet = fetch(blobs, [previous.file], scratch) if previous else []
    files = fetch(blobs, names, scratch)
    target = scratch / f"{safe_name(list_name)}-merged.parquet"
    sql = membership_sql(parquet[0] if parquet else None, files)
    con.execute(
        f"COPY (SELECT * FROM ({sql}) ORDER BY email) TO {_lit(str(target))} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    data = target.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(target))})").fetchone()
    name = f"{LISTS}{safe_name(list_name)}-{digest[:16]}.parquet"
    blobs.put(name, data)
    return AppliedRef(file=name, sha256=digest, rows=int(rows), merged_at=now()), names


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class AppliedSnapshot:
    """A list's current state taken from its applied membership (a CurrentSnapshot)."""

    parquet: Path | None
    journal_files: Sequence[Path]
    managed_fields: Sequence[str]
    location: str
    sha256: str
    table: str = "applied_membership"

    def prepare(self, con: Any) -> None:
        if self.parquet is not None and not self.journal_files:
            # The common case: the merged file alone, read where it lies, numbered as stored.
            source = (
                f"SELECT file_row_number + 1 AS ord, email, status, fields "
                f"FROM read_parquet({_lit(str(self.parquet))}, file_row_number = true)"
            )
        else:
            source = (
                "SELECT row_number() OVER () AS ord, * FROM "
                f"({membership_sql(self.parquet, self.journal_files)})"
            )
        con.execute(f"CREATE OR REPLACE VIEW {self.table} AS {source}")

    def sql(self, *, positions: bool = False) -> str:
        fields = "".join(
            f", json_extract_string(fields, {_lit('$.' + json.dumps(name))}) AS f{i}"
            for i, name in enumerate(self.managed_fields)
        )
        return (
            f"(SELECT ord, 0 AS src_file, email, status AS raw_status, status{fields} "
            f"FROM {self.table})"
        )

    def origin(self, src_file: int, ordinal: int) -> str:
        return f"{self.location} (member #{ordinal})"

    def ref(self, rows: int) -> CurrentStateRef:
        return CurrentStateRef("applied", self.location, rows, self.sha256, now_utc())


def open_applied(
    blobs: Blobs,
    list_name: str,
    ref: AppliedRef | None,
    managed_fields: Sequence[str],
    scratch: Path,
    *,
    vendor: str,
) -> AppliedSnapshot | None:
    """The list's applied membership as a snapshot, or None when nothing is recorded (no
    merged file and no journal): the list's first apply."""
    names = journals(blobs, list_name)
    if ref is None and not names:
        return None
    parquet = fetch(blobs, [ref.file], scratch) if ref is not None else []
    files = fetch(blobs, names, scratch)
    digest = hashlib.sha256("\n".join([ref.sha256 if ref else "", *names]).encode()).hexdigest()
    where = f"per the state: what reconciler last applied ({vendor} cannot be read)"
    return AppliedSnapshot(parquet[0] if parquet else None, files, managed_fields, where, digest)


def applied_reader(
    blobs: Blobs, state: Callable[[], State | None]
) -> Callable[[str, ListConfig, str, Path], AppliedSnapshot | None]:
    """What ``Runtime.applied`` calls: a list's recorded membership, read from ``state()`` as
    it is when the list is planned. A list whose recorded provider or vendor list is not the
    configured one has none: what was applied to another list says nothing about this one."""

    def read(
        list_name: str, list_config: ListConfig, vendor: str, scratch: Path
    ) -> AppliedSnapshot | None:
        current = state()
        entry = current.lists.get(list_name) if current is not None else None
        if entry is None or (entry.provider, entry.vendor_list_id) != (
            list_config.provider,
            list_config.list_id,
        ):
            return None
        return open_applied(
            blobs,
            list_name,
            entry.applied,
            list_config.managed_fields,
            scratch / safe_name(list_name),
            vendor=vendor,
        )

    return read
