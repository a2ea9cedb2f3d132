"""The Ongage provider against the sandbox: the shared conformance suite plus specifics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import Provider
from reconciler.providers.ongage import OngageProvider
from reconciler.sandbox.server import EmbeddedSandbox
from tests.providers.conformance import Contacts, ProviderConformance

CREDS = Credentials(username="u", password="p", account_code="acme")  # type: ignore[arg-type]


def make(sandbox: EmbeddedSandbox, tmp_path: Path, **options: Any) -> OngageProvider:
    config = ProviderConfig(type="ongage", credentials=CREDS, options=options)
    return OngageProvider("og", config, base_url=f"{sandbox.base_url}/ongage", workdir=tmp_path)


class TestOngageConformance(ProviderConformance):
    vendor: ClassVar[str] = "ongage"
    # ongage-import-api.txt: import_action add, remove, unsubscribe, resubscribe, bounce,
    # complaint, and overwrite for field updates; ongage-export-api.txt reads a list.
    capabilities: ClassVar[frozenset[Action]] = frozenset(Action)
    reads_current: ClassVar[bool] = True
    list_id: ClassVar[str] = "1001"

    def make_provider(self, sandbox: EmbeddedSandbox, workdir: Path) -> Provider:
        return make(sandbox, workdir)

    def list_config(self) -> ListConfig:
        return ListConfig(provider="og", list_id=self.list_id, managed_fields=["first_name"])

    def seed(self, sandbox: EmbeddedSandbox, contacts: Contacts) -> None:
        sandbox.app.seed(
            {
                "ongage": {
                    "lists": {
                        self.list_id: {
                            "fields": ["first_name"],
                            "contacts": [{"email": e, **c} for e, c in contacts.items()],
                        }
                    }
                }
            }
        )


def test_batch_size_option_is_validated(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox, pytest.raises(ProviderError) as exc:
        make(sandbox, tmp_path, batch_size=0)
    assert (
        str(exc.value) == "ongage: option batch_size must be a whole number from 1 to "
        "5000000, got 0"
    )


def test_wrong_credentials_name_vendor_endpoint_and_message(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(
            {
                "ongage": {
                    "credentials": [{"username": "u", "password": "other", "account_code": "acme"}]
                }
            }
        )
        provider = make(sandbox, tmp_path)
        lc = ListConfig(provider="og", list_id="1001")
        with pytest.raises(ProviderError) as exc:
            provider.read_current("news", lc)
    assert str(exc.value) == (
        "ongage POST /1001/api/export: answered 403: Permission error: invalid credentials"
    )


def test_update_overwrites_fields_through_an_add_import(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        provider = make(sandbox, tmp_path)
        lc = ListConfig(provider="og", list_id="1001", managed_fields=["first_name"])
        fmt = provider.batch_format(lc, Action.UPDATE)
        assert (fmt.needs_url, fmt.delimiter, dict(fmt.field_columns), fmt.max_rows) == (
            True,
            ",",
            {"first_name": "first_name"},
            100_000,
        )
        assert sandbox.app.request_log() == []  # deciding the format asks the vendor nothing


def test_retries_an_injected_503_then_succeeds(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed({"ongage": {"lists": {"1001": {"fields": ["first_name"]}}}})
        provider = make(sandbox, tmp_path)
        provider.http._sleep = lambda _s: None  # no real waiting in tests
        httpx.post(
            f"{sandbox.base_url}/_sandbox/faults",
            json={"path": "/ongage/", "kind": "status", "status": 503, "count": 2},
        )
        lc = ListConfig(provider="og", list_id="1001", managed_fields=["first_name"])
        snapshot = provider.read_current("news", lc)
        assert snapshot.ref(0).kind == "vendor"
        statuses = [r["status"] for r in sandbox.app.request_log()][:3]
    assert statuses == [503, 503, 200]
