"""Emulated Omnigage: uploads with a pre-signed S3 POST form (served by the sandbox itself)
and contact imports (``specs/vendors/omnigage.md``)."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Vendor, json_response

BUCKET = "omnigage-sandbox"
ACCESS_KEY = "AKIASANDBOX000000000"
SECRET_KEY = b"sandbox-signing-secret"  # signs the sandbox's own POST policies only
MAX_BYTES = 5_368_724_480
MIME_TYPES = (
    "text/csv",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
STEPS = ("queued", "processing", "completed")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
#: Omnigage's field names for common header words.
KNOWN_HEADERS = {
    "email": "email1-email-address",
    "email address": "email1-email-address",
    "first name": "first-name",
    "first_name": "first-name",
    "first-name": "first-name",
    "last name": "last-name",
    "last_name": "last-name",
    "last-name": "last-name",
    "company": "company",
    "phone number": "phone1-phone-number",
}
EMAIL_FIELD = "email1-email-address"


def api_error(status: int, title: str, detail: str, pointer: str = "/data") -> Response:
    return json_response(
        {
            "errors": [
                {
                    "status": str(status),
                    "title": title,
                    "detail": detail,
                    "source": {"pointer": pointer},
                }
            ]
        },
        status,
    )


def s3_error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return Response(body, status=status, mimetype="application/xml")


def sign(policy: str) -> str:
    return base64.b64encode(hmac.new(SECRET_KEY, policy.encode(), hashlib.sha1).digest()).decode()


def field_name(header: str) -> str:
    key = header.strip().lower()
    return KNOWN_HEADERS.get(key, re.sub(r"[\s_]+", "-", key))


class OmnigageVendor(Vendor):
    name = "omnigage"
    rules = (
        Rule("/api/v1/uploads", endpoint="create_upload", methods=["POST"]),
        Rule("/s3/", endpoint="s3_post", methods=["POST"]),
        Rule("/api/v1/import-contacts", endpoint="create_import", methods=["POST"]),
        Rule("/api/v1/import-contacts/<import_id>", endpoint="get_import", methods=["GET"]),
    )

    def init_schema(self) -> None:
        self.db.executescript(
            """CREATE TABLE IF NOT EXISTS omnigage_uploads (
                   id TEXT PRIMARY KEY, prefix TEXT, name TEXT, size INTEGER, expires REAL,
                   data BLOB, completed INTEGER);
               CREATE TABLE IF NOT EXISTS omnigage_imports (
                   id TEXT PRIMARY KEY, upload_id TEXT, list_id TEXT, attrs TEXT,
                   polls INTEGER, status TEXT, counts TEXT, fail INTEGER, created REAL);
               CREATE TABLE IF NOT EXISTS omnigage_contacts (
                   list_id TEXT, email TEXT, status TEXT, fields TEXT,
                   PRIMARY KEY (list_id, email));
               CREATE TABLE IF NOT EXISTS omnigage_credentials (account TEXT, token TEXT);"""
        )

    def authenticate(self, request: Request) -> Response | None:
        if request.path.rstrip("/").endswith("/s3"):
            return None  # the S3 form authenticates by its policy signature
        account = request.headers.get("X-Account-Key", "")
        auth = request.authorization
        token = (auth.username or "") if auth else ""
        if not account or not token:
            return api_error(
                401, "Unauthorized", "X-Account-Key and Basic authorization are required", "/"
            )
        seeded = self.db.query("SELECT account, token FROM omnigage_credentials")
        if seeded and (account, token) not in {(r["account"], r["token"]) for r in seeded}:
            return api_error(401, "Unauthorized", "invalid account key or token", "/")
        return None

    # -- uploads ------------------------------------------------------------------------------
    def create_upload(self, request: Request) -> Response:
        body = request.get_json(silent=True, force=True)
        attrs = body.get("data", {}).get("attributes", body) if isinstance(body, dict) else None
        if not isinstance(attrs, dict):
            return api_error(400, "Bad Request", "expected a JSON body")
        name, mime, size = attrs.get("name"), attrs.get("type"), attrs.get("size")
        if not isinstance(name, str) or not name:
            return api_error(422, "Invalid Attribute", "name is required", "/data/attributes/name")
        if mime not in MIME_TYPES:
            return api_error(
                422,
                "Invalid Attribute",
                f"type must be one of {', '.join(MIME_TYPES)}",
                "/data/attributes/type",
            )
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_BYTES:
            return api_error(
                422,
                "Invalid Attribute",
                f"size must be between 1 and {MAX_BYTES} bytes",
                "/data/attributes/size",
            )
        upload_id = secrets.token_hex(11)
        prefix = f"uploads/{secrets.token_hex(16)}/"
        expires = datetime.now(UTC) + timedelta(hours=1)
        policy = base64.b64encode(
            json.dumps(
                {
                    "expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "conditions": [
                        {"bucket": BUCKET},
                        ["starts-with", "$key", prefix],
                        {"acl": "private"},
                        ["content-length-range", 0, MAX_BYTES],
                    ],
                }
            ).encode()
        ).decode()
        self.db.execute(
            "INSERT INTO omnigage_uploads VALUES (?,?,?,?,?,NULL,0)",
            (upload_id, prefix, name, size, expires.timestamp()),
        )
        return json_response(
            {
                "data": {
                    "type": "uploads",
                    "id": upload_id,
                    "attributes": {
                        "expires-at": expires.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                        "max-length-in-bytes": MAX_BYTES,
                        "request-url": f"{self.sandbox.base_url}/omnigage/s3/",
                        "request-method": "post",
                        "request-headers": [{"x-amz-server-side-encryption": "AES256"}],
                        "request-form-data": [
                            {"acl": "private"},
                            {"AWSAccessKeyId": ACCESS_KEY},
                            {"key": prefix + "${filename}"},
                            {"policy": policy},
                            {"signature": sign(policy)},
                        ],
                    },
                }
            },
            201,
        )

    def s3_post(self, request: Request) -> Response:
        form = request.form
        policy, signature = form.get("policy", ""), form.get("signature", "")
        if form.get("AWSAccessKeyId") != ACCESS_KEY:
            return s3_error(
                403,
                "InvalidAccessKeyId",
                "The AWS access key Id you provided does not exist in our records.",
            )
        if not hmac.compare_digest(sign(policy), signature):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        try:
            document = json.loads(base64.b64decode(policy))
            expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%SZ")
        except (ValueError, KeyError):
            return s3_error(400, "InvalidPolicyDocument", "Invalid Policy: malformed")
        if expiration.replace(tzinfo=UTC) < datetime.now(UTC):
            return s3_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        prefix = next(
            c[2] for c in document["conditions"] if isinstance(c, list) and c[0] == "starts-with"
        )
        upload = request.files.get("file")
        if upload is None:
            return s3_error(400, "InvalidArgument", "POST requires exactly one file upload")
        key = form.get("key", "").replace("${filename}", upload.filename or "file")
        if not key.startswith(prefix):
            return s3_error(
                403,
                "AccessDenied",
                'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key"]',
            )
        data = upload.read()
        if len(data) > MAX_BYTES:
            return s3_error(
                400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            )
        rows = self.db.query("SELECT id FROM omnigage_uploads WHERE prefix=?", (prefix,))
        if not rows:
            return s3_error(403, "AccessDenied", "No upload for this policy")
        self.db.execute(
            "UPDATE omnigage_uploads SET data=?, completed=1 WHERE id=?", (data, rows[0]["id"])
        )
        return Response(status=204, headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    # -- imports ------------------------------------------------------------------------------
    def create_import(self, request: Request) -> Response:
        body = request.get_json(silent=True, force=True)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "import-contacts":
            return api_error(422, "Invalid Type", "data.type must be import-contacts", "/data/type")
        relationships = data.get("relationships") or {}
        upload_id = ((relationships.get("upload") or {}).get("data") or {}).get("id")
        rows = self.db.query("SELECT * FROM omnigage_uploads WHERE id=?", (upload_id,))
        if not rows:
            return api_error(
                422,
                "Invalid Relationship",
                f"unknown upload {upload_id!r}",
                "/data/relationships/upload",
            )
        if not rows[0]["completed"]:
            return api_error(
                422,
                "Invalid Relationship",
                "the upload was never completed: post the file to the upload's request-url first",
                "/data/relationships/upload",
            )
        list_id = ((relationships.get("list") or {}).get("data") or {}).get("id") or "contacts"
        header, sample = _peek(bytes(rows[0]["data"]))
        import_id = secrets.token_hex(11)
        attrs = dict(data.get("attributes") or {})
        self.db.execute(
            "INSERT INTO omnigage_imports VALUES (?,?,?,?,0,'queued',?,?,?)",
            (
                import_id,
                upload_id,
                str(list_id),
                json.dumps(attrs),
                json.dumps(_zero()),
                int(self.sandbox.faults.take_job_failure(self.name)),
                time.time(),
            ),
        )
        return json_response(self._resource(import_id, header, sample), 201)

    def _resource(
        self, import_id: str, header: list[str] | None = None, sample: list[str] | None = None
    ) -> dict[str, Any]:
        row = self.db.query("SELECT * FROM omnigage_imports WHERE id=?", (import_id,))[0]
        if header is None:
            upload = self.db.query(
                "SELECT data FROM omnigage_uploads WHERE id=?", (row["upload_id"],)
            )[0]
            header, sample = _peek(bytes(upload["data"]))
        attrs = json.loads(row["attrs"])
        return {
            "data": {
                "type": "import-contacts",
                "id": import_id,
                "attributes": {
                    "status": row["status"],
                    "unique-primary-email": bool(attrs.get("unique-primary-email", True)),
                    "unique-primary-phone": bool(attrs.get("unique-primary-phone", False)),
                    "header": header,
                    "mapping": [field_name(h) for h in header],
                    "sample": sample,
                    **json.loads(row["counts"]),
                },
                "relationships": {
                    "list": {"data": {"type": "lists", "id": row["list_id"]}},
                    "upload": {"data": {"type": "uploads", "id": row["upload_id"]}},
                },
            }
        }

    def get_import(self, request: Request, import_id: str) -> Response:
        rows = self.db.query("SELECT * FROM omnigage_imports WHERE id=?", (import_id,))
        if not rows:
            return api_error(404, "Not Found", f"import-contacts {import_id} not found", "/")
        row = rows[0]
        if row["status"] in ("queued", "processing"):
            polls = row["polls"] + 1
            step = min(self.job_step(polls), len(STEPS) - 1)
            status, counts = STEPS[step], json.loads(row["counts"])
            if status == "completed":
                upload = self.db.query(
                    "SELECT data FROM omnigage_uploads WHERE id=?", (row["upload_id"],)
                )[0]
                records = _records(bytes(upload["data"]))
                if row["fail"]:
                    counts = self._apply(row, records[: len(records) // 2])
                    counts["count-erred"] += len(records) - len(records) // 2
                    counts["count-total"] = len(records)
                    status = "failed"
                else:
                    counts = self._apply(row, records)
            self.db.execute(
                "UPDATE omnigage_imports SET polls=?, status=?, counts=? WHERE id=?",
                (polls, status, json.dumps(counts), import_id),
            )
        return json_response(self._resource(import_id))

    def _apply(self, row: Any, records: list[dict[str, str]]) -> dict[str, int]:
        counts = _zero()
        seen: set[str] = set()
        list_id = row["list_id"]
        for record in records:
            counts["count-total"] += 1
            email = record.get(EMAIL_FIELD, "").strip().lower()
            if not _EMAIL.fullmatch(email):
                counts["count-erred"] += 1
                continue
            if email in seen:
                counts["count-skipped"] += 1
                continue
            seen.add(email)
            fields = {k: v for k, v in record.items() if k != EMAIL_FIELD and v}
            known = self.db.query(
                "SELECT fields FROM omnigage_contacts WHERE list_id=? AND email=?", (list_id, email)
            )
            if known:
                merged = {**json.loads(known[0]["fields"]), **fields}
                self.db.execute(
                    "UPDATE omnigage_contacts SET fields=? WHERE list_id=? AND email=?",
                    (json.dumps(merged), list_id, email),
                )
                counts["count-updated"] += 1
            else:
                self.db.execute(
                    "INSERT INTO omnigage_contacts VALUES (?,?,'active',?)",
                    (list_id, email, json.dumps(fields)),
                )
                counts["count-created"] += 1
            counts["count-resolved"] += 1
        return counts

    # -- inspection ---------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        lists: dict[str, list[dict[str, Any]]] = {}
        for r in self.db.query("SELECT * FROM omnigage_contacts ORDER BY list_id, email"):
            lists.setdefault(r["list_id"], []).append(
                {"email": r["email"], "status": r["status"], "fields": json.loads(r["fields"])}
            )
        return {"lists": lists}

    def seed(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise ValueError("omnigage seed: expected a mapping with 'lists'")
        for cred in data.get("credentials") or []:
            self.db.execute(
                "INSERT INTO omnigage_credentials VALUES (?,?)",
                (cred["account_key"], cred["token"]),
            )
        for list_id, spec in (data.get("lists") or {}).items():
            for contact in (spec or {}).get("contacts") or []:
                self.db.execute(
                    "INSERT OR REPLACE INTO omnigage_contacts VALUES (?,?,?,?)",
                    (
                        str(list_id),
                        contact["email"].strip().lower(),
                        contact.get("status", "active"),
                        json.dumps(contact.get("fields") or {}),
                    ),
                )


def _zero() -> dict[str, int]:
    return dict.fromkeys(
        (
            "count-created",
            "count-updated",
            "count-erred",
            "count-total",
            "count-resolved",
            "count-skipped",
        ),
        0,
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def _peek(data: bytes) -> tuple[list[str], list[str]]:
    rows = list(csv.reader(io.StringIO(_text(data))))
    return (rows[0] if rows else []), (rows[1] if len(rows) > 1 else [])


def _records(data: bytes) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(_text(data)))
    header = [field_name(h) for h in next(reader, [])]
    return [dict(zip(header, row, strict=False)) for row in reader if any(row)]
