"""Emulated Omnigage API: uploads with a pre-signed S3 POST form, the S3 bucket they target, and
import-contacts jobs.

Follows /work/shared/vendor-docs/omnigage-import-contacts.txt; every choice made where that
document is silent is written in specs/vendors/omnigage.md. An import advances one status per
lifecycle step (``job_step``)::

    queued --(file counted)--> processing --(rows applied)--> completed | failed

Rows are judged and applied in one transaction on the last step; a ``fail_job`` fault applies
the first half of the rows and ends ``failed``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import islice
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Sandbox, json_response
from reconciler.sandbox.importjob import FileError, ImportJobVendor
from reconciler.sandbox.omnigage_import import count_rows, judge, preview, read_rows
from reconciler.sandbox.omnigage_jsonapi import (
    ApiError,
    parse_import_request,
    parse_upload_request,
    read_document,
)
from reconciler.sandbox.omnigage_s3 import (
    S3Error,
    check_encryption_header,
    make_policy,
    parse_form,
    sign,
    stored_object,
    success_response,
    verify,
)
from reconciler.sandbox.omnigage_store import ImportJob, OmnigageStore, Upload

#: Omnigage's resource IDs look like short UUIDs: 22 characters of this alphabet.
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class OmnigageVendor(ImportJobVendor[ImportJob]):
    name = "omnigage"
    secret_headers = frozenset({"authorization", "x-account-key"})
    store: OmnigageStore

    def __init__(self, sandbox: Sandbox) -> None:
        self.store = OmnigageStore(sandbox.db)
        super().__init__(sandbox)

    def routes(self) -> tuple[Rule, ...]:
        return (
            Rule("/api/v1/uploads", endpoint="create_upload", methods=["POST"]),
            Rule("/api/v1/import-contacts", endpoint="create_import", methods=["POST"]),
            Rule("/api/v1/import-contacts/<import_id>", endpoint="get_import", methods=["GET"]),
            Rule("/s3/", endpoint="s3_post", methods=["POST"]),
        )

    def authenticate(self, request: Request) -> Response | None:
        if request.path.startswith(f"/{self.name}/s3/"):
            return None  # the bucket: the signed form is the credential
        account_key = request.headers.get("X-Account-Key", "")
        token = request.authorization
        if not account_key:
            detail = "The X-Account-Key header is required: the account key of Account settings."
        elif token is None or token.type != "basic" or not token.username or not token.password:
            detail = "Basic authorization with an API token (key:secret) is required."
        elif (seeded := self.store.credentials()) and (
            account_key,
            token.username,
            token.password,
        ) not in seeded:
            detail = "The API token or the account key is not valid."
        else:
            return None
        error = ApiError(401, "Unauthorized", detail)
        return error.response({"WWW-Authenticate": 'Basic realm="Omnigage"'})

    # -- uploads and the bucket -------------------------------------------------------------
    def create_upload(self, request: Request) -> Response:
        max_length = self.store.setting("max-length-in-bytes")
        try:
            upload_request = parse_upload_request(read_document(request), max_length)
        except ApiError as exc:
            return exc.response()
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.store.setting("upload-expires-in"))
        upload = Upload(
            id=_short_id(),
            name=upload_request.name,
            type=upload_request.type,
            size=upload_request.size,
            key_prefix=f"uploads/{uuid.uuid4().hex}/",
            expires_at=expires.isoformat(),
            created_at=now.isoformat(),
        )
        self.store.create_upload(upload)
        s3 = self.store.s3_credentials()
        policy = make_policy(s3.bucket, upload.key_prefix, expires, max_length)
        attributes = {
            "expires-at": format_datetime(expires, usegmt=True),
            "max-length-in-bytes": max_length,
            "request-url": self._bucket_url(request),
            "request-method": "post",
            "request-headers": [{"x-amz-server-side-encryption": "AES256"}],
            "request-form-data": [
                {"acl": "private"},
                {"AWSAccessKeyId": s3.access_key_id},
                {"key": upload.key_prefix + "${filename}"},
                {"policy": policy},
                {"signature": sign(s3.secret_access_key, policy)},
            ],
        }
        return json_response(
            {"data": {"type": "uploads", "id": upload.id, "attributes": attributes}}, 201
        )

    def s3_post(self, request: Request) -> Response:
        s3 = self.store.s3_credentials()
        try:
            check_encryption_header(request)
            form = parse_form(request)
            key = verify(form, s3, datetime.now(UTC))
        except S3Error as exc:
            return exc.response()
        stored = stored_object(key, form)
        self.store.put_object(stored)
        return success_response(stored, form, s3.bucket, self._bucket_url(request))

    # -- import-contacts --------------------------------------------------------------------
    def create_import(self, request: Request) -> Response:
        try:
            job = self._new_job(request)
        except ApiError as exc:
            return exc.response()
        job.fail_job = self.sandbox.faults.take_job_failure(self.name)
        self.store.create_job(job)
        return json_response(self._job_body(job, request), 201)

    def get_import(self, request: Request, import_id: str) -> Response:
        job = self.poll(request, import_id)
        if job is None:
            error = ApiError(404, "Not Found", f"Import contact {import_id} does not exist.")
            return error.response()
        return json_response(self._job_body(job, request))

    def _new_job(self, request: Request) -> ImportJob:
        import_request = parse_import_request(read_document(request))
        upload = self._completed_upload(import_request.upload_id)
        list_id = import_request.list_id
        if list_id is not None and not self.store.has_list(list_id):
            raise ApiError(
                422,
                "Invalid Relationship",
                f"List {list_id} does not exist.",
                "/data/relationships/list/data/id",
            )
        try:
            shown = preview(self.store.object_data(upload.object_key or ""))
        except FileError as exc:
            raise ApiError(
                422,
                "Invalid Upload",
                f"Upload {upload.id} cannot be imported: {exc}.",
                "/data/relationships/upload",
            ) from None
        mapping = import_request.mapping or shown.mapping
        if len(mapping) != len(shown.header):
            raise ApiError(
                422,
                "Invalid Attribute",
                f"mapping has {len(mapping)} entries; the file's header has"
                f" {len(shown.header)} columns.",
                "/data/attributes/mapping",
            )
        now = _timestamp()
        token = request.authorization
        return ImportJob(
            id=_short_id(),
            upload_id=upload.id,
            list_id=list_id,
            file_id=_short_id(),
            membership_id=_short_id(f"membership:{token.username if token else ''}"),
            flags=import_request.flags,
            header=shown.header,
            mapping=mapping,
            sample=shown.sample,
            status="queued",
            created_at=now,
            updated_at=now,
            fail_job=False,
        )

    def _completed_upload(self, upload_id: str) -> Upload:
        upload = self.store.upload(upload_id)
        if upload is None:
            raise ApiError(
                422,
                "Invalid Relationship",
                f"Upload {upload_id} does not exist.",
                "/data/relationships/upload/data/id",
            )
        if upload.object_key is None:
            raise ApiError(
                422,
                "Invalid Relationship",
                f"Upload {upload_id} has no file: POST the file to the upload's request-url"
                " with its request-form-data first.",
                "/data/relationships/upload",
            )
        return upload

    # -- the lifecycle ----------------------------------------------------------------------
    def find_job(self, job_id: str) -> ImportJob | None:
        return self.store.job(job_id)

    def state_of(self, job: ImportJob) -> str:
        return job.status

    def advance(self, job: ImportJob) -> None:
        upload = self.store.upload(job.upload_id)
        data = self.store.object_data(upload.object_key or "") if upload else b""
        if job.status == "queued":
            job.counts.total = count_rows(data)
            job.status, job.updated_at = "processing", _timestamp()
        elif job.status == "processing":
            self._finish(job, data)

    def _finish(self, job: ImportJob, data: bytes) -> None:
        """Judge and apply the rows in one transaction; a failing job applies the first half."""
        total = job.counts.total
        _, rows = read_rows(data)
        with self.db.transaction() as conn:
            unique = job.flags["unique-primary-email"]
            outcome = judge(
                islice(rows, total // 2 if job.fail_job else None),
                job.mapping,
                existing=self.store.contacts_by_email(conn) if unique else None,
                pruning=job.flags["update-pruning"],
            )
            self.store.apply(conn, outcome, job.list_id)
            outcome.counts.total = total
            job.counts = outcome.counts
            job.status = "failed" if job.fail_job else "completed"
            job.updated_at = _timestamp()
            self.store.save_job(job, conn)

    # -- rendering --------------------------------------------------------------------------
    def _bucket_url(self, request: Request) -> str:
        return f"{self.base(request)}/{self.name}/s3/"

    def _job_body(self, job: ImportJob, request: Request) -> dict[str, Any]:
        membership = {"data": {"type": "memberships", "id": job.membership_id}}
        link = f"{self.base(request)}/{self.name}/api/v1/import-contacts/{job.id}/results"
        attributes = {
            "status": job.status,
            **job.flags,
            "header": job.header,
            "mapping": job.mapping,
            "sample": job.sample,
            **job.counts.attributes(),
            "created-at": job.created_at,
            "updated-at": job.updated_at,
        }
        relationships = {
            "created-by": membership,
            "updated-by": membership,
            "list": {"data": {"type": "lists", "id": job.list_id} if job.list_id else None},
            "results": {"links": {"related": link}},
            "original-file": {"data": {"type": "files", "id": job.file_id}},
            "errors-file": {"data": None},
        }
        return {
            "data": {
                "type": "import-contacts",
                "id": job.id,
                "attributes": attributes,
                "relationships": relationships,
            }
        }


def _short_id(seed: str | None = None) -> str:
    """A 22-character ID in Omnigage's style: random, or derived from ``seed``."""
    raw = (
        hashlib.sha256(seed.encode()).digest()[:16] if seed is not None else secrets.token_bytes(16)
    )
    number = int.from_bytes(raw, "big")
    digits = []
    for _ in range(22):
        number, digit = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(digits)


def _timestamp() -> str:
    return datetime.now(UTC).isoformat()
