"""Every request the Omnigage provider sends is one Omnigage's document allows, or one the
spec names as beyond it.

The document (``shared/vendor-docs/omnigage-import-contacts.txt``), the contract table in
``specs/vendors/omnigage.md`` (each row quoting the sentence that allows it) and the sandbox's
request log after the provider has added and updated contacts are compared.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.model import Action
from reconciler.providers.base import Batch, JobState
from reconciler.providers.omnigage import OmnigageProvider
from reconciler.sandbox.server import EmbeddedSandbox

ROOT = Path(__file__).resolve().parents[2]
DOCS = Path(os.environ.get("RECONCILER_VENDOR_DOCS", "/work/shared/vendor-docs"))
DOC = "omnigage-import-contacts.txt"
SPEC = ROOT / "specs" / "vendors" / "omnigage.md"
CREDS = Credentials(account_code="firstbank", api_key="token", password="secret")  # type: ignore[arg-type]
LC = ListConfig(provider="om", list_id="L1", managed_fields=["first-name"])
#: One quotation in a contract cell: ``file.txt: "exact words"``, ended by ``<br>``, the cell,
#: or a parenthesis that comments on it.
QUOTE = re.compile(r'([\w.-]+\.txt): "(.+?)"(?=<br>|\s*$|\s+\()')

pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason=f"no vendor documents at {DOCS}")


def flat(text: str) -> str:
    return " ".join(text.split())


def contract() -> list[list[str]]:
    """The rows of the spec's table "Provider: every request it sends"."""
    section = SPEC.read_text().split("## Provider: every request it sends", 1)[1]
    section = section.split("### Beyond the document", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    # No quotation holds a "|", so a row's cells are what lies between its pipes.
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows[2:]]


def test_every_quotation_of_the_contract_is_in_the_document() -> None:
    quotes = [q for row in contract() for q in QUOTE.findall(row[3])]
    assert len(quotes) >= 15, quotes
    text = flat((DOCS / DOC).read_text(encoding="utf-8"))
    assert {f for f, _ in quotes} == {DOC}
    assert [q for _, q in quotes if flat(q) not in text] == []


def test_every_row_of_the_contract_cites_the_document() -> None:
    assert [row for row in contract() if not QUOTE.search(row[3])] == []


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        running.app.seed(
            {
                "omnigage": {
                    "lists": {
                        "L1": {
                            "contacts": [{"email": "bo@example.com", "fields": {"first-name": "B"}}]
                        }
                    }
                }
            }
        )
        yield running


def run(provider: OmnigageProvider, batch: Batch) -> JobState:
    job = provider.submit(LC, batch)
    for _ in range(50):
        status = provider.poll(LC, job)
        if status.state is not JobState.PENDING:
            return status.state
    raise AssertionError("the import never ended")


def template(path: str) -> str:
    return re.sub(r"/import-contacts/\w+", "/import-contacts/{id}", path.removeprefix("/omnigage"))


def test_every_request_the_provider_sends_is_in_the_contract(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    config = ProviderConfig(type="omnigage", credentials=CREDS)
    provider = OmnigageProvider(
        "om", config, base_url=f"{sandbox.base_url}/omnigage", workdir=tmp_path
    )
    for action, text in (
        (Action.ADD, "Email Address,first-name\nann@example.com,Ann\n"),
        (Action.UPDATE, "Email Address,first-name\nbo@example.com,Bo\n"),
    ):
        path = tmp_path / f"{action.value}.csv"
        path.write_text(text)
        assert run(provider, Batch("leads", "L1", action, 1, path, 1, "0" * 64)) is (
            JobState.SUCCEEDED
        )
    log = sandbox.app.request_log()
    sent = [(r["method"], template(r["path"])) for r in log]
    uploads, s3, create, read = (
        ("POST", "/api/v1/uploads"),
        ("POST", "/s3/"),
        ("POST", "/api/v1/import-contacts"),
        ("GET", "/api/v1/import-contacts/{id}"),
    )
    # Per batch: upload, the pre-signed POST, the import, then reads until it ends.
    assert sent == [uploads, s3, create, read, read] * 2
    in_contract = {(row[0], row[1].split("`")[1]) for row in contract() if row[0]}
    assert {s for s in sent if s != s3} == in_contract - {("POST", "{request-url}")}
    assert ("POST", "{request-url}") in in_contract

    api = [r for r in log if r["path"].startswith("/omnigage/api/")]
    # Masked in the log, but sent on every API request (their values: the next test).
    assert all(r["headers"].get("X-Account-Key") == "***" for r in api)
    assert all(r["headers"].get("Authorization") == "***" for r in api)
    bodies = [json.loads(r["body"]) for r in log if (r["method"], template(r["path"])) == uploads]
    assert bodies == [
        {"name": "add.csv", "type": "text/csv", "size": 45},  # the file's bytes
        {"name": "update.csv", "type": "text/csv", "size": 43},
    ]
    imports = [json.loads(r["body"]) for r in log if (r["method"], template(r["path"])) == create]
    assert [
        {
            "attributes": body["data"]["attributes"],
            "type": body["data"]["type"],
            "relationships": sorted(body["data"]["relationships"]),
            "list": body["data"]["relationships"]["list"],
            "upload type": body["data"]["relationships"]["upload"]["data"]["type"],
        }
        for body in imports
    ] == [
        {
            "attributes": {
                "status": "queued",
                "unique-primary-email": True,
                "unique-primary-phone": False,
            },
            "type": "import-contacts",
            "relationships": ["list", "upload"],
            "list": {"data": {"type": "lists", "id": "L1"}},
            "upload type": "uploads",
        }
    ] * 2
    assert sandbox.app.state()["vendors"]["omnigage"]["lists"]["L1"] == [
        {"email": "ann@example.com", "status": "active", "fields": {"first-name": "Ann"}},
        {"email": "bo@example.com", "status": "active", "fields": {"first-name": "Bo"}},
    ]


def test_the_provider_authenticates_as_the_document_says(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """Seeded credentials: the sandbox accepts only the document's header and Basic token."""
    sandbox.app.seed(
        {
            "omnigage": {
                "credentials": [
                    {"account_key": "firstbank", "token_key": "token", "token_secret": "secret"}
                ]
            }
        }
    )
    config = ProviderConfig(type="omnigage", credentials=CREDS)
    provider = OmnigageProvider(
        "om", config, base_url=f"{sandbox.base_url}/omnigage", workdir=tmp_path
    )
    path = tmp_path / "add.csv"
    path.write_text("Email Address,first-name\ncy@example.com,Cy\n")
    assert run(provider, Batch("leads", "L1", Action.ADD, 1, path, 1, "0" * 64)) is (
        JobState.SUCCEEDED
    )
    assert {r["status"] for r in sandbox.app.request_log()} <= {200, 201, 204}


def test_the_omnigage_emulator_imports_nothing_of_the_product() -> None:
    for path in sorted((ROOT / "reconciler" / "sandbox").glob("omnigage*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[Any] = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.startswith("reconciler"):
                    assert name.startswith("reconciler.sandbox"), f"{path.name} imports {name}"


def fast_provider(sandbox: EmbeddedSandbox, tmp_path: Path) -> OmnigageProvider:
    """The provider on the sandbox, its retries without the backoff's pauses."""
    config = ProviderConfig(type="omnigage", credentials=CREDS)
    provider = OmnigageProvider(
        "om", config, base_url=f"{sandbox.base_url}/omnigage", workdir=tmp_path
    )
    provider.http._sleep = provider.storage._sleep = lambda seconds: None
    return provider


def test_the_upload_to_storage_is_retried_without_omnigages_credentials(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """Two 503s from the bucket, then one that stored the file but broke the answer (a 502
    after acting): the pre-signed POST is sent again each time, as rewriting the same object
    is harmless, and the import is created once."""
    faults = [
        {"path": "/omnigage/s3/", "kind": "status", "status": 503, "count": 2},
        {"path": "/omnigage/s3/", "kind": "status", "status": 502, "after": True},
    ]
    for fault in faults:
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=fault)
    provider = fast_provider(sandbox, tmp_path)
    path = tmp_path / "add.csv"
    path.write_text("Email Address,first-name\nstored.twice@example.com,Sam\n")
    assert run(provider, Batch("leads", "L1", Action.ADD, 1, path, 1, "0" * 64)) is (
        JobState.SUCCEEDED
    )
    log = sandbox.app.request_log()
    s3 = [r for r in log if r["path"].startswith("/omnigage/s3/")]
    assert [r["status"] for r in s3] == [503, 503, 204, 204]
    assert all("Authorization" not in r["headers"] for r in s3)
    assert all("X-Account-Key" not in r["headers"] for r in s3)
    created = [
        r for r in log if (r["method"], r["path"]) == ("POST", "/omnigage/api/v1/import-contacts")
    ]
    assert len(created) == 1
    contacts = sandbox.app.state()["vendors"]["omnigage"]["lists"]["L1"]
    assert [c["fields"] for c in contacts if c["email"] == "stored.twice@example.com"] == [
        {"first-name": "Sam"}
    ]


def test_a_failed_upload_creation_is_retried_and_creates_one_import(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """Two 502s from POST /uploads, the second after Omnigage created the upload: retried like
    a read (an upload imports nothing), never an ambiguous submission; one import."""
    faults = [
        {"path": "/omnigage/api/v1/uploads", "kind": "status", "status": 502},
        {"path": "/omnigage/api/v1/uploads", "kind": "status", "status": 502, "after": True},
    ]
    before = len(sandbox.app.request_log())
    for fault in faults:
        httpx.post(f"{sandbox.base_url}/_sandbox/faults", json=fault)
    provider = fast_provider(sandbox, tmp_path)
    path = tmp_path / "add.csv"
    path.write_text("Email Address,first-name\nuploaded.twice@example.com,Una\n")
    assert run(provider, Batch("leads", "L1", Action.ADD, 1, path, 1, "1" * 64)) is (
        JobState.SUCCEEDED
    )
    log = sandbox.app.request_log()[before:]
    uploads = [r["status"] for r in log if r["path"] == "/omnigage/api/v1/uploads"]
    # Logged with what the vendor did: refused once, then created (the client saw 502), then
    # created again by the retry; the import names the last upload only.
    assert uploads == [502, 201, 201]
    imports = [
        r["status"]
        for r in log
        if (r["method"], r["path"]) == ("POST", "/omnigage/api/v1/import-contacts")
    ]
    assert imports == [201]
