"""Omnigage: ``uploads`` → pre-signed POST of the file → ``import-contacts``, polled to the end
(``specs/vendors/omnigage.md``, "Provider")."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError
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

DEFAULT_BATCH = 100_000
#: Seconds the storage may take to answer one file upload (a batch is up to 100,000 rows).
UPLOAD_TIMEOUT = 300.0
COUNTS = (
    "count-created",
    "count-updated",
    "count-erred",
    "count-total",
    "count-resolved",
    "count-skipped",
)


class OmnigageProvider(Provider):
    vendor = "omnigage"
    default_base_url = "https://api.omnigage.io"
    # uploads + import-contacts: contacts are created or updated, nothing else.
    capabilities = frozenset({Action.ADD, Action.UPDATE})
    can_read_current = False

    def __init__(
        self, name: str, config: ProviderConfig, *, base_url: str | None = None, workdir: Path
    ) -> None:
        super().__init__(name, config, base_url=base_url, workdir=workdir)
        self.batch_size = self.int_option("batch_size", DEFAULT_BATCH, low=1, high=5_000_000)
        creds = config.credentials
        account = creds.account_code.get_secret_value() if creds.account_code else ""
        token = creds.api_key.get_secret_value() if creds.api_key else ""
        secret = creds.password.get_secret_value() if creds.password else ""
        self.http = VendorHttp(
            "omnigage",
            self.base_url,
            headers={"X-Account-Key": account},
            auth=(token, secret),
            policy=self.http_policy,
        )
        # The upload's storage (S3) is another host: a client without Omnigage's credentials,
        # retried like every request. Writing the same file to the same key again stores the
        # same object, so the upload is retried as idempotent (5xx and broken connections too).
        self.storage = VendorHttp(
            "omnigage", "", policy=replace(self.http_policy, read_timeout=UPLOAD_TIMEOUT)
        )

    def close(self) -> None:
        self.http.close()
        self.storage.close()

    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat:
        # Managed fields are named as Omnigage's fields (first-name, last-name, …); the header
        # "Email Address" maps to email1-email-address.
        return BatchFormat(
            email_column="Email Address",
            field_columns={n: n for n in list_config.managed_fields},
            max_rows=self.batch_size,
            needs_url=False,
        )

    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        data = batch.path.read_bytes()
        # An upload is only a place for the file: a second one created by a retry imports
        # nothing (the import below names one upload). So it is retried like a read, and a
        # failure here is no ambiguous submission: no import can exist yet.
        upload = self.http.json(
            "POST",
            "/api/v1/uploads",
            idempotent=True,
            json={"name": batch.path.name, "type": "text/csv", "size": max(1, len(data))},
        )
        upload_id = field(upload, "data", "id", vendor="omnigage", endpoint="POST /api/v1/uploads")
        attrs = field(
            upload, "data", "attributes", vendor="omnigage", endpoint="POST /api/v1/uploads"
        )
        self._post_form(attrs, batch.path.name, data)
        body = {
            "data": {
                "type": "import-contacts",
                "attributes": {
                    "status": "queued",
                    "unique-primary-email": True,
                    "unique-primary-phone": False,
                },
                "relationships": {
                    "upload": {"data": {"type": "uploads", "id": upload_id}},
                    "list": {"data": {"type": "lists", "id": batch.vendor_list_id}},
                },
            }
        }
        created = self.http.json("POST", "/api/v1/import-contacts", idempotent=False, json=body)
        import_id = field(
            created,
            "data",
            "id",
            vendor="omnigage",
            endpoint="POST /api/v1/import-contacts",
            error=AmbiguousSubmission,
        )
        return JobRef(str(import_id), {"upload": upload_id})

    def _post_form(self, attrs: dict[str, Any], name: str, data: bytes) -> None:
        """The pre-signed POST to the upload's storage (S3), exactly as the upload says."""
        url = str(attrs.get("request-url") or "")
        form: dict[str, str] = {}
        for item in attrs.get("request-form-data") or []:
            form.update({k: str(v) for k, v in item.items()})
        headers: dict[str, str] = {}
        for item in attrs.get("request-headers") or []:
            headers.update({k: str(v) for k, v in item.items()})
        form["Content-Type"] = "text/csv"
        self.storage.request(
            "POST",
            url,
            idempotent=True,
            expect=(200, 201, 204),
            label="<upload request-url>",
            data=form,
            files={"file": (name, data, "text/csv")},
            headers=headers,
        )

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        # An import is read only by the ID its creation answers: the document lists no imports
        # and no way to find one by its upload.
        return Lookup.cannot_tell(
            "omnigage documents no listing of its imports: it cannot say whether an import "
            "of this batch was created"
        )

    def resend_is_harmless(self, action: Action) -> str | None:
        """Every import is created with ``unique-primary-email: true``: a row whose address a
        contact holds updates that contact instead of creating another (specs/vendors/
        omnigage.md), so the same file imported twice leaves the contacts as once: the
        second finds every contact the first created and writes the same values. Omnigage
        can only add and update."""
        if action in (Action.ADD, Action.UPDATE):
            return (
                f"an {action.value} there is an import with unique-primary-email, which updates "
                "the contact holding each address: the same rows imported twice leave the "
                "contacts as once"
            )
        return None

    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        path = f"/api/v1/import-contacts/{job.vendor_job_id}"
        endpoint = f"GET {path}"
        data = self.http.json("GET", path)
        attrs = mapping(
            field(data, "data", "attributes", vendor="omnigage", endpoint=endpoint),
            "data.attributes",
            vendor="omnigage",
            endpoint=endpoint,
        )
        status = str(attrs.get("status"))
        counts = {
            k.removeprefix("count-"): whole_number(
                attrs.get(k), f"data.attributes.{k}", vendor="omnigage", endpoint=endpoint
            )
            for k in COUNTS
        }
        if status in ("queued", "processing"):
            judged = sum(counts[k] for k in ("created", "updated", "erred", "skipped"))
            done = min(judged / counts["total"], 1.0) if counts["total"] else None
            return JobStatus(JobState.PENDING, status, counts, done=done)
        if status == "completed" and not counts["erred"]:
            return JobStatus(JobState.SUCCEEDED, status, counts)
        if status == "completed":
            message = f"import completed with {counts['erred']} row(s) erred"
            return JobStatus(JobState.FAILED, status, counts, message)
        if status == "failed":
            # A failed import stops midway: say how far it got, not only what erred.
            judged = sum(counts[k] for k in ("created", "updated", "erred", "skipped"))
            message = (
                f"import failed after {judged} of {counts['total']} row(s) "
                f"({counts['erred']} erred)"
            )
            return JobStatus(JobState.FAILED, status, counts, message)
        raise ProviderError(
            f"unknown import status {status!r}; the job stays in the ledger: `reconciler "
            "poll` follows it later",
            vendor="omnigage",
            endpoint=endpoint,
        )
