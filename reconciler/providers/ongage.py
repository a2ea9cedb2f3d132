"""Ongage: changes through ``POST /{list_id}/api/import`` (a file Ongage fetches by URL),
current state through one export per status (``specs/vendors/ongage.md``, "Provider")."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from reconciler.config.schema import ExportConfig, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.exports.files import CsvExportSnapshot, ExportLayout, open_export
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.model import Action
from reconciler.plan.model import CurrentStateRef
from reconciler.private import open_private, private_dir
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
from reconciler.providers.ongage_import import ImportRefused as ImportRefused
from reconciler.providers.ongage_import import create_import

#: import_action and flags per plan action. An update is an add with overwrite: Ongage's way
#: of changing fields of existing contacts without touching their status.
IMPORT_REQUEST: dict[Action, dict[str, Any]] = {
    Action.ADD: {"import_action": "add", "overwrite": False},
    Action.UPDATE: {"import_action": "add", "overwrite": True, "ignore_empty": True},
    Action.RESUBSCRIBE: {"import_action": "resubscribe"},
    Action.REMOVE: {"import_action": "remove"},
    Action.UNSUBSCRIBE: {"import_action": "unsubscribe"},
    Action.BOUNCE: {"import_action": "bounce"},
    Action.COMPLAINT: {"import_action": "complaint"},
}
#: One export per status group, so every contact's status is known.
EXPORT_STATUSES: dict[str, str] = {
    "active": "active",
    "unjoin-member": "unsubscribed",
    "bounced": "bounced",
    "complaint": "complaint",
}
COUNT_KEYS = (
    "total",
    "success",
    "failed",
    "duplicate",
    "existing",
    "not_existing",
    "incomplete",
    "invalid",
)
DEFAULT_BATCH = 100_000
#: Documented import statuses of a job not yet final (Queued, Validating, Processing, Updating
#: list stats); 40003 is Completed and any status >= 90000 an error.
PENDING_STATUSES = frozenset({40001, 40010, 40002, 40004})
#: Imports of one list apply may keep in flight at once. The documents state no limit (nor
#: whether one list's imports run side by side): one, the conservative default, is opt-in.
DEFAULT_IMPORTS_IN_FLIGHT = 1


@dataclass
class VendorSnapshot:
    """Export files fetched from the vendor, fingerprinted as the vendor's state."""

    files: CsvExportSnapshot
    location: str
    reported_total: int | None = None  # the vendor's own count of the rows, where it gives one

    def prepare(self, con: Any) -> None:
        self.files.prepare(con)

    def sql(self, *, positions: bool = False) -> str:
        return self.files.sql(positions=positions)

    def rows_by_lines(self) -> int | None:
        return self.files.rows_by_lines()

    def origin(self, src_file: int, ordinal: int) -> str:
        return self.files.origin(src_file, ordinal)

    def ref(self, rows: int) -> CurrentStateRef:
        ref = self.files.ref(rows)
        return CurrentStateRef(
            "vendor", self.location, ref.rows, ref.sha256, ref.read_at, self.reported_total
        )


class OngageProvider(Provider):
    vendor = "ongage"
    default_base_url = "https://api.ongage.net"
    # ongage-import-api.txt: import_action add/remove/unsubscribe/resubscribe/bounce/complaint;
    # overwrite for field updates.
    capabilities = frozenset(Action)  # every action
    # ongage-export-api.txt, status: the export statuses this provider reads.
    status_words: ClassVar[Mapping[str, str]] = {
        "active": "active",
        "unjoin-member": "unsubscribed",
        "bounced": "bounced",
        "complaint": "complaint",
    }
    export_formats: ClassVar[Mapping[str, ExportLayout]] = {"ongage": ExportLayout.CSV}
    can_read_current = True
    fetches_by_url = True  # ongage-import-api.txt: the import names the file's URL

    def __init__(
        self, name: str, config: ProviderConfig, *, base_url: str | None = None, workdir: Path
    ) -> None:
        super().__init__(name, config, base_url=base_url, workdir=workdir)
        self.batch_size = self.int_option("batch_size", DEFAULT_BATCH, low=1, high=5_000_000)
        self.export_timeout = self.int_option("export_timeout_seconds", 3600, low=1, high=86_400)
        # How many of one list's imports apply keeps in flight (specs/vendors/ongage.md).
        self.max_imports_in_flight = self.int_option(
            "max_imports_in_flight", DEFAULT_IMPORTS_IN_FLIGHT, low=1, high=100
        )
        self._running: dict[str, set[str]] = {}  # list ID -> imports sent, not yet seen ended
        creds = config.credentials
        headers = {}
        for header, secret in (
            ("X-USERNAME", creds.username),
            ("X-PASSWORD", creds.password),
            ("X-ACCOUNT-CODE", creds.account_code),
        ):
            if secret is not None:
                headers[header] = secret.get_secret_value()
        self.http = VendorHttp("ongage", self.base_url, headers=headers, policy=self.http_policy)

    def close(self) -> None:
        self.http.close()

    def imports_in_flight(self) -> int:
        return self.max_imports_in_flight

    # -- writing ------------------------------------------------------------------------------
    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        return BatchFormat(
            delimiter=",",
            field_columns={name: name for name in list_config.managed_fields},
            max_rows=self.batch_size,
            needs_url=True,
        )

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        if batch.url is None:
            raise ProviderError(
                "batch has no URL: Ongage fetches import files by URL", vendor="ongage"
            )
        list_id = batch.vendor_list_id
        body = {
            "list_id": int(list_id) if list_id.isdigit() else list_id,
            "file_url": batch.url,
            "csv_delimiter": ",",
            "import_type": str(list_config.options.get("import_type", "sending")),
            "send_welcome_message": False,
            **IMPORT_REQUEST[batch.action],
        }
        path = f"/{list_id}/api/import"
        data = create_import(self.http, path, body, ours_running=bool(self._running.get(list_id)))
        import_id = field(
            data,
            "payload",
            "id",
            vendor="ongage",
            endpoint=f"POST {path}",
            error=AmbiguousSubmission,
        )
        self._running.setdefault(list_id, set()).add(str(import_id))
        return JobRef(str(import_id), {"file": _file_name(batch.url)})

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        path = f"/{list_config.list_id}/api/import/{job.vendor_job_id}"
        endpoint = f"GET {path}"
        data = self.http.json("GET", path)
        payload = mapping(
            field(data, "payload", vendor="ongage", endpoint=endpoint),
            "payload",
            vendor="ongage",
            endpoint=endpoint,
        )
        status = _status_code(
            field(data, "payload", "status", vendor="ongage", endpoint=endpoint), path
        )
        counts = {
            k: whole_number(payload.get(k), f"payload.{k}", vendor="ongage", endpoint=endpoint)
            for k in COUNT_KEYS
            if k in payload
        }
        message = str(payload.get("status_desc") or "")
        info = str(payload.get("status_info") or "")
        if info:
            # The detail often repeats the description ("Error: …"): say it once.
            message = info if info.startswith(message) else f"{message}: {info}"
        if status == 40003:
            state = JobState.SUCCEEDED
        elif status >= 90000:  # "Any status >= 90000 are final statuses of errors."
            state = JobState.FAILED
        elif status in PENDING_STATUSES:
            state = JobState.PENDING
        else:
            # Not a documented status: waiting on it could last until the job timeout.
            raise ProviderError(
                f"unknown import status {status} ({message or 'no description'}); the job "
                "stays in the ledger: `reconciler poll` follows it later",
                vendor="ongage",
                endpoint=endpoint,
            )
        if state is not JobState.PENDING:
            self._running.get(list_config.list_id, set()).discard(job.vendor_job_id)
        words = str(payload.get("status_desc") or "")
        return JobStatus(state, str(status), counts, message, words=words, done=_done(payload))

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        """Ongage's import listing ("a collection of all import details for a given list")
        names each import by its file: batch files have unique, unguessable names, so a match
        is this batch, and no match proves that no import of it exists (yet)."""
        if batch.url is None:
            # Staged before it is recorded: an import POST always names its file's URL.
            return Lookup.absent("the batch was never staged, so no import can name its file")
        wanted = _file_name(batch.url)
        path = f"/{batch.vendor_list_id}/api/import"
        basis = f"ongage's import listing of list {batch.vendor_list_id} (GET {path})"
        data = self.http.json("GET", path)
        items = field(data, "payload", vendor="ongage", endpoint=f"GET {path}")
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict) and wanted in (
                item.get("name"),
                _file_name(str(item.get("file_url") or "")),
            ):
                found = field(item, "id", vendor="ongage", endpoint=f"GET {path}")
                self._running.setdefault(batch.vendor_list_id, set()).add(str(found))
                return Lookup.found(JobRef(str(found), {"file": wanted}), basis)
        return Lookup.absent(basis)

    # -- reading ------------------------------------------------------------------------------
    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot:
        list_id = list_config.list_id
        segment = list_config.options.get("segment_id", int(list_id) if list_id.isdigit() else 0)
        directory = private_dir(self.workdir / "exports" / list_name)
        files: dict[str, str] = {}
        for ongage_status, ours in EXPORT_STATUSES.items():
            target = directory / f"{ours}.csv"
            self._export(list_config, segment, ongage_status, target)
            files[ours] = str(target)
        export = ExportConfig(format="ongage", by_status=files)  # type: ignore[arg-type]
        snapshot = open_export(
            export, Path, list_config.managed_fields, ExportLayout.CSV, self.status_words
        )
        assert isinstance(snapshot, CsvExportSnapshot)
        return VendorSnapshot(snapshot, f"ongage POST /{list_id}/api/export (one per status)")

    def _export(self, list_config: ListConfig, segment: Any, status: str, target: Path) -> None:
        list_id = list_config.list_id
        path = f"/{list_id}/api/export"
        body = {
            "name": f"reconciler {status}",
            "date_format": "mm/dd/yyyy",
            "file_format": "csv",
            "segment_id": [segment],
            "status": [status],
            "fields_selected": ["email", *list_config.managed_fields],
        }
        # Creating an export only reads the list: one created twice by a retry is harmless, so
        # a 5xx or a timeout is retried like a read (not resolved as an ambiguous submission).
        try:
            data = self.http.json("POST", path, json=body, idempotent=True)
        except ProviderError as exc:
            if exc.status_code != 412:
                raise
            # The default segment (the list's ID) is beyond the documents: say how to name one.
            raise ProviderError(
                f"{str(exc).removeprefix(f'ongage POST {path}: ')} (the export reads segment "
                f"{segment}: set the list option segment_id to a segment holding all of list "
                f"{list_id}'s members, or read the list from an export: file)",
                vendor="ongage",
                endpoint=f"POST {path}",
                status_code=412,
            ) from exc
        export_id = field(data, "payload", "id", vendor="ongage", endpoint=f"POST {path}")
        retrieve = f"/{list_id}/api/export/{export_id}/retrieve"
        deadline = time.monotonic() + self.export_timeout
        delay = 0.05
        while True:
            response = self.http.request("GET", retrieve, expect=(200, 412))
            if response.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"export {export_id} not ready after {self.export_timeout}s",
                    vendor="ongage",
                    endpoint=f"GET {retrieve}",
                )
            time.sleep(delay)
            delay = min(5.0, delay * 2)
        unzip_export(response.content, target, f"GET {retrieve}")


def unzip_export(content: bytes, target: Path, endpoint: str) -> None:
    """Write the one file of an export ZIP to ``target`` (0600: it holds the list)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ProviderError(
                    f"export ZIP holds {len(names)} files, expected one",
                    vendor="ongage",
                    endpoint=endpoint,
                )
            # Streamed: the export of a large list does not fit in memory twice.
            with archive.open(names[0]) as member, open_private(target) as out:
                shutil.copyfileobj(member, out, 1 << 20)
    except zipfile.BadZipFile:
        raise ProviderError(
            "export is not a ZIP file", vendor="ongage", endpoint=endpoint
        ) from None
    except (zlib.error, EOFError) as exc:
        # The deflate stream is corrupt or cut short: the download, not the list, is bad.
        raise ProviderError(
            f"export ZIP is damaged ({type(exc).__name__}: {exc}); run the command again "
            "to download the export afresh",
            vendor="ongage",
            endpoint=endpoint,
        ) from exc


def _done(payload: Mapping[str, Any]) -> float | None:
    """Ongage's ``progress`` (a percentage, which the emulator sends as text) as a fraction;
    None when it is absent or not a number: progress output is no reason to fail a poll."""
    try:
        percent = float(payload["progress"])
    except (KeyError, TypeError, ValueError):
        return None
    return min(max(percent / 100, 0.0), 1.0)


def _file_name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def _status_code(value: Any, path: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProviderError(
            f"unknown import status {value!r}", vendor="ongage", endpoint=f"GET {path}"
        ) from None
