"""The listmonk provider against the sandbox: the shared conformance suite plus specifics."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.model import Action
from reconciler.providers.base import JobState, Provider
from reconciler.providers.listmonk import ListmonkProvider
from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.staging.http import HttpStager
from tests.providers.conformance import Contacts, ProviderConformance

CREDS = Credentials(username="api", password="token")  # type: ignore[arg-type]


def make(sandbox: EmbeddedSandbox, tmp_path: Path) -> ListmonkProvider:
    config = ProviderConfig(type="listmonk", credentials=CREDS)
    return ListmonkProvider("lm", config, base_url=f"{sandbox.base_url}/listmonk", workdir=tmp_path)


class TestListmonkConformance(ProviderConformance):
    vendor: ClassVar[str] = "listmonk"
    # listmonk-import-api.txt: the import (mode subscribe for adds and updates; mode blocklist
    # for bounces and complaints). Beyond that document, from listmonk's own API
    # (specs/vendors/listmonk.md): PUT /api/subscribers/lists (remove, unsubscribe, add with a
    # status) and GET /api/subscribers to read a list.
    capabilities: ClassVar[frozenset[Action]] = frozenset(Action)
    reads_current: ClassVar[bool] = True
    list_id: ClassVar[str] = "3"

    def make_provider(self, sandbox: EmbeddedSandbox, workdir: Path) -> Provider:
        return make(sandbox, workdir)

    def list_config(self) -> ListConfig:
        return ListConfig(provider="lm", list_id=self.list_id, managed_fields=["first_name"])

    @pytest.mark.parametrize(
        ("action", "expected"),
        [
            (Action.REMOVE, None),
            (Action.UNSUBSCRIBE, "unsubscribed"),
            # A blocklist import keeps no bounce record: listmonk shows a blocklisted
            # subscriber, unsubscribed from every list, for a bounce and a complaint alike.
            (Action.BOUNCE, "unsubscribed"),
            (Action.COMPLAINT, "unsubscribed"),
        ],
    )
    def test_suppression_actions(
        self,
        provider: Provider,
        sandbox: EmbeddedSandbox,
        stager: HttpStager,
        tmp_path: Path,
        action: Action,
        expected: str | None,
    ) -> None:
        super().test_suppression_actions(provider, sandbox, stager, tmp_path, action, expected)

    def seed(self, sandbox: EmbeddedSandbox, contacts: Contacts) -> None:
        sandbox.app.seed(
            {
                "listmonk": {
                    "lists": {
                        self.list_id: {
                            "name": "news",
                            "contacts": [{"email": e, **c} for e, c in contacts.items()],
                        }
                    }
                }
            }
        )


def test_import_overwrite_never_changes_a_subscription_status(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox, HttpStager() as stager:
        suite = TestListmonkConformance()
        suite.seed(
            sandbox,
            {"ann@example.com": {"status": "unsubscribed", "fields": {"first_name": "Old"}}},
        )
        provider = make(sandbox, tmp_path)
        batch = suite.batch(provider, tmp_path, stager, Action.UPDATE, [("ann@example.com", "New")])
        _, status = suite.run_job(provider, batch)
        assert status.state is JobState.SUCCEEDED
        assert suite.vendor_list(sandbox)["ann@example.com"] == (
            "unsubscribed",
            {"name": "ann", "first_name": "New"},
        )


def test_a_running_import_blocks_the_next_with_listmonks_message(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed({"listmonk": {"lists": {"3": {"name": "news"}}}})
        client = httpx.Client(base_url=f"{sandbox.base_url}/listmonk", auth=("api", "token"))
        params = '{"mode": "subscribe", "delim": ",", "lists": [3]}'
        first = client.post(
            "/api/import/subscribers",
            data={"params": params},
            files={"file": ("a.csv", b"email\na@example.com\n")},
        )
        second = client.post(
            "/api/import/subscribers",
            data={"params": params},
            files={"file": ("b.csv", b"email\nb@example.com\n")},
        )
        assert first.status_code == 200
        assert (second.status_code, second.json()) == (
            400,
            {
                "message": (
                    "An import is already running. Wait for it to finish or stop it before trying "
                    "again."
                )
            },
        )
        assert httpx.get(f"{sandbox.base_url}/listmonk/api/lists").status_code == 401
