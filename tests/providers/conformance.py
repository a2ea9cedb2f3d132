"""The conformance suite every provider passes against the sandbox.

A provider's test module subclasses :class:`ProviderConformance` and implements the harness
methods (how to build the provider for a running sandbox, how to seed and read the vendor's
list). The tests then drive the provider only through the :class:`Provider` interface and check
the *vendor's* final list contents in the sandbox, never the provider's own opinion.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from reconciler.config.schema import ListConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus, Provider, Seen
from reconciler.registry import provider_class
from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.staging.http import HttpStager

Contacts = Mapping[str, Mapping[str, Any]]  # email -> {"status": ..., "fields": {...}}


class ProviderConformance(abc.ABC):
    vendor: ClassVar[str]
    list_id: ClassVar[str]
    #: The managed field the suite updates (e.g. "first_name").
    field_name: ClassVar[str] = "first_name"
    #: What the vendor's document allows, written by each vendor's test from the document in
    #: shared/vendor-docs/, not taken from the code under test: the suite checks the code's
    #: capability table, and the provider, against it.
    capabilities: ClassVar[frozenset[Action]]
    reads_current: ClassVar[bool]

    # -- harness ------------------------------------------------------------------------------
    @abc.abstractmethod
    def make_provider(self, sandbox: EmbeddedSandbox, workdir: Path) -> Provider: ...

    @abc.abstractmethod
    def list_config(self) -> ListConfig: ...

    @abc.abstractmethod
    def seed(self, sandbox: EmbeddedSandbox, contacts: Contacts) -> None:
        """Put ``contacts`` on the list at the vendor (statuses in reconciler's vocabulary)."""

    def vendor_list(self, sandbox: EmbeddedSandbox) -> dict[str, tuple[str, dict[str, Any]]]:
        """{email: (status, fields)} of the list, from the sandbox's inspection dump."""
        state = httpx.get(f"{sandbox.base_url}/_sandbox/state").json()
        rows = state["vendors"][self.vendor]["lists"].get(self.list_id, [])
        return {r["email"]: (r["status"], dict(r.get("fields") or {})) for r in rows}

    def vendor_field(self, fields: Mapping[str, Any]) -> Any:
        """The vendor's value of the managed field, from a dump row's fields."""
        return fields.get(self.field_name)

    # -- fixtures -----------------------------------------------------------------------------
    @pytest.fixture
    def sandbox(self) -> Iterator[EmbeddedSandbox]:
        with EmbeddedSandbox() as running:
            yield running

    @pytest.fixture
    def stager(self) -> Iterator[HttpStager]:
        with HttpStager() as running:
            yield running

    @pytest.fixture
    def provider(self, sandbox: EmbeddedSandbox, tmp_path: Path) -> Iterator[Provider]:
        made = self.make_provider(sandbox, tmp_path)
        try:
            yield made
        finally:
            made.close()

    # -- helpers ------------------------------------------------------------------------------
    def batch(
        self,
        provider: Provider,
        tmp_path: Path,
        stager: HttpStager,
        action: Action,
        rows: list[tuple[str, str | None]],
    ) -> Batch:
        from reconciler.apply.batches import render_batch
        from reconciler.model import ChangeKind
        from reconciler.plan.model import ListChange

        fmt = provider.batch_format(self.list_config(), action)
        changes = [
            ListChange(
                ChangeKind(action.value), email, "test", {self.field_name: value} if value else {}
            )
            for email, value in rows
        ]
        data = render_batch(changes, action, fmt)
        path = tmp_path / f"{action.value}.csv"
        path.write_bytes(data)
        batch = Batch(
            "conformance",
            self.list_id,
            action,
            1,
            path,
            len(rows),
            hashlib.sha256(data).hexdigest(),
        )
        if fmt.needs_url:
            from dataclasses import replace

            batch = replace(batch, url=stager.publish(path))
        return batch

    def run_job(self, provider: Provider, batch: Batch) -> tuple[JobRef, JobStatus]:
        job = provider.submit(self.list_config(), batch)
        for _ in range(200):
            status = provider.poll(self.list_config(), job)
            if status.state is not JobState.PENDING:
                return job, status
        raise AssertionError(f"job {job.vendor_job_id} never finished")

    def require(self, action: Action) -> None:
        if action not in self.capabilities:
            pytest.skip(f"{self.vendor} cannot {action.value} (capability matrix)")

    # -- the suite ----------------------------------------------------------------------------
    def test_declares_the_capability_matrix(self, provider: Provider) -> None:
        assert provider.vendor == self.vendor
        assert provider_class(self.vendor) is type(provider)
        assert provider.capabilities == self.capabilities
        assert provider.can_read_current is self.reads_current
        for action in Action:
            assert (provider.cannot(action) is None) == (action in self.capabilities)

    def test_add_makes_members_active_with_fields(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.seed(sandbox, {})
        batch = self.batch(
            provider,
            tmp_path,
            stager,
            Action.ADD,
            [("ann@example.com", "Ann"), ("bob@example.com", "Bob")],
        )
        job, status = self.run_job(provider, batch)
        assert status.state is JobState.SUCCEEDED, status.message
        assert job.vendor_job_id
        contacts = self.vendor_list(sandbox)
        assert {e: s for e, (s, _) in contacts.items()} == {
            "ann@example.com": "active",
            "bob@example.com": "active",
        }
        assert self.vendor_field(contacts["ann@example.com"][1]) == "Ann"

    def test_update_changes_the_managed_field(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.require(Action.UPDATE)
        self.seed(
            sandbox, {"ann@example.com": {"status": "active", "fields": {self.field_name: "Anne"}}}
        )
        batch = self.batch(provider, tmp_path, stager, Action.UPDATE, [("ann@example.com", "Ann")])
        _, status = self.run_job(provider, batch)
        assert status.state is JobState.SUCCEEDED, status.message
        status_now, fields = self.vendor_list(sandbox)["ann@example.com"]
        assert (status_now, self.vendor_field(fields)) == ("active", "Ann")

    @pytest.mark.parametrize(
        ("action", "expected"),
        [
            (Action.REMOVE, None),
            (Action.UNSUBSCRIBE, "unsubscribed"),
            (Action.BOUNCE, "bounced"),
            (Action.COMPLAINT, "complaint"),
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
        self.require(action)
        self.seed(
            sandbox,
            {
                "ann@example.com": {"status": "active", "fields": {}},
                "bob@example.com": {"status": "active", "fields": {}},
            },
        )
        batch = self.batch(provider, tmp_path, stager, action, [("ann@example.com", None)])
        _, status = self.run_job(provider, batch)
        assert status.state is JobState.SUCCEEDED, status.message
        contacts = {e: s for e, (s, _) in self.vendor_list(sandbox).items()}
        want = {"bob@example.com": "active"}
        if expected is not None:
            want["ann@example.com"] = expected
        assert contacts == want

    def test_resubscribe_brings_back_an_unsubscribed_contact(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.require(Action.RESUBSCRIBE)
        self.seed(sandbox, {"ann@example.com": {"status": "unsubscribed", "fields": {}}})
        batch = self.batch(
            provider, tmp_path, stager, Action.RESUBSCRIBE, [("ann@example.com", "Ann")]
        )
        _, status = self.run_job(provider, batch)
        assert status.state is JobState.SUCCEEDED, status.message
        assert self.vendor_list(sandbox)["ann@example.com"][0] == "active"

    def test_add_never_reactivates_an_unsubscribed_contact(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.seed(sandbox, {"ann@example.com": {"status": "unsubscribed", "fields": {}}})
        batch = self.batch(provider, tmp_path, stager, Action.ADD, [("ann@example.com", "Ann")])
        self.run_job(provider, batch)
        assert self.vendor_list(sandbox)["ann@example.com"][0] == "unsubscribed"

    def test_read_current_matches_the_vendor(
        self, provider: Provider, sandbox: EmbeddedSandbox
    ) -> None:
        if not self.reads_current:
            with pytest.raises(NotImplementedError):
                provider.read_current("conformance", self.list_config())
            return
        self.seed(
            sandbox,
            {
                "ann@example.com": {"status": "active", "fields": {self.field_name: "Ann"}},
                "bob@example.com": {"status": "unsubscribed", "fields": {}},
            },
        )
        from reconciler.engine.duck import connect

        snapshot = provider.read_current("conformance", self.list_config())
        con = connect()
        snapshot.prepare(con)
        rows = con.execute(
            f"SELECT lower(email), status, f0 FROM {snapshot.sql()} ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("ann@example.com", "active", "Ann"),
            ("bob@example.com", "unsubscribed", None),
        ]

    def test_find_submitted_finds_the_job_of_a_batch(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.seed(sandbox, {})
        batch = self.batch(provider, tmp_path, stager, Action.ADD, [("ann@example.com", "Ann")])
        before = provider.find_submitted(self.list_config(), batch)
        assert before.job is None
        job = provider.submit(self.list_config(), batch)
        after = provider.find_submitted(self.list_config(), batch)
        # Vendors with a job listing prove the batch absent, then find its job; the others say
        # they cannot tell, each time, and declare whether a second send of an add is harmless.
        if before.seen is Seen.CANNOT_TELL:
            assert after.seen is Seen.CANNOT_TELL and after.job is None
            assert after.basis.startswith(f"{self.vendor} ")
        else:
            assert (before.seen, after.seen) == (Seen.ABSENT, Seen.FOUND)
            assert after.job is not None and after.job.vendor_job_id == job.vendor_job_id

    def test_failed_job_ends_failed_with_the_vendors_message(
        self, provider: Provider, sandbox: EmbeddedSandbox, stager: HttpStager, tmp_path: Path
    ) -> None:
        self.seed(sandbox, {})
        httpx.post(
            f"{sandbox.base_url}/_sandbox/faults",
            json={"path": "/", "kind": "fail_job", "vendor": self.vendor},
        )
        batch = self.batch(provider, tmp_path, stager, Action.ADD, [("ann@example.com", "Ann")])
        _, status = self.run_job(provider, batch)
        assert status.state is JobState.FAILED
        assert status.message

    def test_vendor_error_names_vendor_and_endpoint(
        self, provider: Provider, sandbox: EmbeddedSandbox
    ) -> None:
        httpx.post(
            f"{sandbox.base_url}/_sandbox/faults",
            json={"path": f"/{self.vendor}/", "kind": "status", "status": 404, "count": 50},
        )
        with pytest.raises(ProviderError) as exc:
            provider.poll(self.list_config(), JobRef("999999"))
        assert str(exc.value).startswith(f"{self.vendor} GET ")
        assert "404" in str(exc.value)
