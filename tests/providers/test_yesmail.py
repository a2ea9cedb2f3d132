"""The Yesmail provider against the sandbox: the shared conformance suite plus specifics."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import JobState, Provider
from reconciler.providers.yesmail import YesmailProvider, error_threshold
from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.staging.http import HttpStager
from tests.providers.conformance import Contacts, ProviderConformance

CREDS = Credentials(username="tester", api_key="secret")  # type: ignore[arg-type]
SUBSCRIBERS = ["ann@example.com", "bob@example.com"]


def make(sandbox: EmbeddedSandbox, tmp_path: Path, **options: Any) -> YesmailProvider:
    config = ProviderConfig(type="yesmail", credentials=CREDS, options=options)
    return YesmailProvider("ym", config, base_url=f"{sandbox.base_url}/yesmail", workdir=tmp_path)


class TestYesmailConformance(ProviderConformance):
    vendor: ClassVar[str] = "yesmail"
    # yesmail-target-list-file-import.txt: a file import adds or updates members of a target
    # list, and documents no way to remove, unsubscribe or read a list.
    capabilities: ClassVar[frozenset[Action]] = frozenset({Action.ADD, Action.UPDATE})
    reads_current: ClassVar[bool] = False
    list_id: ClassVar[str] = "weekly"
    field_name: ClassVar[str] = "firstname"

    def make_provider(self, sandbox: EmbeddedSandbox, workdir: Path) -> Provider:
        return make(sandbox, workdir)

    def list_config(self) -> ListConfig:
        return ListConfig(provider="ym", list_id=self.list_id, managed_fields=["firstname"])

    def seed(self, sandbox: EmbeddedSandbox, contacts: Contacts) -> None:
        sandbox.app.seed(
            {
                "yesmail": {
                    "subscribers": [
                        {"email": e, "status": c["status"]} for e, c in contacts.items()
                    ]
                    + [e for e in SUBSCRIBERS if e not in contacts],
                    "lists": {
                        self.list_id: {
                            "columns": ["firstname", "lastname"],
                            "contacts": [
                                {
                                    "email": e,
                                    "status": c["status"],
                                    "fields": dict(c.get("fields") or {}),
                                }
                                for e, c in contacts.items()
                            ],
                        }
                    },
                }
            }
        )


def test_members_missing_from_the_database_fail_per_row_with_their_address(
    tmp_path: Path,
) -> None:
    with EmbeddedSandbox() as sandbox, HttpStager() as stager:
        sandbox.app.seed({"yesmail": {"subscribers": ["ann@example.com"]}})
        provider = make(sandbox, tmp_path)
        suite = TestYesmailConformance()
        batch = suite.batch(
            provider,
            tmp_path,
            stager,
            Action.ADD,
            [("ann@example.com", "Ann"), ("zed@example.com", "Zed")],
        )
        _, status = suite.run_job(provider, batch)
    assert status.state is JobState.FAILED
    assert status.message == (
        "1 of 2 rows failed: row 2 (Member does not exist.); their addresses are in the job's"
        " failures file under .reconciler/failures/"
    )
    assert list(status.failures) == [
        {"row": 2, "email": "zed@example.com", "status": 404, "error": "Member does not exist."}
    ]


@pytest.mark.parametrize("value", [0, 25, "5%", "99.5%"])
def test_error_threshold_accepts_counts_and_percentages(value: int | str) -> None:
    assert error_threshold(value) == value


@pytest.mark.parametrize("value", [-1, "5", "100%", "0%", True])
def test_error_threshold_refuses_anything_else(value: Any) -> None:
    with pytest.raises(ProviderError) as exc:
        error_threshold(value)
    assert str(exc.value) == (
        "yesmail: list option error_threshold must be a whole number >= 0 or a percentage "
        f'between 0% and 100% such as "5%", got {value!r}'
    )
