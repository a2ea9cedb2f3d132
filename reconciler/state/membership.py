"""Reading a list's applied membership (written by ``reconciler/state/applied.py``): as the
current state of a list whose vendor cannot be read (:class:`AppliedSnapshot`), and as the
record of what reconciler did to any list (:class:`Recorded`: ownership, three-way drift).

Two forms, by whether the list's vendor can be read (``reconciler/state/keys.py``):

- ``email``: the normalised address and the managed fields' values, for lists planned from
  it (their vendor cannot be read back, and a member dropped from the repository must be
  named to be removed by hand);
- ``keyed``: a keyed hash of the address (column ``key``) and of each field's value, for
  lists read afresh from their vendor: enough to tell what changed on which side."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.exports.snapshot import now_utc
from reconciler.model import Action
from reconciler.plan.model import CurrentStateRef
from reconciler.private import private_dir, write_private
from reconciler.state.blobs import Blobs
from reconciler.state.keys import field_hash, key_sql, state_salt
from reconciler.state.model import AppliedRef, State

if TYPE_CHECKING:
    from reconciler.config.schema import ListConfig

JOURNAL = "journal/"
LISTS = "lists/"
KEYED_SUFFIX = ".keyed.parquet"


class Form(StrEnum):
    EMAIL = "email"
    KEYED = "keyed"

    @property
    def column(self) -> str:
        return "email" if self is Form.EMAIL else "key"


def form_of_journal(name: str) -> Form:
    return Form.KEYED if name.endswith(KEYED_SUFFIX) else Form.EMAIL


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
#: Actions that put a member on the list: after one, the member is reconciler's (ownership).
ADDING = (Action.ADD, Action.RESUBSCRIBE)


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def journals(blobs: Blobs, list_name: str) -> list[str]:
    return blobs.names(f"{JOURNAL}{safe_name(list_name)}/")


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


def _base_sql(parquet: Path | None, col: str, with_added: bool) -> str:
    if parquet is None:
        kind = "VARCHAR" if col == "email" else "BLOB"
        return (
            f"SELECT NULL::{kind} AS {col}, NULL::VARCHAR AS status, NULL::JSON AS fields, "
            "NULL::BOOLEAN AS added WHERE false"
        )
    # Files of format version 3 have no ``added``: everything in them reconciler sent.
    added = "added" if with_added else "true AS added"
    return f"SELECT {col}, status, fields, {added} FROM read_parquet({lit(str(parquet))})"


def membership_sql(
    parquet: Path | None,
    journal_files: Sequence[Path],
    *,
    form: Form = Form.EMAIL,
    with_added: bool = True,
    field_names: Sequence[str] = (),
) -> str:
    """``email`` (or ``key``), ``status``, ``fields`` (a JSON object of the fields' last
    values), ``added`` of a list: its last merged file with every journal row over it, the
    latest row of an address deciding its status, each of ``field_names`` (every key the
    journals' ``fields`` hold: :func:`journal_fields`) its latest value."""
    col = form.column
    base = _base_sql(parquet, col, with_added)
    if not journal_files:
        return base
    files = "[" + ", ".join(lit(str(p)) for p in journal_files) + "]"  # Parquet files
    statuses = " ".join(
        f"WHEN {lit(a.value)} THEN {lit(s)}" for a, s in STATUS_AFTER.items() if s is not None
    )
    adding = ", ".join(lit(a.value) for a in ADDING)
    every = (
        f"PARTITION BY {col} ORDER BY filename, n "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    )
    # A batch's row carries only the fields it sent: an update of one field keeps the others'
    # values, so each field is its latest value any row gave (a sort that spills to disk: a
    # list of every row's fields per address would not fit ten million addresses).
    last = [
        f"last_value(json_extract_string(fields, {lit('$.' + json.dumps(name))}) IGNORE NULLS) "
        f"OVER ({every}) AS v{i}"
        for i, name in enumerate(field_names)
    ]
    values = "".join(", " + v for v in last)
    pairs = ", ".join(f"{lit(name)}, v{i}" for i, name in enumerate(field_names))
    fields = f"json_merge_patch('{{}}', json_object({pairs}))" if pairs else "NULL::JSON"
    return f"""
        WITH base AS ({base}),
        rows AS (
            -- Every window over one partition and order, which DuckDB sorts once; each
            -- holds the whole partition, so any one row of an address tells them all.
            SELECT {col}, last_value(action) OVER ({every}) AS action{values},
                bool_or(action IN ({adding})) OVER ({every}) AS added
            FROM read_parquet({files}, filename = true, union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY {col} ORDER BY filename, n) = 1
        ),
        latest AS (
            SELECT {col}, action, added,
                CASE WHEN {fields} = '{{}}' THEN NULL ELSE {fields} END AS fields
            FROM rows
        )
        SELECT b.* FROM base b ANTI JOIN latest l ON b.{col} = l.{col}
        UNION ALL
        SELECT l.{col}, CASE l.action {statuses} END,
            CASE WHEN b.fields IS NULL THEN l.fields WHEN l.fields IS NULL THEN b.fields
                ELSE json_merge_patch(b.fields, l.fields) END,
            l.added OR coalesce(b.added, false)
        FROM latest l LEFT JOIN base b ON b.{col} = l.{col}
        WHERE l.action <> 'remove'
    """


def journal_fields(con: Any, journal_files: Sequence[Path]) -> list[str]:
    """Every field name the journals' rows carry, in name order."""
    if not journal_files:
        return []
    files = "[" + ", ".join(lit(str(p)) for p in journal_files) + "]"
    rows = con.execute(
        "SELECT DISTINCT unnest(json_keys(fields)) AS name "
        f"FROM read_parquet({files}, union_by_name = true) WHERE fields IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [name for (name,) in rows]


def has_added(con: Any, parquet: Path) -> bool:
    rows = con.execute(f"SELECT name FROM parquet_schema({lit(str(parquet))})").fetchall()
    return any(name == "added" for (name,) in rows)


@dataclass(frozen=True)
class Files:
    """A list's recorded membership as local files: its merged file and unmerged journals."""

    form: Form
    parquet: Path | None
    journal_files: tuple[Path, ...]
    digest: str  # of what is recorded: changes whenever a merge or a journal does

    def sql(self, con: Any) -> str:
        with_added = self.parquet is None or has_added(con, self.parquet)
        return membership_sql(
            self.parquet,
            self.journal_files,
            form=self.form,
            with_added=with_added,
            field_names=journal_fields(con, self.journal_files),
        )


def open_files(
    blobs: Blobs, list_name: str, ref: AppliedRef | None, scratch: Path, form: Form
) -> Files | None:
    """The list's recorded membership in ``form``, or None when none is recorded in it."""
    names = [n for n in journals(blobs, list_name) if form_of_journal(n) is form]
    if ref is not None and Form(ref.form) is not form:
        ref = None  # recorded in the other form (its vendor changed): says nothing here
    if ref is None and not names:
        return None
    parquet = fetch(blobs, [ref.file], scratch) if ref is not None else []
    files = fetch(blobs, names, scratch)
    digest = hashlib.sha256("\n".join([ref.sha256 if ref else "", *names]).encode()).hexdigest()
    return Files(form, parquet[0] if parquet else None, tuple(files), digest)


def recorded_entry(state: State | None, list_name: str, list_config: ListConfig) -> Any:
    """The state's entry of a list, when it is about the configured vendor list: what was
    applied to another list says nothing about this one."""
    entry = state.lists.get(list_name) if state is not None else None
    if entry is None or (entry.provider, entry.vendor_list_id) != (
        list_config.provider,
        list_config.list_id,
    ):
        return None
    return entry


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
                f"FROM read_parquet({lit(str(self.parquet))}, file_row_number = true)"
            )
        else:
            files = Files(Form.EMAIL, self.parquet, tuple(self.journal_files), self.sha256)
            source = f"SELECT row_number() OVER () AS ord, * FROM ({files.sql(con)})"
        con.execute(f"CREATE OR REPLACE VIEW {self.table} AS {source}")

    def sql(self, *, positions: bool = False) -> str:
        fields = "".join(
            f", json_extract_string(fields, {lit('$.' + json.dumps(name))}) AS f{i}"
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
    files = open_files(blobs, list_name, ref, scratch, Form.EMAIL)
    if files is None:
        return None
    where = f"per the state: what reconciler last applied ({vendor} cannot be read)"
    return AppliedSnapshot(files.parquet, files.journal_files, managed_fields, where, files.digest)


class StateMemory:
    """What the runtime asks of the state's applied membership (``Runtime.applied``), read
    from ``state()`` as it is when each list is planned."""

    def __init__(self, blobs: Blobs, state: Callable[[], State | None]) -> None:
        self.blobs = blobs
        self.state = state

    def snapshot(
        self, list_name: str, list_config: ListConfig, vendor: str, scratch: Path
    ) -> AppliedSnapshot | None:
        """The current state of a list whose vendor cannot be read, when one is recorded."""
        entry = recorded_entry(self.state(), list_name, list_config)
        if entry is None:
            return None
        return open_applied(
            self.blobs,
            list_name,
            entry.applied,
            list_config.managed_fields,
            scratch / safe_name(list_name),
            vendor=vendor,
        )

    def recorded(
        self, list_name: str, list_config: ListConfig, scratch: Path, form: Form
    ) -> Recorded | None:
        """What reconciler recorded of a list, in the form its vendor gets; None when
        nothing is (the keyed form also needs the state's key)."""
        entry = recorded_entry(self.state(), list_name, list_config)
        if entry is None:
            return None
        salt = state_salt(self.blobs) if form is Form.KEYED else None
        if form is Form.KEYED and salt is None:
            return None
        files = open_files(
            self.blobs, list_name, entry.applied, scratch / safe_name(list_name), form
        )
        return Recorded(files, salt) if files is not None else None


def applied_reader(blobs: Blobs, state: Callable[[], State | None]) -> StateMemory:
    return StateMemory(blobs, state)


@dataclass(frozen=True, slots=True)
class Member:
    """What reconciler last applied to one member: its status, and each field's value
    (``email`` form) or keyed hash (``keyed`` form)."""

    status: str
    fields: Mapping[str, str]
    added: bool


@dataclass(frozen=True)
class Recorded:
    """A list's recorded membership, looked up by address (ownership, three-way drift)."""

    files: Files
    salt: str | None  # the state's key, for the ``keyed`` form

    def same_value(self, value: str | None, recorded: str | None) -> bool:
        """Whether a field's ``value`` is the one recorded (both stripped, empty as None)."""
        value = (value or "").strip() or None
        if value is None or recorded is None:
            return value is None and recorded is None
        if self.files.form is Form.EMAIL or self.salt is None:
            return value == recorded
        return field_hash(value, self.salt) == recorded

    def lookup(self, con: Any, emails: Iterable[str]) -> dict[str, Member]:
        """The recorded members among ``emails`` (normalised addresses), by address."""
        addresses = list(dict.fromkeys(emails))
        if not addresses:
            return {}
        col = self.files.form.column
        key = "email" if self.files.form is Form.EMAIL else key_sql("email", self.salt or "")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE asked AS "
            f"SELECT email, {key} AS k FROM (SELECT unnest(?::VARCHAR[]) AS email)",
            [addresses],
        )
        rows = con.execute(
            f"SELECT a.email, r.status, r.fields, r.added FROM asked a "
            f"JOIN ({self.files.sql(con)}) r ON r.{col} = a.k"
        ).fetchall()
        con.execute("DROP TABLE asked")
        return {
            email: Member(status, json.loads(fields) if fields else {}, bool(added))
            for email, status, fields, added in rows
        }

    def owned(self, con: Any, emails: Iterable[str]) -> set[str]:
        """Those of ``emails`` that reconciler added (``drop_scope: owned``)."""
        return {email for email, member in self.lookup(con, emails).items() if member.added}
