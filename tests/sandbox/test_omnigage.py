"""The emulated Omnigage API against its document: omnigage-import-contacts.txt.

Everything goes over real HTTP on loopback to the sandbox: the API under ``/omnigage/api/v1``
and the S3 bucket its upload forms target, ``/omnigage/s3/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from reconciler.sandbox.omnigage_seed import SeedError
from reconciler.sandbox.server import EmbeddedSandbox

ACCOUNT = {"X-Account-Key": "firstbank"}
TOKEN = ("token-key", "token-secret")
UPLOADS = "/omnigage/api/v1/uploads"
IMPORTS = "/omnigage/api/v1/import-contacts"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
S3_SEED = {"access_key_id": "AKIATESTONLY", "secret_access_key": "test-secret", "bucket": "bkt"}
CSV = b"Email Address,First Name,Last Name\nann@example.com,Ann,Archer\nbob@example.com,Bob,Baker\n"


# -- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        yield running


@pytest.fixture
def sandbox(shared_sandbox: EmbeddedSandbox) -> EmbeddedSandbox:
    """One sandbox for the module, reset before each test (a server start costs ~0.5 s)."""
    shared_sandbox.app.reset()
    shared_sandbox.app.settings.polls_per_step = 1
    return shared_sandbox


@pytest.fixture
def api(sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A client carrying both credentials Omnigage requires."""
    with httpx.Client(
        base_url=sandbox.base_url, headers=ACCOUNT, auth=TOKEN, timeout=30.0
    ) as client:
        yield client


def seed(http: httpx.Client, data: dict[str, Any]) -> None:
    http.post("/_sandbox/seed", json={"omnigage": data}).raise_for_status()


def state(http: httpx.Client) -> dict[str, Any]:
    result: dict[str, Any] = http.get("/_sandbox/state").json()["vendors"]["omnigage"]
    return result


def error(status: int, title: str, detail: str, pointer: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"status": str(status), "title": title, "detail": detail}
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    return {"errors": [item]}


def create_upload(
    api: httpx.Client, size: int = len(CSV), name: str = "contacts.csv", kind: str = "text/csv"
) -> dict[str, Any]:
    response = api.post(UPLOADS, json={"name": name, "type": kind, "size": size})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def form_parts(
    upload: dict[str, Any],
    content: bytes,
    filename: str = "contacts.csv",
    *,
    replace: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    after_file: tuple[tuple[str, str], ...] = (),
    content_type: str | None = "text/csv",
) -> list[tuple[str, str | tuple[str, bytes]]]:
    """The upload's form fields in order, the Content-Type the SDK adds, then the file."""
    replace = replace or {}
    parts: list[tuple[str, str | tuple[str, bytes]]] = []
    for item in upload["attributes"]["request-form-data"]:
        ((name, value),) = item.items()
        if name not in drop:
            parts.append((name, replace.get(name, value)))
    if content_type is not None:
        parts.append(("Content-Type", content_type))
    parts.append(("file", (filename, content)))
    parts.extend(after_file)
    return parts


def post_form(
    http: httpx.Client,
    url: str,
    parts: list[tuple[str, str | tuple[str, bytes]]],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a multipart form with its parts exactly in the given order."""
    boundary = "sandbox-test-boundary"
    chunks: list[bytes] = []
    for name, value in parts:
        if isinstance(value, tuple):
            disposition = f'form-data; name="{name}"; filename="{value[0]}"'
            head = f"Content-Disposition: {disposition}\r\nContent-Type: text/csv\r\n"
            body = value[1]
        else:
            head, body = f'Content-Disposition: form-data; name="{name}"\r\n', value.encode()
        chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + body + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return http.post(url, content=b"".join(chunks), headers={**content_type, **(headers or {})})


def s3_error(response: httpx.Response) -> dict[str, str]:
    """An S3 XML error as {element: text}, without the per-request RequestId."""
    assert response.headers["content-type"].startswith("application/xml"), response.text
    root = ET.fromstring(response.text)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root if child.tag != "RequestId"}


def upload_file(api: httpx.Client, content: bytes = CSV, **upload_args: Any) -> str:
    upload = create_upload(api, size=len(content), **upload_args)
    attributes = upload["attributes"]
    posted = post_form(
        api,
        attributes["request-url"],
        form_parts(upload, content),
        attributes["request-headers"][0],
    )
    assert posted.status_code == 204, posted.text
    return str(upload["id"])


def import_body(upload_id: str, list_id: str | None = None, **attributes: Any) -> dict[str, Any]:
    relationships: dict[str, Any] = {"upload": {"data": {"type": "uploads", "id": upload_id}}}
    if list_id is not None:
        relationships["list"] = {"data": {"type": "lists", "id": list_id}}
    return {
        "data": {
            "type": "import-contacts",
            "attributes": {"status": "queued", **attributes},
            "relationships": relationships,
        }
    }


def start_import(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(IMPORTS, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def poll(api: httpx.Client, import_id: str, limit: int = 10) -> tuple[list[str], dict[str, Any]]:
    """The statuses seen by polling until final, and the final attributes."""
    seen: list[str] = []
    for _ in range(limit):
        response = api.get(f"{IMPORTS}/{import_id}")
        assert response.status_code == 200, response.text
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        seen.append(attributes["status"])
        if attributes["status"] in ("completed", "failed"):
            return seen, attributes
    raise AssertionError(f"import still {seen[-1]} after {limit} polls")


def run_import(
    api: httpx.Client, content: bytes, list_id: str | None = None, **attributes: Any
) -> dict[str, Any]:
    upload_id = upload_file(api, content)
    job = start_import(api, import_body(upload_id, list_id, **attributes))
    return poll(api, job["id"])[1]


def counts(attributes: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix("count-"): v for k, v in attributes.items() if k.startswith("count-")}


def contact(email: str, status: str = "active", **fields: str) -> dict[str, Any]:
    return {
        "email": email,
        "status": status,
        "fields": {k.replace("_", "-"): v for k, v in fields.items()},
    }


def signed_policy(
    document: dict[str, Any], secret: str = S3_SEED["secret_access_key"]
) -> tuple[str, str]:
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
    return policy, base64.b64encode(digest).decode()


def decoded_policy(upload: dict[str, Any]) -> dict[str, Any]:
    form = {k: v for item in upload["attributes"]["request-form-data"] for k, v in item.items()}
    result: dict[str, Any] = json.loads(base64.b64decode(form["policy"]))
    return result


# -- authentication -----------------------------------------------------------------------------
ENDPOINTS = [("POST", UPLOADS, 422), ("POST", IMPORTS, 400), ("GET", f"{IMPORTS}/someid", 404)]
NO_KEY = "The X-Account-Key header is required: the account key of Account settings."
NO_TOKEN = "Basic authorization with an API token (key:secret) is required."
BAD_TOKEN = "The API token or the account key is not valid."


@pytest.mark.parametrize(("method", "path", "status"), ENDPOINTS)
def test_every_api_endpoint_needs_the_account_key_and_basic_auth(
    http: httpx.Client, method: str, path: str, status: int
) -> None:
    basic = "Basic " + base64.b64encode(b"token-key:token-secret").decode()
    cases = [
        ({"Authorization": basic}, NO_KEY),
        (ACCOUNT, NO_TOKEN),
        ({**ACCOUNT, "Authorization": "Bearer token-key"}, NO_TOKEN),
        (
            {**ACCOUNT, "Authorization": "Basic " + base64.b64encode(b"token-key:").decode()},
            NO_TOKEN,
        ),
        ({"X-Account-Key": "", "Authorization": basic}, NO_KEY),
    ]
    for headers, detail in cases:
        response = http.request(method, path, headers=headers, json={})
        assert response.status_code == 401, headers
        assert response.json() == error(401, "Unauthorized", detail)
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Omnigage"'
    passed = http.request(method, path, headers={**ACCOUNT, "Authorization": basic}, json={})
    assert passed.status_code == status, passed.text


def test_seeded_credentials_are_the_only_ones_accepted(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(
        http,
        {
            "credentials": [
                {
                    "account_key": "firstbank",
                    "token_key": "token-key",
                    "token_secret": "token-secret",
                }
            ]
        },
    )
    body = {"name": "a.csv", "type": "text/csv", "size": 10}
    for headers, auth in [
        ({"X-Account-Key": "secondbank"}, TOKEN),
        (ACCOUNT, ("token-key", "wrong")),
    ]:
        response = http.post(UPLOADS, json=body, headers=headers, auth=auth)
        assert (response.status_code, response.json()) == (
            401,
            error(401, "Unauthorized", BAD_TOKEN),
        )
    assert api.post(UPLOADS, json=body).status_code == 201


def test_the_bucket_takes_no_api_credentials_only_the_signed_form(
    api: httpx.Client, http: httpx.Client
) -> None:
    upload = create_upload(api)
    response = post_form(http, upload["attributes"]["request-url"], form_parts(upload, CSV))
    assert response.status_code == 204


# -- POST /api/v1/uploads -----------------------------------------------------------------------
def test_upload_answers_a_presigned_s3_post_form(
    sandbox: EmbeddedSandbox, api: httpx.Client
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = api.post(UPLOADS, json={"name": "import-5.csv", "type": "text/csv", "size": 37482})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    assert data["type"] == "uploads"
    assert re.fullmatch(r"[2-9A-HJ-NP-Za-km-z]{22}", data["id"])
    attributes = data["attributes"]
    form = attributes.pop("request-form-data")
    expires = parsedate_to_datetime(attributes.pop("expires-at"))
    assert (
        before + timedelta(seconds=3600) <= expires <= datetime.now(UTC) + timedelta(seconds=3600)
    )
    assert attributes == {
        "max-length-in-bytes": 5368724480,
        "request-url": f"{sandbox.base_url}/omnigage/s3/",
        "request-method": "post",
        "request-headers": [{"x-amz-server-side-encryption": "AES256"}],
    }
    assert [next(iter(item)) for item in form] == [
        "acl",
        "AWSAccessKeyId",
        "key",
        "policy",
        "signature",
    ]
    fields = {k: v for item in form for k, v in item.items()}
    prefix = re.fullmatch(r"(uploads/[0-9a-f]{32}/)\$\{filename\}", fields["key"])
    assert prefix is not None
    assert (fields["acl"], fields["AWSAccessKeyId"]) == ("private", "AKIASANDBOXOMNIGAGE0")
    assert json.loads(base64.b64decode(fields["policy"])) == {
        "expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [
            {"acl": "private"},
            {"bucket": "omnigage-sandbox-upload"},
            ["starts-with", "$key", prefix.group(1)],
            ["starts-with", "$Content-Type", ""],
            ["content-length-range", 0, 5368724480],
        ],
    }
    expected = hmac.new(b"sandbox-omnigage-upload-secret", fields["policy"].encode(), hashlib.sha1)
    assert fields["signature"] == base64.b64encode(expected.digest()).decode()


def test_upload_accepts_json_api_and_every_import_file_type(api: httpx.Client) -> None:
    for kind in ("text/csv", "application/vnd.ms-excel", XLSX):
        body = {"data": {"type": "uploads", "attributes": {"name": "f", "type": kind, "size": 1}}}
        response = api.post(
            UPLOADS, json=body, headers={"Content-Type": "application/vnd.api+json"}
        )
        assert response.status_code == 201, response.text


SIZE_POINTER = "/data/attributes/size"


@pytest.mark.parametrize(
    ("body", "detail", "pointer"),
    [
        (
            {"type": "text/csv", "size": 1},
            "name is required: the file's name.",
            "/data/attributes/name",
        ),
        (
            {"name": " ", "type": "text/csv", "size": 1},
            "name is required: the file's name.",
            "/data/attributes/name",
        ),
        (
            {"name": "a.wav", "type": "audio/x-wav", "size": 1},
            f"type must be one of application/vnd.ms-excel, {XLSX}, text/csv; got 'audio/x-wav'.",
            "/data/attributes/type",
        ),
        (
            {"name": "a", "type": "text/csv", "size": 0},
            "size must be a positive integer (bytes); got 0.",
            SIZE_POINTER,
        ),
        (
            {"name": "a", "type": "text/csv", "size": -5},
            "size must be a positive integer (bytes); got -5.",
            SIZE_POINTER,
        ),
        (
            {"name": "a", "type": "text/csv", "size": "12"},
            "size must be a positive integer (bytes); got '12'.",
            SIZE_POINTER,
        ),
        (
            {"name": "a", "type": "text/csv"},
            "size must be a positive integer (bytes); got None.",
            SIZE_POINTER,
        ),
        (
            {"name": "a", "type": "text/csv", "size": 5368724481},
            "size 5368724481 exceeds max-length-in-bytes 5368724480.",
            SIZE_POINTER,
        ),
    ],
)
def test_upload_validation(
    api: httpx.Client, body: dict[str, Any], detail: str, pointer: str
) -> None:
    response = api.post(UPLOADS, json=body)
    assert response.status_code == 422
    assert response.json() == error(422, "Invalid Attribute", detail, pointer)


def test_upload_body_must_be_json(api: httpx.Client) -> None:
    bad_json = api.post(
        UPLOADS, content=b"{'name': 'a'}", headers={"Content-Type": "application/json"}
    )
    assert (bad_json.status_code, bad_json.json()) == (
        400,
        error(400, "Bad Request", "The request body is not valid JSON."),
    )
    text = api.post(UPLOADS, content=b"{}", headers={"Content-Type": "text/plain"})
    assert (text.status_code, text.json()) == (
        415,
        error(
            415,
            "Unsupported Media Type",
            "Send the body as application/vnd.api+json or application/json.",
        ),
    )
    array = api.post(UPLOADS, json=[])
    assert (array.status_code, array.json()) == (
        400,
        error(400, "Bad Request", "The request body must be a JSON object.", "/data"),
    )


def test_seeded_max_length_bounds_the_size_and_the_policy(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"settings": {"max-length-in-bytes": 100}})
    assert api.post(UPLOADS, json={"name": "a", "type": "text/csv", "size": 101}).json() == error(
        422, "Invalid Attribute", "size 101 exceeds max-length-in-bytes 100.", SIZE_POINTER
    )
    upload = create_upload(api, size=100)
    assert upload["attributes"]["max-length-in-bytes"] == 100
    assert decoded_policy(upload)["conditions"][-1] == ["content-length-range", 0, 100]


# -- the S3 bucket --------------------------------------------------------------------------------
def test_posting_the_form_stores_the_file_as_s3_does(
    sandbox: EmbeddedSandbox, api: httpx.Client
) -> None:
    upload = create_upload(api)
    attributes = upload["attributes"]
    response = post_form(
        api,
        attributes["request-url"],
        form_parts(upload, CSV, "my list.csv"),
        attributes["request-headers"][0],
    )
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    key = decoded_policy(upload)["conditions"][2][2] + "my list.csv"
    assert response.headers["ETag"] == f'"{hashlib.md5(CSV).hexdigest()}"'
    assert response.headers["Location"] == f"{sandbox.base_url}/omnigage/s3/" + key.replace(
        "/", "%2F"
    ).replace(" ", "%20")
    assert response.headers["x-amz-server-side-encryption"] == "AES256"
    job = start_import(api, import_body(upload["id"]))
    assert job["attributes"]["header"] == ["Email Address", "First Name", "Last Name"]


def test_success_action_status_must_be_allowed_by_the_policy(
    http: httpx.Client, api: httpx.Client
) -> None:
    upload = create_upload(api)
    url = upload["attributes"]["request-url"]
    parts = form_parts(upload, CSV)
    refused = post_form(http, url, [("success_action_status", "201"), *parts])
    assert (refused.status_code, s3_error(refused)) == (
        403,
        {
            "Code": "AccessDenied",
            "Message": "Invalid according to Policy: Extra input fields: success_action_status",
        },
    )


@pytest.mark.parametrize("status", ["200", "201"])
def test_success_action_status_answers_200_or_201_when_the_policy_allows_it(
    sandbox: EmbeddedSandbox, http: httpx.Client, status: str
) -> None:
    seed(http, {"s3": S3_SEED})
    expiration = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    policy, signature = signed_policy(
        {
            "expiration": expiration,
            "conditions": [
                {"bucket": "bkt"},
                ["starts-with", "$key", "uploads/own/"],
                ["eq", "$success_action_status", status],
            ],
        }
    )
    parts: list[tuple[str, str | tuple[str, bytes]]] = [
        ("key", "uploads/own/${filename}"),
        ("AWSAccessKeyId", "AKIATESTONLY"),
        ("policy", policy),
        ("signature", signature),
        ("success_action_status", status),
        ("file", ("f.csv", b"x")),
    ]
    response = post_form(http, f"{sandbox.base_url}/omnigage/s3/", parts)
    assert response.status_code == int(status)
    if status == "200":
        assert response.content == b""
        return
    location = f"{sandbox.base_url}/omnigage/s3/uploads%2Fown%2Ff.csv"
    etag = f'"{hashlib.md5(b"x").hexdigest()}"'
    root = ET.fromstring(response.text)
    assert root.tag == "PostResponse"
    assert {child.tag: child.text for child in root} == {
        "Location": location,
        "Bucket": "bkt",
        "Key": "uploads/own/f.csv",
        "ETag": etag,
    }


def test_a_tampered_signature_does_not_match(api: httpx.Client) -> None:
    upload = create_upload(api)
    parts = form_parts(upload, CSV, replace={"signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    response = post_form(api, upload["attributes"]["request-url"], parts)
    assert response.status_code == 403
    found = s3_error(response)
    assert (found["Code"], found["Message"], found["SignatureProvided"]) == (
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method.",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    assert_upload_incomplete(api, upload["id"])


def test_a_policy_edited_after_signing_does_not_match(api: httpx.Client) -> None:
    upload = create_upload(api)
    document = decoded_policy(upload)
    document["conditions"][-1] = ["content-length-range", 0, 10**12]
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    response = post_form(
        api,
        upload["attributes"]["request-url"],
        form_parts(upload, CSV, replace={"policy": policy}),
    )
    assert (response.status_code, s3_error(response)["Code"]) == (403, "SignatureDoesNotMatch")


def test_an_unknown_access_key_is_refused(api: httpx.Client) -> None:
    upload = create_upload(api)
    parts = form_parts(upload, CSV, replace={"AWSAccessKeyId": "AKIAUNKNOWN"})
    response = post_form(api, upload["attributes"]["request-url"], parts)
    assert (response.status_code, s3_error(response)) == (
        403,
        {
            "Code": "InvalidAccessKeyId",
            "Message": "The AWS Access Key Id you provided does not exist in our records.",
            "AWSAccessKeyId": "AKIAUNKNOWN",
        },
    )


def test_an_expired_policy_is_refused(
    sandbox: EmbeddedSandbox, http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"s3": S3_SEED})
    upload = create_upload(api)
    document = decoded_policy(upload)
    document["expiration"] = (datetime.now(UTC) - timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    policy, signature = signed_policy(document)
    parts = form_parts(upload, CSV, replace={"policy": policy, "signature": signature})
    response = post_form(http, upload["attributes"]["request-url"], parts)
    assert (response.status_code, s3_error(response)) == (
        403,
        {"Code": "AccessDenied", "Message": "Invalid according to Policy: Policy expired."},
    )
    assert_upload_incomplete(api, upload["id"])


def test_a_key_outside_the_upload_prefix_fails_the_policy(api: httpx.Client) -> None:
    upload = create_upload(api)
    prefix = decoded_policy(upload)["conditions"][2][2]
    parts = form_parts(upload, CSV, replace={"key": "uploads/elsewhere/${filename}"})
    response = post_form(api, upload["attributes"]["request-url"], parts)
    assert (response.status_code, s3_error(response)) == (
        403,
        {
            "Code": "AccessDenied",
            "Message": "Invalid according to Policy: Policy Condition failed:"
            f' ["starts-with", "$key", "{prefix}"]',
        },
    )
    assert_upload_incomplete(api, upload["id"])


def test_a_file_over_the_content_length_range_is_too_large(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"settings": {"max-length-in-bytes": 10}})
    upload = create_upload(api, size=10)
    response = post_form(api, upload["attributes"]["request-url"], form_parts(upload, b"x" * 11))
    assert (response.status_code, s3_error(response)) == (
        400,
        {
            "Code": "EntityTooLarge",
            "Message": "Your proposed upload exceeds the maximum allowed size",
            "ProposedSize": "11",
            "MaxSizeAllowed": "10",
        },
    )
    assert_upload_incomplete(api, upload["id"])
    exact = post_form(api, upload["attributes"]["request-url"], form_parts(upload, b"x" * 10))
    assert exact.status_code == 204


@pytest.mark.parametrize(
    ("edit", "status", "expected"),
    [
        pytest.param(
            {"content_type": None},
            403,
            {
                "Code": "AccessDenied",
                "Message": 'Invalid according to Policy: Policy Condition failed: ["starts-with",'
                ' "$Content-Type", ""]',
            },
            id="no Content-Type field (the SDK adds it: the policy requires it)",
        ),
        pytest.param(
            {"after_file": (("Content-Type", "text/csv"),), "content_type": None},
            403,
            {
                "Code": "AccessDenied",
                "Message": 'Invalid according to Policy: Policy Condition failed: ["starts-with",'
                ' "$Content-Type", ""]',
            },
            id="fields after the file are ignored",
        ),
        pytest.param(
            {"replace": {"acl": "public-read"}},
            403,
            {
                "Code": "AccessDenied",
                "Message": 'Invalid according to Policy: Policy Condition failed: ["eq", "$acl",'
                ' "private"]',
            },
            id="acl other than the policy's",
        ),
        pytest.param(
            {"drop": ("key",)},
            400,
            {
                "Code": "InvalidArgument",
                "Message": "Bucket POST must contain a field named 'key'.  If it is specified,"
                " please check the order of the fields.",
                "ArgumentName": "key",
                "ArgumentValue": "",
            },
            id="no key",
        ),
        pytest.param(
            {"drop": ("policy",)},
            403,
            {"Code": "AccessDenied", "Message": "Access Denied"},
            id="anonymous post to a private bucket",
        ),
        pytest.param(
            {"drop": ("signature",)},
            400,
            {
                "Code": "InvalidArgument",
                "Message": "Bucket POST must contain a field named 'signature'.  If it is"
                " specified, please check the order of the fields.",
                "ArgumentName": "signature",
                "ArgumentValue": "",
            },
            id="no signature",
        ),
    ],
)
def test_form_validation(
    api: httpx.Client, edit: dict[str, Any], status: int, expected: dict[str, str]
) -> None:
    upload = create_upload(api)
    response = post_form(api, upload["attributes"]["request-url"], form_parts(upload, CSV, **edit))
    assert (response.status_code, s3_error(response)) == (status, expected)
    assert_upload_incomplete(api, upload["id"])


def test_extra_fields_and_missing_file_and_plain_posts_are_refused(api: httpx.Client) -> None:
    upload = create_upload(api)
    url = upload["attributes"]["request-url"]
    parts = form_parts(upload, CSV)
    extra = post_form(api, url, [("x-amz-meta-owner", "me"), ("x-ignore-me", "1"), *parts])
    assert (extra.status_code, s3_error(extra)["Message"]) == (
        403,
        "Invalid according to Policy: Extra input fields: x-amz-meta-owner",
    )
    no_file = post_form(api, url, parts[:-1])
    assert (no_file.status_code, s3_error(no_file)) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "POST requires exactly one file upload per request.",
            "ArgumentName": "file",
            "ArgumentValue": "0",
        },
    )
    plain = api.post(url, data={"key": "k"})
    assert (plain.status_code, s3_error(plain)) == (
        412,
        {
            "Code": "PreconditionFailed",
            "Message": "At least one of the pre-conditions you specified did not hold",
            "Condition": "Bucket POST must be of the enclosure-type multipart/form-data",
        },
    )
    bad_sse = post_form(api, url, parts, {"x-amz-server-side-encryption": "DES"})
    assert (bad_sse.status_code, s3_error(bad_sse)["Code"]) == (400, "InvalidArgument")
    assert_upload_incomplete(api, upload["id"])


def assert_upload_incomplete(api: httpx.Client, upload_id: str) -> None:
    response = api.post(IMPORTS, json=import_body(upload_id))
    assert (response.status_code, response.json()) == (422, NO_FILE(upload_id))


def NO_FILE(upload_id: str) -> dict[str, Any]:
    return error(
        422,
        "Invalid Relationship",
        f"Upload {upload_id} has no file: POST the file to the upload's request-url with its"
        " request-form-data first.",
        "/data/relationships/upload",
    )


# -- POST /api/v1/import-contacts: refusals -----------------------------------------------------
def test_import_refused_for_an_unknown_or_unfinished_upload(api: httpx.Client) -> None:
    unknown = api.post(IMPORTS, json=import_body("NoSuchUpload"))
    assert (unknown.status_code, unknown.json()) == (
        422,
        error(
            422,
            "Invalid Relationship",
            "Upload NoSuchUpload does not exist.",
            "/data/relationships/upload/data/id",
        ),
    )
    upload = create_upload(api)
    assert_upload_incomplete(api, upload["id"])


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    node[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "status", "title", "detail", "pointer"),
    [
        (
            "data.type",
            "imports",
            422,
            "Invalid Type",
            "data.type must be 'import-contacts'; got 'imports'.",
            "/data/type",
        ),
        (
            "data.relationships.upload.data.type",
            "files",
            422,
            "Invalid Relationship",
            "relationships.upload.data.type must be 'uploads'; got 'files'.",
            "/data/relationships/upload/data/type",
        ),
        (
            "data.relationships.upload",
            None,
            422,
            "Invalid Relationship",
            "relationships.upload is required: the upload holding the file.",
            "/data/relationships/upload",
        ),
        (
            "data.relationships.list",
            {"data": {"type": "lists", "id": "NoSuchList"}},
            422,
            "Invalid Relationship",
            "List NoSuchList does not exist.",
            "/data/relationships/list/data/id",
        ),
        (
            "data.relationships.list",
            {"data": {"type": "segments", "id": "L1"}},
            422,
            "Invalid Relationship",
            "relationships.list.data.type must be 'lists'; got 'segments'.",
            "/data/relationships/list/data/type",
        ),
        (
            "data.attributes.status",
            "completed",
            422,
            "Invalid Attribute",
            "status must be 'queued' when creating an import; got 'completed'.",
            "/data/attributes/status",
        ),
        (
            "data.attributes.unique-primary-email",
            "yes",
            422,
            "Invalid Attribute",
            "unique-primary-email must be true or false; got 'yes'.",
            "/data/attributes/unique-primary-email",
        ),
        (
            "data.attributes.mapping",
            ["email1-email-address", "nickname", None],
            422,
            "Invalid Attribute",
            "mapping[1] 'nickname' is not an Omnigage contact field (first-name, last-name,"
            " company, phone1-phone-number, email1-email-address, email2-email-address,"
            " phone2-phone-number).",
            "/data/attributes/mapping/1",
        ),
        (
            "data.attributes.mapping",
            ["email1-email-address", "first-name", "first-name"],
            422,
            "Invalid Attribute",
            "mapping[2] maps a second column to 'first-name'.",
            "/data/attributes/mapping/2",
        ),
        (
            "data.attributes.mapping",
            ["email1-email-address", "first-name"],
            422,
            "Invalid Attribute",
            "mapping has 2 entries; the file's header has 3 columns.",
            "/data/attributes/mapping",
        ),
        (
            "data",
            [],
            400,
            "Bad Request",
            "The request body must be a JSON:API document with data.",
            "/data",
        ),
    ],
)
def test_import_validation(
    http: httpx.Client,
    api: httpx.Client,
    path: str,
    value: Any,
    status: int,
    title: str,
    detail: str,
    pointer: str,
) -> None:
    seed(http, {"lists": {"L1": {"name": "News"}}})
    upload_id = upload_file(api)
    body = _with(import_body(upload_id, "L1"), path, value)
    if value is None:
        del body["data"]["relationships"]["upload"]
    response = api.post(IMPORTS, json=body)
    assert (response.status_code, response.json()) == (
        status,
        error(status, title, detail, pointer),
    )
    assert state(http)["lists"] == {"L1": []}


def test_import_refuses_a_file_that_is_not_csv(api: httpx.Client) -> None:
    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe binary"
    upload_id = upload_file(api, workbook, name="book.xlsx", kind=XLSX)
    response = api.post(IMPORTS, json=import_body(upload_id))
    assert (response.status_code, response.json()) == (
        422,
        error(
            422,
            "Invalid Upload",
            f"Upload {upload_id} cannot be imported: the file is not UTF-8 CSV text (the sandbox"
            " reads CSV files only).",
            "/data/relationships/upload",
        ),
    )
    empty_id = upload_file(api, b"\n\n")
    assert api.post(IMPORTS, json=import_body(empty_id)).json()["errors"][0]["detail"] == (
        f"Upload {empty_id} cannot be imported: the file is empty: it has no header row."
    )


def test_unknown_import_is_404(api: httpx.Client) -> None:
    response = api.get(f"{IMPORTS}/NoSuchImport")
    assert (response.status_code, response.json()) == (
        404,
        error(404, "Not Found", "Import contact NoSuchImport does not exist."),
    )


# -- the import's response and lifecycle --------------------------------------------------------
def test_created_import_echoes_header_mapping_sample_and_zero_counts(
    sandbox: EmbeddedSandbox, http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"lists": {"L1": {"name": "News"}}})
    content = (
        b"First Name,Last Name,Company,Phone Number,Email Address\n"
        b"Sam,Vic,Acme,14075550100,sam@example.com\n"
    )
    upload_id = upload_file(api, content)
    response = api.post(
        IMPORTS, json=import_body(upload_id, "L1", **{"unique-primary-phone": True})
    )
    assert response.status_code == 201
    data = response.json()["data"]
    attributes = data["attributes"]
    assert attributes.pop("created-at") == attributes.pop("updated-at")
    assert attributes == {
        "status": "queued",
        "unique-primary-email": False,
        "unique-primary-phone": True,
        "update-pruning": False,
        "enable-preflights": False,
        "header": ["First Name", "Last Name", "Company", "Phone Number", "Email Address"],
        "mapping": [
            "first-name",
            "last-name",
            "company",
            "phone1-phone-number",
            "email1-email-address",
        ],
        "sample": ["Sam", "Vic", "Acme", "14075550100", "sam@example.com"],
        "count-created": 0,
        "count-updated": 0,
        "count-erred": 0,
        "count-total": 0,
        "count-resolved": 0,
        "count-skipped": 0,
    }
    relationships = data["relationships"]
    membership = relationships.pop("created-by")
    assert relationships.pop("updated-by") == membership
    assert membership["data"]["type"] == "memberships"
    assert relationships.pop("original-file")["data"]["type"] == "files"
    assert relationships == {
        "list": {"data": {"type": "lists", "id": "L1"}},
        "results": {"links": {"related": f"{sandbox.base_url}{IMPORTS}/{data['id']}/results"}},
        "errors-file": {"data": None},
    }
    without_list = start_import(api, import_body(upload_id))
    assert without_list["relationships"]["list"] == {"data": None}


def test_mapping_is_guessed_from_the_header(api: httpx.Client) -> None:
    header = (
        b"E-mail,FIRST,surname,Organization,Mobile,Email 2,Phone 2,Notes,email\n"
        b"x@example.com,,,,,,,,\n"
    )
    job = start_import(api, import_body(upload_file(api, header)))
    assert job["attributes"]["mapping"] == [
        "email1-email-address",
        "first-name",
        "last-name",
        "company",
        "phone1-phone-number",
        "email2-email-address",
        "phone2-phone-number",
        None,
        None,
    ]


def test_an_explicit_mapping_replaces_the_guess(http: httpx.Client, api: httpx.Client) -> None:
    seed(http, {"lists": {"L1": {}}})
    content = b"a,b,c\nann@example.com,Ann,ignored\n"
    mapping = ["email1-email-address", "first-name", None]
    final = run_import(api, content, "L1", mapping=mapping)
    assert (final["mapping"], counts(final)["created"]) == (mapping, 1)
    assert state(http)["lists"]["L1"] == [contact("ann@example.com", first_name="Ann")]


@pytest.mark.parametrize(
    ("polls_per_step", "expected"),
    [(1, ["processing", "completed"]), (2, ["queued", "processing", "processing", "completed"])],
)
def test_statuses_seen_when_polling(
    sandbox: EmbeddedSandbox,
    http: httpx.Client,
    api: httpx.Client,
    polls_per_step: int,
    expected: list[str],
) -> None:
    seed(http, {"lists": {"L1": {}}})
    sandbox.app.settings.polls_per_step = polls_per_step
    job = start_import(api, import_body(upload_file(api), "L1"))
    seen: list[str] = []
    while not seen or seen[-1] not in ("completed", "failed"):
        attributes = api.get(f"{IMPORTS}/{job['id']}").json()["data"]["attributes"]
        seen.append(attributes["status"])
        if attributes["status"] != "completed":
            assert state(http)["lists"]["L1"] == [], "effects apply on completion only"
            assert counts(attributes)["total"] == (2 if attributes["status"] == "processing" else 0)
    assert seen == expected
    assert counts(api.get(f"{IMPORTS}/{job['id']}").json()["data"]["attributes"])["created"] == 2
    assert len(state(http)["lists"]["L1"]) == 2


# -- counts and membership ------------------------------------------------------------------------
ROWS = (
    b"Email Address,First Name,Last Name,Company\n"
    b"old@example.com,Olga,,\n"  # existing: updated, empty cells keep the old values
    b"NEW@Example.com ,Ned,New,Acme\n"  # created, address trimmed and lower-cased
    b"not-an-address,Bad,,\n"  # erred
    b",Nobody,,\n"  # erred: no address
    b"new@example.com,Dup,,\n"  # skipped: repeats a row above
    b"\n"  # blank line: not a row
    b"gone@example.com,Gail\n"  # short row: missing cells are empty
)


def test_unique_primary_email_updates_matches_and_creates_the_rest(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(
        http,
        {
            "lists": {
                "L1": {
                    "name": "News",
                    "contacts": [
                        {
                            "email": "old@example.com",
                            "fields": {"first-name": "Old", "last-name": "Owens"},
                        }
                    ],
                },
                "L2": {"name": "Other", "contacts": [{"email": "other@example.com"}]},
            },
            "contacts": [
                {
                    "email": "gone@example.com",
                    "status": "unsubscribed",
                    "fields": {"company": "Gco"},
                },
                {"email": "solo@example.com", "status": "bounced"},
            ],
        },
    )
    final = run_import(api, ROWS, "L1", **{"unique-primary-email": True})
    assert final["status"] == "completed"
    assert counts(final) == {
        "created": 1,
        "updated": 2,
        "erred": 2,
        "total": 6,
        "resolved": 0,
        "skipped": 1,
    }
    old = contact("old@example.com", first_name="Olga", last_name="Owens")
    new = contact("new@example.com", first_name="Ned", last_name="New", company="Acme")
    gone = contact("gone@example.com", "unsubscribed", company="Gco", first_name="Gail")
    other = contact("other@example.com")
    assert state(http) == {
        "lists": {"L1": [gone, new, old], "L2": [other]},
        "list_names": {"L1": "News", "L2": "Other"},
        "unlisted": [contact("solo@example.com", "bounced")],
    }


def test_without_unique_primary_email_a_known_address_becomes_a_second_contact(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(
        http,
        {
            "lists": {
                "L1": {"contacts": [{"email": "old@example.com", "fields": {"first-name": "Old"}}]}
            }
        },
    )
    final = run_import(api, b"Email,First Name\nold@example.com,Olga\nann@example.com,Ann\n", "L1")
    assert counts(final) == {
        "created": 2,
        "updated": 0,
        "erred": 0,
        "total": 2,
        "resolved": 0,
        "skipped": 0,
    }
    assert state(http)["lists"]["L1"] == [
        contact("ann@example.com", first_name="Ann"),
        contact("old@example.com", first_name="Old"),
        contact("old@example.com", first_name="Olga"),
    ]
    again = run_import(
        api, b"Email,First Name\nold@example.com,Oona\n", "L1", **{"unique-primary-email": True}
    )
    assert counts(again)["updated"] == 1
    assert [c["fields"] for c in state(http)["lists"]["L1"][1:]] == [
        {"first-name": "Oona"},
        {"first-name": "Olga"},
    ], "the oldest contact holding the address is the one updated"


def test_update_pruning_clears_fields_left_empty(http: httpx.Client, api: httpx.Client) -> None:
    seed(
        http,
        {
            "lists": {
                "L1": {
                    "contacts": [
                        {
                            "email": "old@example.com",
                            "fields": {
                                "first-name": "Old",
                                "last-name": "Owens",
                                "company": "Keep",
                            },
                        }
                    ]
                }
            }
        },
    )
    final = run_import(
        api,
        b"Email,First Name,Last Name\nold@example.com,Olga,\n",
        "L1",
        **{"unique-primary-email": True, "update-pruning": True},
    )
    assert counts(final)["updated"] == 1
    assert state(http)["lists"]["L1"] == [
        contact("old@example.com", first_name="Olga", company="Keep")
    ]


def test_an_import_without_a_list_only_touches_contacts(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"lists": {"L1": {"contacts": [{"email": "old@example.com"}]}}})
    final = run_import(
        api,
        b"Email,First Name\nold@example.com,Olga\nann@example.com,Ann\n",
        **{"unique-primary-email": True},
    )
    assert counts(final) == {
        "created": 1,
        "updated": 1,
        "erred": 0,
        "total": 2,
        "resolved": 0,
        "skipped": 0,
    }
    dumped = state(http)
    assert dumped["lists"] == {"L1": [contact("old@example.com", first_name="Olga")]}
    assert dumped["unlisted"] == [contact("ann@example.com", first_name="Ann")]


def test_a_failing_job_applies_the_first_half_and_ends_failed(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"lists": {"L1": {}}})
    content = b"Email\n" + b"".join(f"user{i}@example.com\n".encode() for i in range(5)) + b"bad\n"
    upload_id = upload_file(api, content)
    fault = {"path": "", "kind": "fail_job", "vendor": "omnigage", "count": 1}
    http.post("/_sandbox/faults", json=fault).raise_for_status()
    job = start_import(api, import_body(upload_id, "L1"))
    seen, final = poll(api, job["id"])
    assert seen == ["processing", "failed"]
    assert counts(final) == {
        "created": 3,
        "updated": 0,
        "erred": 0,
        "total": 6,
        "resolved": 0,
        "skipped": 0,
    }
    assert state(http)["lists"]["L1"] == [contact(f"user{i}@example.com") for i in range(3)]
    assert poll(api, job["id"])[0] == ["failed"], "a failed import stays failed"
    rerun = poll(
        api, start_import(api, import_body(upload_id, "L1", **{"unique-primary-email": True}))["id"]
    )[1]
    assert counts(rerun) == {
        "created": 2,
        "updated": 3,
        "erred": 1,
        "total": 6,
        "resolved": 0,
        "skipped": 0,
    }
    assert state(http)["lists"]["L1"] == [contact(f"user{i}@example.com") for i in range(5)]


# -- seed -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"lists": {"L1": {"contacts": [{"email": "a@example.com", "status": "gone"}]}}},
            "omnigage.lists.L1.contacts[0]: status must be one of active, bounced, complaint,"
            " unsubscribed",
        ),
        (
            {"contacts": [{"email": "a@example.com", "fields": {"nickname": "A"}}]},
            "omnigage.contacts[0]: fields map Omnigage field names (first-name, last-name,"
            " company, phone1-phone-number, email2-email-address, phone2-phone-number) to text",
        ),
        (
            {
                "lists": {
                    "L1": {"contacts": [{"email": "a@example.com"}]},
                    "L2": {"contacts": [{"email": "A@example.com", "status": "bounced"}]},
                }
            },
            "omnigage.lists.L2.contacts[0]: a@example.com is seeded twice with different status"
            " or fields",
        ),
        (
            {"credentials": [{"account_key": "k", "token_key": "t"}]},
            "omnigage.credentials[0].token_secret: must be a non-empty string",
        ),
        (
            {"settings": {"max-length-in-bytes": 0}},
            "omnigage.settings.max-length-in-bytes: must be a positive integer",
        ),
        ({"users": []}, "omnigage: unknown seed keys ['users']"),
    ],
)
def test_a_malformed_seed_is_refused_with_its_location(
    sandbox: EmbeddedSandbox, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(SeedError) as caught:
        sandbox.app.seed({"omnigage": data})
    assert str(caught.value) == message


def test_a_signed_but_malformed_policy_is_an_invalid_policy_document(
    http: httpx.Client, api: httpx.Client
) -> None:
    seed(http, {"s3": S3_SEED})
    upload = create_upload(api)
    url = upload["attributes"]["request-url"]
    not_json = base64.b64encode(b"{expiration").decode()
    no_expiry, _ = signed_policy({"conditions": []})
    for policy, message in [
        (not_json, "Invalid Policy: Invalid JSON."),
        (no_expiry, "Invalid Policy: Policy missing expiration."),
    ]:
        signature = base64.b64encode(
            hmac.new(b"test-secret", policy.encode(), hashlib.sha1).digest()
        ).decode()
        replace = {"AWSAccessKeyId": "AKIATESTONLY", "policy": policy, "signature": signature}
        response = post_form(http, url, form_parts(upload, CSV, replace=replace))
        assert (response.status_code, s3_error(response)) == (
            400,
            {"Code": "InvalidPolicyDocument", "Message": message},
        )
