"""The S3 bucket behind Omnigage's pre-signed upload forms: browser-based POST uploads with a
POST policy signed by signature version 2, checked the way S3 checks them.

Omnigage answers ``POST /api/v1/uploads`` with a form signed for S3 (``policy`` is a base64 JSON
policy document, ``signature`` is ``base64(HMAC-SHA1(secret, policy))``); the client posts that
form, plus the file, to the bucket. This module makes such forms and judges posted ones. Its
error codes and messages are S3's (Amazon S3 API reference: *Error responses*, *Creating a POST
policy*); ``S3Error.response`` renders them as S3 does, in XML.

Why a verifier in an emulator of four routes: the document's step 2 ("Upload to S3") is the one
request of the flow reconciler sends to S3, not Omnigage, and S3 refuses a form not posted as
signed. Each check is one way a client gets that wrong (a field dropped, changed, added or sent
after the file, a wrong encryption header, the form expired, the file too large), answered
with S3's error, which the provider must surface; a bucket that stored whatever it was sent
would pass a client that fails its first real upload. Not emulated, as Omnigage's forms never
need them: signature version 4, policy conditions other than eq, starts-with and
content-length-range.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, MultipartDecoder
from werkzeug.sansio.multipart import Field as FieldEvent
from werkzeug.sansio.multipart import File as FileEvent
from werkzeug.wrappers import Request, Response

#: Form fields S3 never requires the policy to mention (plus any ``x-ignore-*`` field).
UNCHECKED_FIELDS = frozenset({"awsaccesskeyid", "signature", "policy", "file"})
SSE_VALUES = frozenset({"AES256", "aws:kms"})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str
    bucket: str


#: Sandbox-only values (no real credentials); a seed may replace them.
DEFAULT_CREDENTIALS = S3Credentials(
    access_key_id="AKIASANDBOXOMNIGAGE0",
    secret_access_key="sandbox-omnigage-upload-secret",
    bucket="omnigage-sandbox-upload",
)


class S3Error(Exception):
    """An S3 error answer: HTTP status, S3 error code, message and extra XML elements."""

    def __init__(self, status: int, code: str, message: str, **extra: str | int) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        elements = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in self.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"{elements}<RequestId>{_request_id()}</RequestId></Error>"
        )
        return Response(body, status=self.status, headers=_s3_headers(), mimetype="application/xml")


@dataclass
class PostedForm:
    """The fields S3 reads from a POST upload: those before the file, in order; the file."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    filename: str | None = None
    file: bytes | None = None

    def get(self, name: str) -> str | None:
        """The first value of a field, its name matched case-insensitively as S3 does."""
        wanted = name.lower()
        return next((v for k, v in self.fields if k.lower() == wanted), None)


@dataclass(frozen=True)
class StoredObject:
    key: str
    data: bytes
    content_type: str
    etag: str


def sign(secret: str, policy: str) -> str:
    """Signature version 2 of a POST policy: ``base64(HMAC-SHA1(secret, policy))``."""
    digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def make_policy(bucket: str, key_prefix: str, expiration: datetime, max_length: int) -> str:
    """The base64 policy Omnigage signs, with the conditions of its real forms (seen in the
    Omnigage .NET SDK's recorded responses): acl, bucket, key prefix, any Content-Type, size."""
    document = {
        "expiration": expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [
            {"acl": "private"},
            {"bucket": bucket},
            ["starts-with", "$key", key_prefix],
            ["starts-with", "$Content-Type", ""],
            ["content-length-range", 0, max_length],
        ],
    }
    return base64.b64encode(json.dumps(document).encode()).decode()


def parse_form(request: Request) -> PostedForm:
    """Read a ``multipart/form-data`` POST with Werkzeug's multipart decoder, keeping field
    order: S3 ignores every field after the file, so order matters."""
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary:
        raise S3Error(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            Condition="Bucket POST must be of the enclosure-type multipart/form-data",
        )
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    form = PostedForm()
    part: FieldEvent | FileEvent | None = None
    chunks: list[bytes] = []
    try:
        for data in _chunks(request.stream):
            decoder.receive_data(data)
            event = decoder.next_event()
            while not isinstance(event, Epilogue) and event is not NEED_DATA:
                if isinstance(event, FieldEvent | FileEvent):
                    part, chunks = event, []
                elif isinstance(event, Data) and part is not None:
                    chunks.append(event.data)
                    if not event.more_data and _take(form, part, b"".join(chunks)):
                        return form
                event = decoder.next_event()
    except ValueError as exc:
        raise S3Error(400, "MalformedPOSTRequest", _MALFORMED) from exc
    return form


def _chunks(stream: Any) -> Iterator[bytes | None]:
    while chunk := stream.read(_CHUNK):
        yield chunk
    yield None


_MALFORMED = "The body of your POST request is not well-formed multipart/form-data."


def _take(form: PostedForm, part: FieldEvent | FileEvent, data: bytes) -> bool:
    """Record one part; True once the file is read (S3 ignores what follows it)."""
    if isinstance(part, FileEvent) and part.name == "file":
        form.filename, form.file = part.filename, data
        return True
    form.fields.append((part.name, data.decode("utf-8", errors="replace")))
    return False


def verify(form: PostedForm, credentials: S3Credentials, now: datetime) -> str:
    """Judge a posted form as S3 does; return the object key, or raise :class:`S3Error`."""
    key = form.get("key")
    if key is None:
        raise _missing_field("key")
    if form.file is None:
        raise S3Error(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
            ArgumentName="file",
            ArgumentValue="0",
        )
    policy = form.get("policy")
    if policy is None:
        # An anonymous POST: only a publicly writable bucket accepts it, and this one is private.
        raise S3Error(403, "AccessDenied", "Access Denied")
    access_key_id = form.get("AWSAccessKeyId")
    if access_key_id is None:
        raise _missing_field("AWSAccessKeyId")
    signature = form.get("signature")
    if signature is None:
        raise _missing_field("signature")
    if access_key_id != credentials.access_key_id:
        raise S3Error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            AWSAccessKeyId=access_key_id,
        )
    if not hmac.compare_digest(signature, sign(credentials.secret_access_key, policy)):
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
            " Check your key and signing method.",
            AWSAccessKeyId=access_key_id,
            StringToSign=policy,
            SignatureProvided=signature,
        )
    document = _decode_policy(policy)
    _check_expiration(document, now)
    filename = form.filename or ""
    key = key.replace("${filename}", filename)
    _check_conditions(document["conditions"], form, key, credentials.bucket, len(form.file))
    return key


def _missing_field(name: str) -> S3Error:
    return S3Error(
        400,
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check"
        " the order of the fields.",
        ArgumentName=name,
        ArgumentValue="",
    )


def _decode_policy(policy: str) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(policy, validate=True))
    except (binascii.Error, ValueError):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(document, dict):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if "expiration" not in document:
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")
    if not isinstance(document.get("conditions"), list):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.")
    return document


def _check_expiration(document: Mapping[str, Any], now: datetime) -> None:
    text = str(document["expiration"])
    try:
        expiration = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise S3Error(
            400, "InvalidPolicyDocument", f"Invalid Policy: Invalid 'expiration' value: '{text}'"
        ) from None
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    if now >= expiration:
        raise S3Error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")


def _check_conditions(
    conditions: Iterable[Any], form: PostedForm, key: str, bucket: str, size: int
) -> None:
    values = {name.lower(): value for name, value in reversed(form.fields)}
    values["key"], values["bucket"] = key, bucket
    covered = {"bucket"}
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            ((name, expected),) = condition.items()
            condition = ["eq", f"${name}", expected]
        if not isinstance(condition, list) or len(condition) != 3:
            raise S3Error(
                400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}"
            )
        operator, target, expected = condition
        if operator == "content-length-range":
            if not all(isinstance(bound, int) for bound in (target, expected)):
                raise S3Error(
                    400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}"
                )
            _check_size(size, target, expected)
            continue
        name = str(target).removeprefix("$").lower()
        covered.add(name)
        actual = values.get(name)
        holds = actual is not None and (
            actual == expected if operator == "eq" else actual.startswith(str(expected))
        )
        if operator not in ("eq", "starts-with") or not holds:
            failed = json.dumps([operator, target, expected])
            raise S3Error(
                403,
                "AccessDenied",
                f"Invalid according to Policy: Policy Condition failed: {failed}",
            )
    extra = [
        name
        for name, _ in form.fields
        if name.lower() not in covered
        and name.lower() not in UNCHECKED_FIELDS
        and not name.lower().startswith("x-ignore-")
    ]
    if extra:
        raise S3Error(
            403,
            "AccessDenied",
            f"Invalid according to Policy: Extra input fields: {', '.join(extra).lower()}",
        )


def _check_size(size: int, low: int, high: int) -> None:
    if size > high:
        raise S3Error(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            ProposedSize=size,
            MaxSizeAllowed=high,
        )
    if size < low:
        raise S3Error(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            ProposedSize=size,
            MinSizeAllowed=low,
        )


def check_encryption_header(request: Request) -> None:
    """The ``x-amz-server-side-encryption`` header Omnigage's forms ask for, when present."""
    value = request.headers.get("x-amz-server-side-encryption")
    if value is not None and value not in SSE_VALUES:
        raise S3Error(
            400,
            "InvalidArgument",
            "The encryption method specified is not supported",
            ArgumentName="x-amz-server-side-encryption",
            ArgumentValue=value,
        )


def success_response(
    stored: StoredObject, form: PostedForm, bucket: str, bucket_url: str
) -> Response:
    """S3's answer to a stored POST upload: 204 unless ``success_action_status`` says 200/201."""
    location = bucket_url + quote(stored.key, safe="")
    headers = {**_s3_headers(), "ETag": stored.etag, "Location": location}
    status = form.get("success_action_status")
    if status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<PostResponse><Location>{escape(location)}</Location>"
            f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(stored.key)}</Key>"
            f"<ETag>{escape(stored.etag)}</ETag></PostResponse>"
        )
        return Response(body, status=201, headers=headers, mimetype="application/xml")
    response = Response(b"", status=200 if status == "200" else 204, headers=headers)
    del response.headers["Content-Type"]  # S3 sends none with an empty answer
    return response


def stored_object(key: str, form: PostedForm) -> StoredObject:
    data = form.file or b""
    return StoredObject(
        key=key,
        data=data,
        content_type=form.get("Content-Type") or "binary/octet-stream",
        etag=f'"{hashlib.md5(data).hexdigest()}"',
    )


def _s3_headers() -> dict[str, str]:
    # S3 encrypts every new object (SSE-S3) and says so, whether or not the header was sent.
    return {
        "Server": "AmazonS3",
        "x-amz-request-id": _request_id(),
        "x-amz-server-side-encryption": "AES256",
    }


def _request_id() -> str:
    return uuid.uuid4().hex[:16].upper()
