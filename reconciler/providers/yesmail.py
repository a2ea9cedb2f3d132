"""Yesmail: target-list file imports by URL, followed through their ticket to the async
results (``specs/vendors/yesmail.md``, "Provider")."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action, VendorType
from reconciler.providers.base import Batch, BatchFormat, JobRef, JobState, JobStatus, Provider
from reconciler.providers.capabilities import CAPABILITIES
from reconciler.providers.http import (
    AmbiguousSubmission,
    VendorHttp,
    field,
    mapping,
    whole_number,
)

PENDING_STATES = frozenset({"accepted", "processing", "retrying"})
DEFAULT_BATCH = 100_000


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
    vendor = VendorType.YESMAIL
    capabilities = CAPABILITIES[VendorType.YESMAIL]
    can_read_current = False

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

    def close(self) -> None:
        self.http.close()

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        # Managed fields are named as the list's load-table columns (e.g. firstname); Yesmail
        # identifies members by their lower-case address in the `id` column.
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
        mappings = [{"id": "email"}, *({name: name} for name in list_config.managed_fields)]
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
                "refresh` follows it later",
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
        return JobStatus(JobState.FAILED, state, counts, message, failures)

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


def _batch_addresses(path: str | None) -> list[str]:
    """The addresses of a batch file in record order (the async results give indexes)."""
    if not path or not Path(path).exists():
        return []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [row[0] for row in reader if row]
