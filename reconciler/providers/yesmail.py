"""Yesmail: target-list file imports by URL, followed through their ticket to the async
results (``specs/vendors/yesmail.md``, "Provider")."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.failures import rows_message
from reconciler.model import Action
from reconciler.providers.base import (
    Batch,
    BatchFormat,
    JobRef,
    JobState,
    JobStatus,
    Lookup,
    Provider,
)
from reconciler.providers.http import (
    AmbiguousSubmission,
    VendorHttp,
    field,
    mapping,
    whole_number,
)

PENDING_STATES = frozenset({"accepted", "processing", "retrying"})
DEFAULT_BATCH = 100_000
SCHEMA_PATH = "/v2/target-lists"
#: Answers meaning "this account has no schema view" (not an error of the request): the
#: provider then relies on the id_column option.
NO_SCHEMA = frozenset({404, 405, 501})


@dataclass(frozen=True)
class LoadTable:
    """What the provider knows of a target list's load table."""

    id_column: str  # the column the member's address is mapped to
    columns: tuple[str, ...] | None  # every column, when the schema view told them


def error_threshold(value: Any) -> int | str:
    """A list's ``error_threshold`` option: a whole number, or a percentage such as "5%"."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            number = float(value[:-1])
        except ValueError:
            number = -1.0
        if 0 < number < 100:
            return value
    raise ProviderError(
        f"list option error_threshold must be a whole number >= 0 or a percentage between 0% "
        f'and 100% such as "5%", got {value!r}',
        vendor="yesmail",
    )


class YesmailProvider(Provider):
    vendor = "yesmail"
    default_base_url = "https://api.yesmail.com"
    # Target-list file import only: members are added or updated, nothing else.
    capabilities = frozenset({Action.ADD, Action.UPDATE})
    can_read_current = False
    fetches_by_url = True  # the file import names the file by its source URI

    def __init__(
        self, name: str, config: ProviderConfig, *, base_url: str | None = None, workdir: Path
    ) -> None:
        super().__init__(name, config, base_url=base_url, workdir=workdir)
        self.batch_size = self.int_option("batch_size", DEFAULT_BATCH, low=1, high=5_000_000)
        creds = config.credentials
        headers = {}
        if creds.username is not None:
            headers["Api-User"] = creds.username.get_secret_value()
        if creds.api_key is not None:
            headers["Api-Key"] = creds.api_key.get_secret_value()
        self.http = VendorHttp("yesmail", self.base_url, headers=headers, policy=self.http_policy)
        self._schema: dict[str, tuple[str, ...]] | None = None
        self._schema_read = False
        self._tables: dict[tuple[Any, ...], LoadTable] = {}

    def close(self) -> None:
        self.http.close()

    # -- the load table ------------------------------------------------------------------------
    def load_table(self, list_config: ListConfig) -> LoadTable:
        """The list's load table: its columns from the schema view when the vendor answers it,
        the member ID column from the ``id_column`` option or those columns (``id``, else
        ``email``). Every mapping key must be a column ("The request will fail if the name in
        the map does not exists in the list load table"): a managed field that is not one is
        an error here, before any batch of the list is written or sent."""
        name = list_config.list_id
        # Two configured lists may share a target list with different fields: checked apart.
        key = (name, tuple(list_config.managed_fields), list_config.options.get("id_column"))
        if key not in self._tables:
            columns = self._columns(name)
            table = LoadTable(_id_column(list_config, self.config.options, columns), columns)
            _check_fields(name, list_config.managed_fields, table)
            self._tables[key] = table
        return self._tables[key]

    def check_list(self, list_name: str, list_config: ListConfig) -> None:
        self.load_table(list_config)

    def _columns(self, list_name: str) -> tuple[str, ...] | None:
        if not self._schema_read:
            self._schema = self._read_schema()
            self._schema_read = True
        if self._schema is None:
            return None
        return self._schema.get(list_name, self._schema.get("", None))

    def _read_schema(self) -> dict[str, tuple[str, ...]] | None:
        """``GET /v2/target-lists?view=schema`` ("To determine which attributes are supported"):
        list name -> columns ("" for attributes given for the whole company), or None when
        the account does not answer it. The document shows no answer; both readings of
        ``targetList`` are taken (specs/vendors/yesmail.md, "Provider")."""
        endpoint = f"GET {SCHEMA_PATH}?view=schema"
        try:
            data = self.http.json("GET", SCHEMA_PATH, params={"view": "schema"})
        except ProviderError as exc:
            if exc.status_code in NO_SCHEMA:
                return None
            raise
        items = field(data, "targetList", vendor="yesmail", endpoint=endpoint)
        if not isinstance(items, list):
            raise ProviderError("targetList is not an array", vendor="yesmail", endpoint=endpoint)
        tables: dict[str, tuple[str, ...]] = {}
        company: list[str] = []
        for item in items:
            entry = mapping(item, "an item of targetList", vendor="yesmail", endpoint=endpoint)
            if "attributes" in entry:  # one list and its columns
                attributes = entry["attributes"]
                if not isinstance(attributes, list):
                    attributes = [attributes]  # judged item by item below
                tables[str(entry.get("name"))] = tuple(
                    _attribute_name(a, endpoint) for a in attributes
                )
            else:  # one attribute of the dataset every list shares
                company.append(_attribute_name(entry, endpoint))
        if company:
            tables[""] = tuple(company)
        return tables

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        # The first thing apply asks of a list: its load table is checked here, so that a
        # managed field the list cannot hold stops the apply before the list's first batch.
        self.load_table(list_config)
        # Managed fields are named as the list's load-table columns (e.g. firstname); the
        # file's email column is mapped onto the member ID column (`id` or `email`).
        return BatchFormat(
            delimiter=",",
            header=True,
            email_column="email",
            field_columns={name: name for name in list_config.managed_fields},
            lowercase=True,
            max_rows=self.batch_size,
            needs_url=True,
        )

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        if batch.url is None:
            raise ProviderError(
                "batch has no URL: Yesmail fetches import files by URL", vendor="yesmail"
            )
        table = self.load_table(list_config)
        mappings = [
            {table.id_column: "email"},
            *({name: name} for name in list_config.managed_fields),
        ]
        body = {
            # update: a member already on the list gets the desired field values; Yesmail has
            # no read API, so an add can meet an existing member and must still converge.
            "importType": "update",
            "errorThreshold": error_threshold(list_config.options.get("error_threshold", 0)),
            "source": {"headers": True, "mappings": mappings, "separator": ",", "uri": batch.url},
        }
        path = f"/v2/target-lists/{batch.vendor_list_id}/members/file-import"
        response = self.http.request("POST", path, json=body, idempotent=False, expect=(202,))
        location = response.headers.get("Content-Location", "")
        ticket = location.rstrip("/").rsplit("/", 1)[-1]
        if not ticket:
            raise AmbiguousSubmission(
                "accepted the import but sent no Content-Location ticket",
                vendor="yesmail",
                endpoint=f"POST {path}",
            )
        return JobRef(ticket, {"file": str(batch.path)})

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        path = f"/v2/tickets/{job.vendor_job_id}"
        endpoint = f"GET {path}"
        ticket = self.http.json("GET", path)
        state = field(ticket, "state", vendor="yesmail", endpoint=endpoint)
        if not isinstance(state, str) or state not in {*PENDING_STATES, "completed", "failed"}:
            raise ProviderError(
                f"unknown ticket state {state!r}; the job stays in the ledger: `reconciler "
                "poll` follows it later",
                vendor="yesmail",
                endpoint=endpoint,
            )
        message = str(ticket.get("message") or "")
        if state in PENDING_STATES:
            return JobStatus(JobState.PENDING, state, message=message)
        response = mapping(ticket.get("response"), "response", vendor="yesmail", endpoint=endpoint)
        location = response.get("location")
        counts: dict[str, int] = {}
        failures: list[dict[str, Any]] = []
        if location:
            counts, failures = self._results(str(location), job)
        failed_rows = counts.get("failed", 0)
        if state == "completed" and not failed_rows:
            return JobStatus(JobState.SUCCEEDED, state, counts, message)
        if state == "completed":
            message = f"{failed_rows} of {counts.get('total', 0)} rows failed"
        if failures:
            message = f"{message}: {rows_message(failures, max(failed_rows, len(failures)))}"
        return JobStatus(JobState.FAILED, state, counts, message, failures)

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        # A ticket is found only by the number the import's answer carries (Content-Location):
        # the document offers no listing of tickets, nor a search by responseRef.
        return Lookup.cannot_tell(
            "yesmail documents no listing of its tickets: it cannot say whether a file import "
            "of this batch was created"
        )

    def resend_is_harmless(self, action: Action) -> str | None:
        """Every import is ``importType: update``, which the document defines as "update
        existing records with the data available, or insert new records if no match is found":
        an upsert, so the same file imported twice leaves the load table as once (an add of a
        member already there updates the same values). Yesmail can only add and update."""
        if action in (Action.ADD, Action.UPDATE):
            return (
                f"an {action.value} there is a file import with importType update, an upsert: "
                "the same rows imported twice leave the list as once"
            )
        return None

    def _results(self, location: str, job: JobRef) -> tuple[dict[str, int], list[dict[str, Any]]]:
        result_id = location.rstrip("/").rsplit("/", 1)[-1]
        path = f"/v2/async-results/{result_id}"
        endpoint = f"GET {path}"
        data = self.http.json("GET", path)
        raw_counts = field(data, "counts", vendor="yesmail", endpoint=endpoint)
        counts = {
            str(k): whole_number(v, f"counts.{k}", vendor="yesmail", endpoint=endpoint)
            for k, v in mapping(raw_counts, "counts", vendor="yesmail", endpoint=endpoint).items()
        }
        addresses = _batch_addresses(job.detail.get("file"))
        failed = data.get("failed") or []
        if not isinstance(failed, list):
            failed = [failed]  # judged item by item below
        failures = []
        for item in failed:
            item = mapping(item, "an item of failed", vendor="yesmail", endpoint=endpoint)
            # No index: the failure is reported without an address rather than a wrong one.
            index = (
                whole_number(item["index"], "failed[].index", vendor="yesmail", endpoint=endpoint)
                if item.get("index") is not None
                else -1
            )
            error = item.get("error")
            error = error if isinstance(error, dict) else {}
            failures.append(
                {
                    "row": index + 1,
                    "email": addresses[index] if 0 <= index < len(addresses) else None,
                    "status": error.get("status"),
                    "error": error.get("message"),
                }
            )
        return counts, failures


def _id_column(
    list_config: ListConfig, options: Mapping[str, Any], columns: tuple[str, ...] | None
) -> str:
    """The load-table column members are identified by: the list's ``id_column`` option, else
    the provider's, else ``id`` when the load table has it, else ``email``."""
    name = list_config.list_id
    chosen = list_config.options.get("id_column", options.get("id_column"))
    if chosen is not None and (not isinstance(chosen, str) or not chosen):
        raise ProviderError(
            f"target list {name!r}: option id_column must be a load-table column name, "
            f"got {chosen!r}",
            vendor="yesmail",
        )
    if columns is None:
        # No schema view: the option, else `id` (the column of the document's example).
        return chosen or "id"
    shown = ", ".join(columns)
    if chosen is not None:
        if chosen not in columns:
            raise ProviderError(
                f"target list {name!r}: id_column {chosen!r} is not a column of its load table "
                f"(columns: {shown})",
                vendor="yesmail",
            )
        return chosen
    for candidate in ("id", "email"):
        if candidate in columns:
            return candidate
    raise ProviderError(
        f"target list {name!r}: its load table has no 'id' nor 'email' column to identify "
        f"members by (columns: {shown}); set the list's option id_column",
        vendor="yesmail",
    )


def _check_fields(list_name: str, managed: Sequence[str], table: LoadTable) -> None:
    for name in managed:
        if name == table.id_column:
            raise ProviderError(
                f"target list {list_name!r}: managed field {name!r} is the member ID column; "
                "the address is mapped to it",
                vendor="yesmail",
            )
        if table.columns is not None and name not in table.columns:
            raise ProviderError(
                f"target list {list_name!r}: managed field {name!r} is not a column of its "
                f"load table (columns: {', '.join(table.columns)}); nothing was sent",
                vendor="yesmail",
            )


def _attribute_name(value: Any, endpoint: str) -> str:
    """One attribute of the schema view: an object with a ``name`` or a bare name."""
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or not name:
        raise ProviderError(
            f"schema attribute without a name: {value!r}", vendor="yesmail", endpoint=endpoint
        )
    return name


def _batch_addresses(path: str | None) -> list[str]:
    """The addresses of a batch file in record order (the async results give indexes)."""
    if not path or not Path(path).exists():
        return []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [row[0] for row in reader if row]
