"""Vendor answers that are not what the API documents: malformed JSON, HTML error pages, missing
fields, unknown statuses. Each is a ProviderError naming the vendor and the endpoint (never
another exception, so never a traceback); during apply the job stays in the ledger, and a job
whose creation was answered with something unreadable is looked up, not sent again.

Random answers of every shape are in tests/property/test_vendor_responses.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.providers.base import JobRef, Provider
from reconciler.registry import provider_class
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.server import EmbeddedSandbox
from tests.reliability.harness import assert_state_settled, finished
from tests.reliability.scenarios import ONGAGE, ONGAGE_SUBMISSIONS

CREDS = Credentials(
    username="u",  # type: ignore[arg-type]
    password="p",  # type: ignore[arg-type]
    api_key="k",  # type: ignore[arg-type]
    account_code="a",  # type: ignore[arg-type]
)
#: vendor -> (list ID, the status read of job 7, the job)
POLLS = {
    "ongage": ("1001", "/1001/api/import/7", JobRef("7")),
    "yesmail": ("weekly", "/v2/tickets/7", JobRef("7")),
    "listmonk": ("3", "/api/import/subscribers", JobRef("import:x.csv", {"name": "x.csv"})),
    "omnigage": ("L1", "/api/v1/import-contacts/7", JobRef("7")),
}
HTML = "<!DOCTYPE html>\n<html><body><h1>Back soon</h1></body></html>"
LATER = "; the job stays in the ledger: `reconciler poll` follows it later"
UNKNOWN = {
    "ongage": (
        '{"payload": {"id": 7, "status": 40077, "status_desc": "Deduplicating"}}',
        "unknown import status 40077 (Deduplicating)" + LATER,
    ),
    "yesmail": ('{"id": 7, "state": "exploded"}', "unknown ticket state 'exploded'" + LATER),
    "listmonk": (
        '{"data": {"name": "x.csv", "status": "paused", "total": 1, "imported": 0}}',
        "unknown import status 'paused'" + LATER,
    ),
    "omnigage": (
        '{"data": {"id": "7", "attributes": {"status": "exploded"}}}',
        "unknown import status 'exploded'" + LATER,
    ),
}
MISSING = {
    "ongage": "response has no 'payload'",
    "yesmail": "response has no 'state'",
    "listmonk": "response has no 'data'",
    "omnigage": "response has no 'data.attributes'",
}


def cases() -> Iterator[object]:
    for vendor in POLLS:
        yield pytest.param(
            vendor,
            {"status": 200, "body": '{"payload": {"id": 7, "sta'},
            'answered 200 with a body that is not JSON: body: \'{"payload": {"id": 7, "sta\'',
            id=f"{vendor}-truncated-json",
        )
        yield pytest.param(
            vendor,
            {"status": 200, "body": HTML, "content_type": "text/html"},
            "answered 200 with a body that is not JSON: HTML page: '<!DOCTYPE html> <html><body>"
            "<h1>Back soon</h1></body></html>'",
            id=f"{vendor}-html-page",
        )
        yield pytest.param(
            vendor,
            {
                "status": 403,
                "body": "<html>Blocked by firewall</html>",
                "content_type": "text/html",
            },
            "answered 403: HTML page: '<html>Blocked by firewall</html>'",
            id=f"{vendor}-html-error",
        )
        yield pytest.param(
            vendor,
            {"status": 200, "body": ""},
            "answered 200 with a body that is not JSON: empty body",
            id=f"{vendor}-empty",
        )
        yield pytest.param(
            vendor, {"status": 200, "body": "{}"}, MISSING[vendor], id=f"{vendor}-missing-fields"
        )
        body, message = UNKNOWN[vendor]
        yield pytest.param(
            vendor, {"status": 200, "body": body}, message, id=f"{vendor}-unknown-status"
        )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        yield running


def provider(sandbox: EmbeddedSandbox, vendor: str, tmp_path: Path) -> Provider:
    config = ProviderConfig(type=vendor, credentials=CREDS)
    return provider_class(vendor)(
        "p", config, base_url=f"{sandbox.base_url}/{vendor}", workdir=tmp_path
    )


@pytest.mark.parametrize(("vendor", "answer", "message"), list(cases()))
def test_a_bad_status_answer_is_a_provider_error_naming_vendor_and_endpoint(
    sandbox: EmbeddedSandbox, tmp_path: Path, vendor: str, answer: dict[str, object], message: str
) -> None:
    list_id, path, job = POLLS[vendor]
    sandbox.app.faults.clear()
    sandbox.app.faults.add(Fault(path=f"/{vendor}{path}", kind="status", **answer))  # type: ignore[arg-type]
    made = provider(sandbox, vendor, tmp_path)
    with pytest.raises(ProviderError) as exc:
        made.poll(ListConfig(provider="p", list_id=list_id), job)
    assert str(exc.value) == f"{vendor} GET {path}: {message}"


def test_a_garbled_status_answer_during_apply_leaves_the_job_in_the_ledger(
    tmp_path: Path,
) -> None:
    p = ONGAGE.project(tmp_path)
    p.inject(path="/ongage/1001/api/import/", method="GET", kind="status", status=200, body=HTML)
    run = finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve"), 1)
    assert run.err == (
        "Error: ongage GET /1001/api/import/1: answered 200 with a body that is not JSON: HTML "
        "page: '<!DOCTYPE html> <html><body><h1>Back soon</h1></body></html>'\n"
    )
    (job,) = p.state().jobs
    assert (job.action, job.status, job.vendor_job_id) == ("complaint", "submitted", "1")

    refreshed = finished(p.run("poll", "-c", "reconciler.yaml"))
    assert refreshed.out.splitlines()[-1] == f"{job.batch_key}: succeeded (job 1)"
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve"))
    assert ONGAGE.contacts(p) == ONGAGE.expected
    assert ONGAGE.submissions(p) == ONGAGE_SUBMISSIONS
    assert_state_settled(p.state())


def test_an_accepted_import_answered_with_garbage_is_looked_up_not_resent(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    p.inject(
        path="/ongage/1001/api/import",
        method="POST",
        kind="status",
        status=200,
        body=HTML,
        content_type="text/html",
        after=True,
    )
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve"))
    complaint = p.state().jobs[0]
    assert (complaint.action, complaint.status, complaint.vendor_job_id) == (
        "complaint",
        "succeeded",
        "1",
    )
    assert ONGAGE.contacts(p) == ONGAGE.expected
    assert ONGAGE.submissions(p) == ONGAGE_SUBMISSIONS  # found in the listing, not sent again
