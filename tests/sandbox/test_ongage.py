"""The Ongage emulator against the vendor documents: validations, lifecycles, membership."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox import ongage_imports
from reconciler.sandbox.server import EmbeddedSandbox

# Ongage names its headers X_USERNAME etc.; PHP (and the sandbox) read X-USERNAME the same
# way, and proxies such as nginx drop header names with underscores by default.
AUTH = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "acme"}
LIST = "1001"


@pytest.fixture(scope="module")
def running() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def og(running: EmbeddedSandbox) -> Iterator[httpx.Client]:
    running.app.reset()
    running.app.seed(
        {
            "ongage": {
                "lists": {
                    LIST: {
                        "fields": ["first_name"],
                        "contacts": [
                            {
                                "email": "active@example.com",
                                "status": "active",
                                "fields": {"first_name": "Al"},
                            },
                            {"email": "unsub@example.com", "status": "unsubscribed", "fields": {}},
                            {"email": "bounced@example.com", "status": "bounced", "fields": {}},
                        ],
                    }
                }
            }
        }
    )
    with httpx.Client(base_url=running.base_url, headers=AUTH, timeout=30) as client:
        yield client


def host(client: httpx.Client, name: str, text: str) -> str:
    url: str = client.put(f"/_sandbox/files/{name}", content=text.encode()).json()["url"]
    return url


def dump(client: httpx.Client) -> dict[str, tuple[str, dict[str, Any]]]:
    rows = client.get("/_sandbox/state").json()["vendors"]["ongage"]["lists"][LIST]
    return {r["email"]: (r["status"], r["fields"]) for r in rows}


def run_import(client: httpx.Client, body: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    created = client.post(f"/ongage/{LIST}/api/import", json=body)
    assert created.status_code == 200, created.text
    return run_import_polls(client, created.json()["payload"]["id"])


def run_import_polls(client: httpx.Client, import_id: int) -> tuple[list[int], dict[str, Any]]:
    """Poll an import to its end: the statuses it went through and its last payload."""
    seen: list[int] = []
    payload: dict[str, Any] = {}
    for _ in range(20):
        payload = client.get(f"/ongage/{LIST}/api/import/{import_id}").json()["payload"]
        if not seen or seen[-1] != payload["status"]:
            seen.append(payload["status"])
        if payload["status"] == 40003 or payload["status"] >= 90000:
            break
    return seen, payload


def counts(payload: dict[str, Any]) -> dict[str, int]:
    keys = ("total", "success", "failed", "duplicate", "existing", "not_existing", "invalid")
    return {k: int(payload[k]) for k in keys if int(payload[k])}


def test_add_lifecycle_counts_and_membership(og: httpx.Client) -> None:
    url = host(
        og,
        "add.csv",
        "email,first_name\nNew@Example.com,Nia\nactive@example.com,Bo\n"
        "unsub@example.com,Un\nnew@example.com,Dup\nnot-an-email,X\n",
    )
    seen, payload = run_import(og, {"file_url": url, "csv_delimiter": ","})
    assert seen == [40010, 40002, 40004, 40003]
    assert (payload["status_desc"], payload["action"]) == ("Completed", "add")
    assert counts(payload) == {
        "total": 5,
        "success": 1,
        "existing": 2,
        "duplicate": 1,
        "invalid": 1,
    }
    assert dump(og) == {
        "active@example.com": ("active", {"first_name": "Al"}),  # no overwrite: unchanged
        "bounced@example.com": ("bounced", {}),
        "new@example.com": ("active", {"first_name": "Nia"}),
        "unsub@example.com": ("unsubscribed", {}),  # an add never re-activates
    }


def test_add_with_overwrite_updates_fields_but_never_status(og: httpx.Client) -> None:
    url = host(og, "upd.csv", "email,first_name\nactive@example.com,Alan\nunsub@example.com,U\n")
    run_import(og, {"file_url": url, "csv_delimiter": ",", "overwrite": True})
    assert dump(og)["active@example.com"] == ("active", {"first_name": "Alan"})
    assert dump(og)["unsub@example.com"] == ("unsubscribed", {"first_name": "U"})


@pytest.mark.parametrize(
    ("action", "expected", "count"),
    [
        ("remove", None, {"total": 2, "success": 1, "not_existing": 1}),
        ("unsubscribe", "unsubscribed", {"total": 2, "success": 1, "not_existing": 1}),
        ("bounce", "bounced", {"total": 2, "success": 1, "not_existing": 1}),
        ("complaint", "complaint", {"total": 2, "success": 1, "not_existing": 1}),
    ],
)
def test_suppression_actions(
    og: httpx.Client, action: str, expected: str | None, count: dict[str, int]
) -> None:
    url = host(og, f"{action}.csv", "email\nactive@example.com\nghost@example.com\n")
    _, payload = run_import(og, {"file_url": url, "csv_delimiter": ",", "import_action": action})
    assert counts(payload) == count
    assert dump(og).get("active@example.com", (None, {}))[0] == expected


def test_resubscribe_revives_and_counts_active_as_existing(og: httpx.Client) -> None:
    url = host(og, "re.csv", "email;first_name\nunsub@example.com;Una\nactive@example.com;\n")
    _, payload = run_import(
        og, {"file_url": url, "csv_delimiter": ";", "import_action": "resubscribe"}
    )
    assert counts(payload) == {"total": 2, "success": 1, "existing": 1}
    assert dump(og)["unsub@example.com"] == ("active", {"first_name": "Una"})


def test_zip_with_one_csv_and_tab_delimiter(og: httpx.Client) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("contacts.txt", "email\tfirst_name\nzip@example.com\tZed\n")
    url = og.put("/_sandbox/files/c.zip", content=archive.getvalue()).json()["url"]
    _, payload = run_import(og, {"file_url": url, "csv_delimiter": "t"})
    assert counts(payload) == {"total": 1, "success": 1}
    assert dump(og)["zip@example.com"] == ("active", {"first_name": "Zed"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Validation error: file_url is required"),
        (
            {"file_url": "ftp://x.example.com/f.csv"},
            "Validation error: file_url must be an http or https URL",
        ),
        (
            {"file_url": "http://x.example.com/f.csv", "csv_delimiter": ":"},
            "Validation error: csv_delimiter must be one of ',', '|', 't' (tab) or ';'",
        ),
        (
            {"file_url": "http://x.example.com/f.csv", "import_action": "delete"},
            "Validation error: import_action must be one of add, remove, unsubscribe, "
            "resubscribe, bounce, complaint",
        ),
        (
            {"file_url": "http://x.example.com/f.csv", "import_type": "suppression"},
            "Validation error: import_type suppression does not match list 1001 (sending list)",
        ),
        (
            {"file_url": "http://x.example.com/f.csv", "overwrite": "yes"},
            "Validation error: overwrite must be a boolean",
        ),
        (
            {"file_url": "http://x.example.com/f.csv", "list_id": 7},
            "Validation error: list_id 7 does not match the list in the URL (1001)",
        ),
    ],
)
def test_import_validations_answer_500(
    og: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = og.post(f"/ongage/{LIST}/api/import", json=body)
    assert response.status_code == 500
    assert response.json() == {
        "metadata": {"error": True},
        "payload": {"code": 500, "message": message},
    }


def test_unreachable_file_and_unknown_column_end_invalid(og: httpx.Client) -> None:
    seen, payload = run_import(og, {"file_url": f"{og.base_url}/_sandbox/files/missing.csv"})
    assert (seen[-1], payload["status_desc"]) == (90008, "Invalid")
    url = host(og, "bad.csv", "email,shoe_size\na@example.com,9\n")
    _, payload = run_import(og, {"file_url": url})
    assert (payload["status"], payload["status_info"]) == (
        90008,
        "unknown list field(s): shoe_size",
    )


def test_imports_in_progress_are_unlimited_unless_a_seed_sets_a_limit(og: httpx.Client) -> None:
    """Ongage's documents state no limit on imports in progress: by default the sandbox has
    none; the seed setting ``max_imports_in_progress`` (invented) refuses the next one."""
    url = host(og, "a.csv", "email\nx@example.com\n")
    ids = [
        og.post(f"/ongage/{LIST}/api/import", json={"file_url": url}).json()["payload"]["id"]
        for _ in range(3)
    ]
    assert og.post("/_sandbox/seed", json={"ongage": {"settings": {"max_imports_in_progress": 3}}})
    fourth = og.post(f"/ongage/{LIST}/api/import", json={"file_url": url})
    assert (fourth.status_code, fourth.json()) == (
        500,
        {
            "metadata": {"error": True},
            "payload": {
                "code": 500,
                "message": "Validation error: list 1001 already has 3 imports in progress; "
                "wait for one to end",
            },
        },
    )
    listing = og.get(f"/ongage/{LIST}/api/import").json()["payload"]
    assert [(item["id"], item["status"]) for item in listing] == [
        (ids[2], 40001),
        (ids[1], 40001),
        (ids[0], 40001),
    ]
    # One import ending frees a place: the next is accepted.
    _, first = run_import_polls(og, ids[0])
    assert first["status"] == 40003
    assert og.post(f"/ongage/{LIST}/api/import", json={"file_url": url}).json()["payload"] == {
        "id": ids[2] + 1
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"max_imports_in_progress": 0},
            "max_imports_in_progress must be a whole number of at least 1",
        ),
        (
            {"max_imports": 2},
            "unknown setting 'max_imports' (known: max_imports_in_progress, import_seconds)",
        ),
        ({"import_seconds": 0}, "import_seconds must be a number of seconds from 0 to 3600"),
        ({"import_seconds": True}, "import_seconds must be a number of seconds from 0 to 3600"),
    ],
)
def test_a_wrong_setting_is_refused(
    og: httpx.Client, settings: dict[str, Any], message: str
) -> None:
    response = og.post("/_sandbox/seed", json={"ongage": {"settings": settings}})
    assert response.status_code == 400
    assert message in response.text


class Clock:
    """The emulator's clock, moved by the test: imports that run in time, without waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


def test_with_import_seconds_an_import_runs_in_time_whether_or_not_it_is_read(
    og: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invented ``import_seconds``: each of an import's four moves takes a quarter of it,
    however often it is read; the limit on imports in progress counts an import whose time is
    up as ended, though nobody read it."""
    clock = Clock()
    monkeypatch.setattr(ongage_imports, "time", clock)
    settings = {"import_seconds": 8, "max_imports_in_progress": 1}
    assert og.post("/_sandbox/seed", json={"ongage": {"settings": settings}}).status_code == 200
    url = host(og, "t.csv", "email,first_name\ntim@example.com,Tim\n")
    first = og.post(f"/ongage/{LIST}/api/import", json={"file_url": url}).json()["payload"]["id"]

    def status() -> int:
        reply = og.get(f"/ongage/{LIST}/api/import/{first}").json()
        return int(reply["payload"]["status"])

    assert [status(), status(), status()] == [40001, 40001, 40001]  # reads do not move it
    clock.now += 4
    assert status() == 40002  # half its time: Processing
    assert og.post(f"/ongage/{LIST}/api/import", json={"file_url": url}).status_code == 500
    clock.now += 4  # its time is up; nobody reads it before the next import is created
    second = og.post(f"/ongage/{LIST}/api/import", json={"file_url": url})
    assert second.status_code == 200, second.text
    listing = og.get(f"/ongage/{LIST}/api/import").json()["payload"]
    assert [(i["id"], i["status"]) for i in listing] == [
        (second.json()["payload"]["id"], 40001),
        (first, 40003),
    ]
    assert dump(og)["tim@example.com"] == ("active", {"first_name": "Tim"})


def test_failed_job_applies_half_then_ends_90001(og: httpx.Client) -> None:
    og.post("/_sandbox/faults", json={"path": "/", "kind": "fail_job", "vendor": "ongage"})
    url = host(og, "f.csv", "email\nf1@example.com\nf2@example.com\n")
    seen, payload = run_import(og, {"file_url": url})
    assert seen[-1] == 90001 and payload["status_desc"] == "Error"
    assert counts(payload) == {"total": 2, "success": 1, "failed": 1}
    assert "f1@example.com" in dump(og) and "f2@example.com" not in dump(og)


def test_auth_is_required(running: EmbeddedSandbox) -> None:
    response = httpx.get(f"{running.base_url}/ongage/{LIST}/api/import")
    assert response.status_code == 403
    assert response.json()["payload"]["message"].startswith("Permission error")


def test_unknown_import_is_404(og: httpx.Client) -> None:
    assert og.get(f"/ongage/{LIST}/api/import/424242").status_code == 404


def export(client: httpx.Client, body: dict[str, Any]) -> tuple[int, list[list[str]]]:
    created = client.post(f"/ongage/{LIST}/api/export", json=body)
    assert created.status_code == 200, created.text
    export_id = created.json()["payload"]["id"]
    not_ready = 0
    while True:
        response = client.get(f"/ongage/{LIST}/api/export/{export_id}/retrieve")
        if response.status_code != 412:
            break
        not_ready += 1
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        (name,) = zf.namelist()
        rows = list(csv.reader(io.StringIO(zf.read(name).decode())))
    return not_ready, rows


EXPORT = {"name": "x", "date_format": "mm/dd/yyyy", "file_format": "csv", "segment_id": [1001]}


def test_export_is_412_until_ready_then_a_zip_filtered_by_status(og: httpx.Client) -> None:
    not_ready, rows = export(og, {**EXPORT, "status": ["active"]})
    assert not_ready == 1
    assert rows == [["email", "first_name"], ["active@example.com", "Al"]]
    _, rows = export(
        og, {**EXPORT, "status": ["unjoin-member", "bounced"], "fields_selected": ["email"]}
    )
    assert rows == [["email"], ["bounced@example.com"], ["unsub@example.com"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Invalid data: name is required"),
        (
            {"date_format": "yyyy"},
            "Invalid data: date_format must be one of mm/dd/yyyy, "
            "mm/dd/yy, mm-dd-yyyy, mm-dd-yy, dd/mm/yyyy, dd/mm/yy, dd-mm-yyyy, dd-mm-yy",
        ),
        ({"file_format": "xlsx"}, "Invalid data: file_format must be 'csv'"),
        ({"segment_id": None}, "Invalid data: segment_id or mailing_id is required"),
        (
            {"segment_id": [5]},
            "Invalid data: unknown segment_id; list 1001 has segment 1001 (All members)",
        ),
        ({"status": []}, "Invalid data: status is required (an array)"),
        (
            {"status": ["gone"]},
            "Invalid data: status 'gone' is not one of active, "
            "unjoin-member, clicked, opened, inactive, bounced, complaint",
        ),
        (
            {"segment_id": None, "mailing_id": [4452], "status": ["bounced"]},
            "Invalid data: status bounced is available for export based on segment only",
        ),
        (
            {"status": ["active"], "fields_selected": ["shoe"]},
            "Invalid data: unknown field(s) in fields_selected: shoe",
        ),
    ],
)
def test_export_validations_answer_412(
    og: httpx.Client, change: dict[str, Any], message: str
) -> None:
    body = {**EXPORT, "status": ["active"], **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = og.post(f"/ongage/{LIST}/api/export", json=body)
    assert response.status_code == 412
    assert response.json()["payload"]["message"] == message
