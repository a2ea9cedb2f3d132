"""The Omnigage provider against the sandbox: the shared conformance suite plus specifics."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import httpx

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.model import Action
from reconciler.providers.base import Provider
from reconciler.providers.omnigage import OmnigageProvider
from reconciler.sandbox.server import EmbeddedSandbox
from tests.providers.conformance import Contacts, ProviderConformance

CREDS = Credentials(account_code="firstbank", api_key="token", password="secret")  # type: ignore[arg-type]


def make(sandbox: EmbeddedSandbox, tmp_path: Path) -> OmnigageProvider:
    config = ProviderConfig(type="omnigage", credentials=CREDS)
    return OmnigageProvider("om", config, base_url=f"{sandbox.base_url}/omnigage", workdir=tmp_path)


class TestOmnigageConformance(ProviderConformance):
    vendor: ClassVar[str] = "omnigage"
    # omnigage-import-contacts.txt: an upload and an import create or update contacts, and
    # nothing documents removing, unsubscribing or reading a list.
    capabilities: ClassVar[frozenset[Action]] = frozenset({Action.ADD, Action.UPDATE})
    reads_current: ClassVar[bool] = False
    list_id: ClassVar[str] = "L1"
    field_name: ClassVar[str] = "first-name"

    def make_provider(self, sandbox: EmbeddedSandbox, workdir: Path) -> Provider:
        return make(sandbox, workdir)

    def list_config(self) -> ListConfig:
        return ListConfig(provider="om", list_id=self.list_id, managed_fields=["first-name"])

    def seed(self, sandbox: EmbeddedSandbox, contacts: Contacts) -> None:
        sandbox.app.seed(
            {
                "omnigage": {
                    "lists": {
                        self.list_id: {"contacts": [{"email": e, **c} for e, c in contacts.items()]}
                    }
                }
            }
        )


def test_import_is_refused_before_the_upload_completes(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        client = httpx.Client(
            base_url=f"{sandbox.base_url}/omnigage", headers={"X-Account-Key": "a"}, auth=("t", "s")
        )
        upload = client.post(
            "/api/v1/uploads", json={"name": "a.csv", "type": "text/csv", "size": 10}
        ).json()["data"]
        body = {
            "data": {
                "type": "import-contacts",
                "relationships": {"upload": {"data": {"type": "uploads", "id": upload["id"]}}},
            }
        }
        refused = client.post("/api/v1/import-contacts", json=body)
        assert refused.status_code == 422
        assert (
            "has no file: POST the file to the upload's request-url"
            in (refused.json()["errors"][0]["detail"])
        )
        form = {k: v for item in upload["attributes"]["request-form-data"] for k, v in item.items()}
        bad = httpx.post(
            upload["attributes"]["request-url"],
            data={**form, "signature": "x"},
            files={"file": ("a.csv", b"Email Address\na@example.com\n")},
        )
        assert bad.status_code == 403 and b"SignatureDoesNotMatch" in bad.content
        wrong_key = httpx.post(
            upload["attributes"]["request-url"],
            data={**form, "key": "elsewhere/a.csv"},
            files={"file": ("a.csv", b"Email Address\na@example.com\n")},
        )
        assert wrong_key.status_code == 403 and b"starts-with" in wrong_key.content
        good = httpx.post(
            upload["attributes"]["request-url"],
            data={**form, "Content-Type": "text/csv"},  # the policy requires the field
            files={"file": ("a.csv", b"Email Address\na@example.com\n")},
        )
        assert good.status_code == 204
        created = client.post("/api/v1/import-contacts", json=body)
        assert created.status_code == 201
        attrs = created.json()["data"]["attributes"]
        assert (attrs["status"], attrs["header"], attrs["mapping"], attrs["sample"]) == (
            "queued",
            ["Email Address"],
            ["email1-email-address"],
            ["a@example.com"],
        )
        assert httpx.post(f"{sandbox.base_url}/omnigage/api/v1/uploads", json={}).status_code == 401
