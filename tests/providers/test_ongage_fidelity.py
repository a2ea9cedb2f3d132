"""Every request the Ongage provider sends is one Ongage's documents allow.

Three independent readings are compared: the documents themselves
(``shared/vendor-docs/ongage-*.txt``), the contract table in ``specs/vendors/ongage.md`` (each
row quoting the sentence that allows it), and the request log of the sandbox after the provider
has done everything it can do. Then the handling of refusals (429, "imports in progress") on
the import POST, which the documents do not describe: retried after backoff, one import per
batch, never a failed batch.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import Batch, JobState, Seen
from reconciler.providers.ongage import ImportRefused, OngageProvider
from reconciler.sandbox.server import EmbeddedSandbox

ROOT = Path(__file__).resolve().parents[2]
DOCS = Path(os.environ.get("RECONCILER_VENDOR_DOCS", "/work/shared/vendor-docs"))
SPEC = ROOT / "specs" / "vendors" / "ongage.md"
CREDS = Credentials(username="u", password="p", account_code="acme")  # type: ignore[arg-type]
AUTH = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "acme"}
LIST = "1001"
LC = ListConfig(provider="og", list_id=LIST, managed_fields=["first_name"])
#: One quotation in a contract cell: ``file.txt: "exact words"``, ended by ``<br>`` or the cell.
QUOTE = re.compile(r'([\w.-]+\.txt): "(.+?)"(?=<br>|\s*$|\s+\()')

pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason=f"no vendor documents at {DOCS}")


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def flat(text: str) -> str:
    return " ".join(text.split())


def contract() -> list[list[str]]:
    """The rows of the spec's table "Provider: every request it sends"."""
    section = SPEC.read_text().split("## Provider: every request it sends", 1)[1]
    section = section.split("### Beyond the document", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    # No quotation holds a "|", so a row's cells are what lies between its pipes.
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows[2:]]


def documented_parameters(text: str, method: str) -> set[str]:
    """The parameter names a document lists under ``method``'s "Request" heading: a line holding
    one identifier, followed by a line saying whether it is Optional or Required."""
    part = text.split(method, 1)[1].split("Request Example", 1)[0]
    lines = [line.strip() for line in part.splitlines() if line.strip()]
    return {
        name
        for name, after in itertools.pairwise(lines)
        if re.fullmatch(r"[a-z_]+", name) and after.startswith(("Optional", "Required"))
    }


def documented_import_actions() -> set[str]:
    return set(re.findall(r"^(\w+) [–-] ", doc("ongage-import-api.txt"), re.MULTILINE))


def documented_export_statuses() -> set[str]:
    line = next(
        line for line in doc("ongage-export-api.txt").splitlines() if "Required array" in line
    )
    return set(re.findall(r"'([a-z-]+)'", line))


# -- the contract against the documents ------------------------------------------------------
def test_every_quotation_of_the_contract_is_in_its_document() -> None:
    quotes = [q for row in contract() for q in QUOTE.findall(row[3])]
    assert len(quotes) >= 25, quotes
    missing = [(f, q) for f, q in quotes if flat(q) not in flat(doc(f))]
    assert missing == []


def test_every_row_of_the_contract_cites_a_document() -> None:
    uncited = [row for row in contract() if not QUOTE.search(row[3])]
    assert uncited == []


def test_the_documents_are_read_as_the_contract_says() -> None:
    # The independent reading the request-log test below compares with.
    assert documented_parameters(doc("ongage-import-api.txt"), "POST /api/import") == {
        "list_id",
        "file_url",
        "csv_delimiter",
        "encoding",
        "overwrite",
        "ignore_empty",
        "overwrite_only_nulls",
        "send_welcome_message",
        "fields",
        "import_action",
        "import_type",
        "send_email_notification",
    }
    assert documented_parameters(doc("ongage-export-api.txt"), "POST /api/export") == {
        "list_id",
        "name",
        "segment_id",
        "mailing_id",
        "date_format",
        "file_format",
        "fields_selected",
        "status",
    }
    assert documented_import_actions() == {
        "add",
        "remove",
        "unsubscribe",
        "resubscribe",
        "bounce",
        "complaint",
    }
    assert documented_export_statuses() == {
        "active",
        "unjoin-member",
        "clicked",
        "opened",
        "inactive",
        "bounced",
        "complaint",
    }


# -- the provider against the contract -------------------------------------------------------
@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        running.app.seed({"ongage": {"lists": {LIST: {"fields": ["first_name"]}}}})
        yield running


def make(sandbox: EmbeddedSandbox, tmp_path: Path, **options: Any) -> OngageProvider:
    config = ProviderConfig(type="ongage", credentials=CREDS, options=options)
    return OngageProvider("og", config, base_url=f"{sandbox.base_url}/ongage", workdir=tmp_path)


def staged(
    sandbox: EmbeddedSandbox, tmp_path: Path, action: Action, text: str, name: str = ""
) -> Batch:
    name = name or f"batch-{action.value}.csv"
    path = tmp_path / name
    path.write_text(text)
    url = httpx.put(f"{sandbox.base_url}/_sandbox/files/{name}", content=text.encode()).json()[
        "url"
    ]
    return Batch("news", LIST, action, 1, path, text.count("\n") - 1, "0" * 64, url=url)


def run(provider: OngageProvider, batch: Batch) -> JobState:
    job = provider.submit(LC, batch)
    for _ in range(50):
        status = provider.poll(LC, job)
        if status.state is not JobState.PENDING:
            return status.state
    raise AssertionError("the import never ended")


def template(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path.removeprefix(f"/ongage/{LIST}"))


def test_every_request_the_provider_sends_is_in_the_contract(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    for action in Action:
        batch = staged(sandbox, tmp_path, action, "email,first_name\nann@example.com,Ann\n")
        assert run(provider, batch) is JobState.SUCCEEDED
    provider.read_current("news", LC)
    assert provider.find_submitted(LC, batch).job is not None
    log = sandbox.app.request_log()
    assert {r["vendor"] for r in log} == {"ongage"}
    sent = {(r["method"], "/{list_id}" + template(r["path"])) for r in log}
    in_contract = {(row[0], row[1].strip("`")) for row in contract() if row[0]}
    assert sent == in_contract

    imports = [
        json.loads(r["body"])
        for r in log
        if (r["method"], template(r["path"])) == ("POST", "/api/import")
    ]
    allowed = documented_parameters(doc("ongage-import-api.txt"), "POST /api/import")
    assert all(set(body) <= allowed for body in imports)
    assert {body["import_action"] for body in imports} <= documented_import_actions()
    common = {
        "list_id": 1001,
        "csv_delimiter": ",",
        "import_type": "sending",
        "send_welcome_message": False,
    }
    # The contract's values, per action (the table's import_action and overwrite rows).
    per_action: dict[Action, dict[str, Any]] = {
        Action.ADD: {"import_action": "add", "overwrite": False},
        Action.UPDATE: {"import_action": "add", "overwrite": True, "ignore_empty": True},
        Action.REMOVE: {"import_action": "remove"},
        Action.UNSUBSCRIBE: {"import_action": "unsubscribe"},
        Action.RESUBSCRIBE: {"import_action": "resubscribe"},
        Action.BOUNCE: {"import_action": "bounce"},
        Action.COMPLAINT: {"import_action": "complaint"},
    }
    assert [{k: v for k, v in body.items() if k != "file_url"} for body in imports] == [
        {**common, **per_action[action]} for action in Action
    ]
    assert [body["file_url"].rsplit("/", 1)[1] for body in imports] == [
        f"batch-{action.value}.csv" for action in Action
    ]

    exports = [json.loads(r["body"]) for r in log if template(r["path"]) == "/api/export"]
    allowed = documented_parameters(doc("ongage-export-api.txt"), "POST /api/export")
    assert all(set(body) <= allowed for body in exports)
    assert [body["status"] for body in exports] == [
        ["active"],
        ["unjoin-member"],
        ["bounced"],
        ["complaint"],
    ]
    assert all(set(body["status"]) <= documented_export_statuses() for body in exports)
    assert exports[0] == {
        "name": "reconciler active",
        "date_format": "mm/dd/yyyy",
        "file_format": "csv",
        "segment_id": [1001],
        "status": ["active"],
        "fields_selected": ["email", "first_name"],
    }


def test_an_export_the_vendor_refuses_for_its_segment_says_how_to_name_one(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    lc = ListConfig(provider="og", list_id=LIST, options={"segment_id": 5})
    with pytest.raises(ProviderError) as exc:
        provider.read_current("news", lc)
    assert str(exc.value) == (
        "ongage POST /1001/api/export: answered 412: Invalid data: unknown segment_id; list 1001 "
        "has segment 1001 (All members) (the export reads segment 5: set the list option "
        "segment_id to a segment holding all of list 1001's members, or read the list from an "
        "export: file)"
    )


# -- imports in flight, and refusals ---------------------------------------------------------
def test_max_imports_in_flight_defaults_to_one_and_is_validated(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    assert make(sandbox, tmp_path).max_imports_in_flight == 1
    assert make(sandbox, tmp_path, max_imports_in_flight=3).max_imports_in_flight == 3
    with pytest.raises(ProviderError) as exc:
        make(sandbox, tmp_path, max_imports_in_flight=0)
    assert str(exc.value) == (
        "ongage: option max_imports_in_flight must be a whole number from 1 to 100, got 0"
    )


def imports_of(sandbox: EmbeddedSandbox, batch: Batch) -> list[dict[str, Any]]:
    """The vendor's imports of this batch's file, from its documented listing."""
    listing = httpx.get(f"{sandbox.base_url}/ongage/{LIST}/api/import", headers=AUTH).json()
    return [i for i in listing["payload"] if i["file_url"] == batch.url]


def post_statuses(sandbox: EmbeddedSandbox) -> list[int]:
    return [
        r["status"]
        for r in sandbox.app.request_log()
        if r["method"] == "POST" and r["path"] == f"/ongage/{LIST}/api/import"
    ]


def test_a_refusal_for_imports_in_progress_is_retried_and_the_batch_becomes_one_import(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    sandbox.app.seed({"ongage": {"settings": {"max_imports_in_progress": 1}}})
    other = staged(sandbox, tmp_path, Action.ADD, "email\nzed@example.com\n", "other.csv")
    blocker = httpx.post(
        f"{sandbox.base_url}/ongage/{LIST}/api/import",
        headers=AUTH,
        json={"file_url": other.url},
    ).json()["payload"]["id"]
    provider = make(sandbox, tmp_path)
    waits: list[float] = []

    def backoff(seconds: float) -> None:
        # While the provider waits, the other import runs to its end (each read is one step):
        # the vendor then has room, deterministically, with no real waiting.
        waits.append(seconds)
        while (
            httpx.get(
                f"{sandbox.base_url}/ongage/{LIST}/api/import/{blocker}", headers=AUTH
            ).json()["payload"]["status"]
            != 40003
        ):
            pass

    provider.http._sleep = backoff
    batch = staged(sandbox, tmp_path, Action.ADD, "email,first_name\nann@example.com,Ann\n")
    assert run(provider, batch) is JobState.SUCCEEDED
    assert len(waits) == 1
    assert post_statuses(sandbox) == [200, 500, 200]  # the other import, refused, accepted
    assert [(i["action"], i["status"]) for i in imports_of(sandbox, batch)] == [("add", 40003)]
    dump = sandbox.app.state()["vendors"]["ongage"]["lists"][LIST]
    assert [(r["email"], r["status"], r["fields"]) for r in dump] == [
        ("ann@example.com", "active", {"first_name": "Ann"}),
        ("zed@example.com", "active", {}),
    ]


def test_an_injected_429_on_the_import_post_is_retried_and_the_batch_becomes_one_import(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    waits: list[float] = []
    provider.http._sleep = waits.append
    httpx.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={
            "path": f"/ongage/{LIST}/api/import",
            "method": "POST",
            "kind": "status",
            "status": 429,
            "retry_after": 1,
            "count": 2,
        },
    )
    batch = staged(sandbox, tmp_path, Action.ADD, "email,first_name\nann@example.com,Ann\n")
    assert run(provider, batch) is JobState.SUCCEEDED
    assert waits == [1.0, 1.0]  # Retry-After honoured
    assert post_statuses(sandbox) == [429, 429, 200]
    assert [(i["action"], i["status"]) for i in imports_of(sandbox, batch)] == [("add", 40003)]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            {"status": 429, "count": 6},
            "ongage POST /1001/api/import: answered 429: injected 429; still refused after 6 "
            "attempts: the batch was not sent, run apply again later",
        ),
        (
            {
                "status": 500,
                "count": 6,
                "body": json.dumps(
                    {
                        "metadata": {"error": True},
                        "payload": {
                            "code": 500,
                            "message": "Validation error: list 1001 already has 1 imports in "
                            "progress; wait for one to end",
                        },
                    }
                ),
            },
            "ongage POST /1001/api/import: answered 500: Validation error: list 1001 already "
            "has 1 imports in progress; wait for one to end; still refused after 6 attempts: "
            "the batch was not sent, run apply again later",
        ),
    ],
    ids=["429", "in-progress"],
)
def test_a_refusal_that_outlasts_the_retries_leaves_the_batch_unsent(
    sandbox: EmbeddedSandbox, tmp_path: Path, fault: dict[str, Any], message: str
) -> None:
    provider = make(sandbox, tmp_path)
    provider.http._sleep = lambda _seconds: None
    httpx.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={"path": f"/ongage/{LIST}/api/import", "method": "POST", "kind": "status", **fault},
    )
    batch = staged(sandbox, tmp_path, Action.ADD, "email\nann@example.com\n")
    with pytest.raises(ImportRefused) as exc:
        provider.submit(LC, batch)
    assert str(exc.value) == message
    assert post_statuses(sandbox) == [fault["status"]] * 6
    assert imports_of(sandbox, batch) == []
    assert provider.find_submitted(LC, batch).seen is Seen.ABSENT  # what apply asks: no job


def test_another_500_on_the_import_post_stays_ambiguous(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    provider = make(sandbox, tmp_path)
    httpx.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={
            "path": f"/ongage/{LIST}/api/import",
            "method": "POST",
            "kind": "status",
            "status": 500,
        },
    )
    batch = staged(sandbox, tmp_path, Action.ADD, "email\nann@example.com\n")
    with pytest.raises(ProviderError) as exc:
        provider.submit(LC, batch)
    assert type(exc.value).__name__ == "AmbiguousSubmission"
    assert (
        str(exc.value) == "ongage POST /1001/api/import: answered 500 after sending: injected 500"
    )
    assert post_statuses(sandbox) == [500]  # not retried: the vendor may have created it


# -- the emulator is the vendor, not us ------------------------------------------------------
def test_the_ongage_emulator_imports_nothing_of_the_product() -> None:
    for path in sorted((ROOT / "reconciler" / "sandbox").glob("ongage*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.startswith("reconciler"):
                    assert name.startswith("reconciler.sandbox"), f"{path.name} imports {name}"


def test_each_poll_carries_the_status_in_words_and_how_far_the_import_got(
    sandbox: EmbeddedSandbox, tmp_path: Path
) -> None:
    """Progress output shows Ongage's status_desc and progress, not the bare code."""
    provider = make(sandbox, tmp_path)
    job = provider.submit(LC, staged(sandbox, tmp_path, Action.ADD, "email\nann@example.com\n"))
    seen: list[tuple[str, str, float | None]] = []
    for _ in range(50):
        status = provider.poll(LC, job)
        if not seen or seen[-1] != (status.vendor_status, status.words, status.done):
            seen.append((status.vendor_status, status.words, status.done))
        if status.state is not JobState.PENDING:
            break
    assert seen == [  # Queued is the answer to the submission; the first poll finds it moved on
        ("40010", "Validating", 0.0),
        ("40002", "Processing", 0.5),
        ("40004", "Updating list stats", 1.0),
        ("40003", "Completed", 1.0),
    ]
