"""The emulated Yesmail API against its document: yesmail-target-list-file-import.txt.

Everything goes over real HTTP on loopback to the sandbox; source files are hosted by the
sandbox's own file host unless a test needs a misbehaving one.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.sandbox.yesmail_seed import SeedError

AUTH = {"Api-User": "tester", "Api-Key": "secret"}
IMPORT = "/yesmail/v2/target-lists/{}/members/file-import"
BY_INDEX = [{"id": 0}, {"firstname": 1}, {"lastname": 2}]
UNAUTHORIZED = {"status": 401, "message": "Invalid Api-User and/or Api-Key header value."}


# -- fixtures and helpers -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[EmbeddedSandbox]:
    with EmbeddedSandbox() as running:
        yield running


@pytest.fixture
def sandbox(shared_sandbox: EmbeddedSandbox) -> EmbeddedSandbox:
    """One sandbox for the module, reset before each test: starting and stopping a server per
    test costs half a second each (werkzeug's shutdown poll interval)."""
    shared_sandbox.app.reset()
    shared_sandbox.app.settings.polls_per_step = 1
    return shared_sandbox


def seed(http: httpx.Client, data: dict[str, Any]) -> None:
    http.post("/_sandbox/seed", json={"yesmail": data}).raise_for_status()


def host(http: httpx.Client, name: str, content: str | bytes) -> str:
    body = content.encode() if isinstance(content, str) else content
    url: str = http.put(f"/_sandbox/files/{name}", content=body).json()["url"]
    return url


def start(
    http: httpx.Client, payload: Any, listname: str = "news", **params: str
) -> httpx.Response:
    return http.post(IMPORT.format(listname), headers=AUTH, json=payload, params=params)


def source(uri: str, mappings: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"source": {"uri": uri, "mappings": mappings or BY_INDEX}, **extra}


def poll(http: httpx.Client, location: str, limit: int = 20) -> tuple[list[str], dict[str, Any]]:
    """The states seen by polling the ticket until it is final, and the final ticket."""
    states: list[str] = []
    for _ in range(limit):
        ticket: dict[str, Any] = http.get(location, headers=AUTH).json()
        states.append(ticket["state"])
        if ticket["state"] in ("completed", "failed"):
            return states, ticket
    raise AssertionError(f"ticket still {states[-1]} after {limit} polls")


def run(http: httpx.Client, payload: Any, listname: str = "news") -> dict[str, Any]:
    accepted = start(http, payload, listname)
    assert accepted.status_code == 202, accepted.text
    return poll(http, accepted.headers["Content-Location"])[1]


def results(http: httpx.Client, ticket: dict[str, Any]) -> dict[str, Any]:
    response = http.get(ticket["response"]["location"], headers=AUTH)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def outcome(body: dict[str, Any]) -> tuple[list[int], list[tuple[int, int, str]], list[int]]:
    """(completed indexes, failed (index, status, message), ignored indexes)."""
    return (
        [c["index"] for c in body["completed"]],
        [(f["index"], f["error"]["status"], f["error"]["message"]) for f in body["failed"]],
        [i["index"] for i in body["ignored"]],
    )


def lists(http: httpx.Client) -> dict[str, Any]:
    state: dict[str, Any] = http.get("/_sandbox/state").json()["vendors"]["yesmail"]["lists"]
    return state


def events(ticket: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["state"], e["message"]) for e in ticket["events"]]


@pytest.fixture
def news(http: httpx.Client) -> None:
    """Subscribers a, b, c, d; list ``news`` holds a (Ann Old) and b (Bob)."""
    seed(
        http,
        {
            "subscribers": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
            "lists": {
                "news": {
                    "contacts": [
                        {
                            "email": "a@example.com",
                            "fields": {"firstname": "Ann", "lastname": "Old"},
                        },
                        {"email": "b@example.com", "fields": {"firstname": "Bob"}},
                    ]
                }
            },
        },
    )


class FlakyFileHost:
    """A file host on loopback that answers 503 to its first ``failures`` requests."""

    def __init__(self, content: bytes, failures: int) -> None:
        self.content, self.failures, self.requests = content, failures, 0
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/members.csv"

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.requests += 1
        response = (
            Response("busy", status=503)
            if self.requests <= self.failures
            else Response(self.content, mimetype="text/csv")
        )
        return response(environ, start_response)


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[FlakyFileHost]:
    content, failures = request.param
    hosted = FlakyFileHost(content, failures)
    thread = threading.Thread(target=hosted.server.serve_forever, daemon=True)
    thread.start()
    yield hosted
    hosted.server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port every connection to is refused: bound for the whole test, so no other process
    can take it, and never listening (Linux answers a connection to it with a reset)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


# -- authentication -----------------------------------------------------------------------------
ENDPOINTS = [
    ("POST", IMPORT.format("news")),
    ("GET", "/yesmail/v2/tickets/1"),
    ("GET", "/yesmail/v2/async-results/1"),
    ("GET", "/yesmail/v2/target-lists?view=schema"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Api-User": "tester"}, {"Api-Key": "secret"}, {"Api-User": "", "Api-Key": "secret"}],
)
def test_every_endpoint_needs_api_user_and_api_key(
    http: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> None:
    response = http.request(method, path, headers=headers, json={})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_once_credentials_are_seeded_only_they_are_accepted(http: httpx.Client) -> None:
    seed(http, {"credentials": {"api_user": "tester", "api_key": "secret"}})
    wrong = http.get("/yesmail/v2/tickets/1", headers={"Api-User": "tester", "Api-Key": "nope"})
    assert (wrong.status_code, wrong.json()) == (401, UNAUTHORIZED)
    right = http.get("/yesmail/v2/tickets/1", headers=AUTH)
    assert (right.status_code, right.json()) == (
        404,
        {"status": 404, "message": "Ticket 1 does not exist."},
    )


# -- request validation -------------------------------------------------------------------------
URI = "http://files.example.com/members.csv"
ERROR_THRESHOLD = (
    "errorThreshold must be an integer >= 0 or a quoted percentage strictly between"
    ' 0% and 100% such as "5%": got {}.'
)
INVALID_PAYLOADS = [
    ([], "Request payload must be a JSON object."),
    ({}, "source is required."),
    ({"source": "http://x"}, "source must be an object."),
    (
        {**source(URI), "errorthreshold": 5},
        "Unknown property 'errorthreshold'. Allowed: errorThreshold, importType, responseRef,"
        " responseUri, source.",
    ),
    (
        {"source": {"uri": URI, "mappings": BY_INDEX, "header": True}},
        "Unknown property 'source.header'. Allowed: headers, mappings, separator, uri.",
    ),
    ({"source": {"mappings": BY_INDEX}}, "source.uri is required."),
    ({"source": {"uri": 42, "mappings": BY_INDEX}}, "source.uri is required."),
    (
        source("file:///tmp/m.csv"),
        "source.uri must use http, https or ftp: got 'file:///tmp/m.csv'.",
    ),
    (
        source("s3://bucket/m.csv"),
        "source.uri must use http, https or ftp: got 's3://bucket/m.csv'.",
    ),
    (source("members.csv"), "source.uri must use http, https or ftp: got 'members.csv'."),
    (source("http:///m.csv"), "source.uri has no host: 'http:///m.csv'."),
    (
        {"source": {"uri": URI, "mappings": BY_INDEX, "headers": "yes"}},
        "source.headers must be true or false.",
    ),
    (
        {"source": {"uri": URI, "mappings": BY_INDEX, "separator": ":"}},
        "source.separator must be one of ',', '\\t', '|', ';': got ':'.",
    ),
    (
        {"source": {"uri": URI, "mappings": BY_INDEX, "separator": "\\t"}},
        "source.separator must be one of ',', '\\t', '|', ';': got '\\\\t'.",
    ),
    ({"source": {"uri": URI}}, "source.mappings is required."),
    (
        {"source": {"uri": URI, "mappings": {"id": 0}}},
        'source.mappings must be a non-empty array of objects such as {"id": 0}.',
    ),
    (
        {"source": {"uri": URI, "mappings": []}},
        'source.mappings must be a non-empty array of objects such as {"id": 0}.',
    ),
    ({"source": {"uri": URI, "mappings": [{}]}}, "source.mappings maps no column."),
    *[
        (
            source(URI, [{"id": bad}]),
            "source.mappings value for 'id' must be a column index (an integer >= 0)"
            " or a header column name.",
        )
        for bad in (-1, True, 1.5, "", None)
    ],
    (
        {"source": {"uri": URI, "headers": True, "mappings": [{"id": 0}, {"firstname": "first"}]}},
        "source.mappings must use either column indexes or header names for every key, not both.",
    ),
    (
        source(URI, [{"id": "email"}]),
        "source.mappings uses header names but source.headers is false:"
        " without a header row only column indexes are allowed.",
    ),
    (
        source(URI, [{"id": 0}, {"email": 1}]),
        "source.mappings key 'email' does not exist in the load table of target list 'news'"
        " (columns: id, firstname, lastname).",
    ),
    (
        source(URI, [{"id": 0}, {"firstname": 1}, {"firstname": 2}]),
        "source.mappings maps 'firstname' more than once.",
    ),
    (source(URI, [{"firstname": 1}]), "source.mappings must map the member ID column 'id'."),
    (
        {**source(URI), "importType": "upsert"},
        "importType must be one of ignore, update, replace: got 'upsert'.",
    ),
    *[
        ({**source(URI), "errorThreshold": bad}, ERROR_THRESHOLD.format(repr(bad)))
        for bad in (-1, 1.5, True, "5", "0%", "100%", "150%", "5 %", "-5%", "five%", None)
    ],
    ({**source(URI), "responseRef": 7}, "responseRef must be a string."),
]


@pytest.mark.parametrize(("payload", "message"), INVALID_PAYLOADS)
def test_each_documented_rule_rejects_the_request_with_400(
    http: httpx.Client, payload: Any, message: str
) -> None:
    response = start(http, payload)
    assert (response.status_code, response.json()) == (400, {"status": 400, "message": message})
    assert "Content-Location" not in response.headers
    assert http.get("/yesmail/v2/tickets/1", headers=AUTH).status_code == 404


def test_a_payload_that_is_not_json_is_rejected(http: httpx.Client) -> None:
    response = http.post(IMPORT.format("news"), headers=AUTH, content=b"source=x")
    assert response.json() == {"status": 400, "message": "Request payload must be a JSON object."}


@pytest.mark.parametrize(
    "payload",
    [
        source("https://user:pw@files.example.com/m.txt"),
        source("ftp://user:pw@ftp.example.com/m.csv"),
        {**source(URI), "errorThreshold": 0},
        {**source(URI), "errorThreshold": 100},
        {**source(URI), "errorThreshold": "5%"},
        {**source(URI), "errorThreshold": "0.5%"},
        {**source(URI), "errorThreshold": "99.9%"},
        *[{**source(URI), "importType": t} for t in ("ignore", "update", "replace")],
        *[{"source": {"uri": URI, "mappings": BY_INDEX, "separator": s}} for s in ",\t|;"],
        {"source": {"uri": URI, "headers": True, "mappings": [{"id": "email"}]}},
        {"source": {"uri": URI, "headers": True, "mappings": [{"id": 2}]}},
        {"source": {"uri": URI, "mappings": [{"id": 0, "lastname": 1}]}},
    ],
)
def test_valid_requests_are_accepted(http: httpx.Client, payload: dict[str, Any]) -> None:
    assert start(http, payload).status_code == 202


def test_the_load_table_columns_are_the_seeded_ones(http: httpx.Client) -> None:
    seed(http, {"lists": {"vip": {"columns": ["tier"]}}})
    assert start(http, source(URI, [{"id": 0}, {"tier": 1}]), "vip").status_code == 202
    rejected = start(http, source(URI, [{"id": 0}, {"firstname": 1}]), "vip")
    assert rejected.json()["message"] == (
        "source.mappings key 'firstname' does not exist in the load table of target list 'vip'"
        " (columns: id, tier)."
    )


# -- the ticket lifecycle -----------------------------------------------------------------------
def test_ticket_lifecycle_seen_by_polling(
    sandbox: EmbeddedSandbox, http: httpx.Client, news: None
) -> None:
    url = host(http, "m.csv", "c@example.com,Cy,Doe\nd@example.com,Di,\n")
    accepted = start(http, source(url), responseUri="https://hooks.example.com/y", responseRef="r1")
    assert accepted.status_code == 202
    ticket = accepted.json()
    location = f"{sandbox.base_url}/yesmail/v2/tickets/{ticket['id']}"
    assert accepted.headers["Content-Location"] == location
    assert (ticket["state"], ticket["message"]) == (
        "accepted",
        "File import to target list accepted.",
    )
    assert ticket["request"] == {
        "id": ticket["request"]["id"],
        "user": "tester",
        "time": ticket["lastUpdate"],
        "uri": f"{sandbox.base_url}{IMPORT.format('news')}"
        "?responseUri=https%3A%2F%2Fhooks.example.com%2Fy&responseRef=r1",
    }
    assert ticket["response"] == {"uri": "https://hooks.example.com/y", "ref": "r1"}

    states, final = poll(http, location)

    assert states == ["processing", "completed"]
    assert events(final) == [
        ("accepted", "File import to target list accepted."),
        ("processing", "File downloaded."),
        ("processing", "File pre-parsed, importing 2 records."),
        ("completed", "File imported successfully."),
    ]
    assert (final["message"], final["lastUpdate"]) == (
        "File imported successfully.",
        final["events"][-1]["time"],
    )
    assert final["request"] == ticket["request"]
    assert final["response"] == {
        "uri": "https://hooks.example.com/y",
        "ref": "r1",
        "location": final["response"]["location"],
    }
    assert final["response"]["location"].startswith(f"{sandbox.base_url}/yesmail/v2/async-results/")
    assert results(http, final)["counts"] == {
        "completed": 2,
        "failed": 0,
        "ignored": 0,
        "total": 2,
        "requested": 2,
    }
    # Further polls change nothing and apply nothing twice.
    assert http.get(location, headers=AUTH).json() == final
    assert [m["email"] for m in lists(http)["news"]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ]


def test_polls_per_step_paces_the_lifecycle(http: httpx.Client, news: None) -> None:
    http.post("/_sandbox/settings", json={"polls_per_step": 2}).raise_for_status()
    accepted = start(http, source(host(http, "m.csv", "c@example.com,Cy,Doe\n")))
    states, _ = poll(http, accepted.headers["Content-Location"])
    assert states == ["accepted", "processing", "processing", "completed"]


def test_unknown_tickets_and_results_are_404(http: httpx.Client) -> None:
    for path, message in [
        ("/yesmail/v2/tickets/99", "Ticket 99 does not exist."),
        ("/yesmail/v2/tickets/abc", "Ticket abc does not exist."),
        ("/yesmail/v2/tickets/%C2%B2", "Ticket ² does not exist."),
        ("/yesmail/v2/tickets/99999999999999999999", "Ticket 99999999999999999999 does not exist."),
        ("/yesmail/v2/async-results/99", "Async results 99 do not exist."),
    ]:
        response = http.get(path, headers=AUTH)
        assert (response.status_code, response.json()) == (404, {"status": 404, "message": message})


def test_a_missing_file_fails_the_ticket_without_retrying(
    sandbox: EmbeddedSandbox, http: httpx.Client
) -> None:
    url = f"{sandbox.base_url}/_sandbox/files/absent.csv"
    states, ticket = poll(http, start(http, source(url)).headers["Content-Location"])
    assert states == ["failed"]
    assert events(ticket) == [
        ("accepted", "File import to target list accepted."),
        ("failed", f"File download failed: HTTP 404 from {url}."),
    ]
    assert ticket["response"] == {}


@pytest.mark.parametrize("flaky", [(b"c@example.com,Cy,Doe\n", 1)], indirect=True)
def test_a_transient_download_failure_is_retried_once(
    http: httpx.Client, news: None, flaky: FlakyFileHost
) -> None:
    states, ticket = poll(http, start(http, source(flaky.url)).headers["Content-Location"])
    assert states == ["retrying", "processing", "completed"]
    assert events(ticket)[1:3] == [
        ("retrying", f"File download failed: HTTP 503 from {flaky.url}. Retrying."),
        ("processing", "File downloaded."),
    ]
    assert flaky.requests == 2
    assert "c@example.com" in [m["email"] for m in lists(http)["news"]]


def test_a_download_failing_twice_fails_the_ticket(http: httpx.Client, refused_port: int) -> None:
    url = f"http://127.0.0.1:{refused_port}/members.csv"
    states, ticket = poll(http, start(http, source(url)).headers["Content-Location"])
    assert states == ["retrying", "failed"]
    assert events(ticket)[1:] == [
        ("retrying", f"File download failed: ConnectError fetching {url}. Retrying."),
        ("failed", f"File download failed: ConnectError fetching {url}."),
    ]


def test_ftp_is_accepted_but_cannot_be_fetched_by_the_sandbox(http: httpx.Client) -> None:
    accepted = start(http, source("ftp://user:pw@ftp.example.com/m.csv"))
    states, ticket = poll(http, accepted.headers["Content-Location"])
    assert states == ["failed"]
    assert ticket["message"] == (
        "File download failed: the sandbox cannot fetch ftp URIs"
        " (ftp://user:***@ftp.example.com/m.csv)."
    )


@pytest.mark.parametrize(
    ("content", "payload_source", "message"),
    [
        (
            "email,first\nc@example.com,Cy\n",
            {"headers": True, "mappings": [{"id": "mail"}, {"firstname": "first"}]},
            "File pre-parse failed: Header row has no column 'mail' (mapped to 'id').",
        ),
        (
            "",
            {"headers": True, "mappings": [{"id": "email"}]},
            "File pre-parse failed: File has no header row.",
        ),
        (
            b"c@example.com,Caf\xe9\n",
            {"mappings": BY_INDEX},
            "File pre-parse failed: File is not UTF-8 text (byte 17).",
        ),
    ],
)
def test_a_file_that_cannot_be_pre_parsed_fails_the_ticket(
    http: httpx.Client,
    news: None,
    content: str | bytes,
    payload_source: dict[str, Any],
    message: str,
) -> None:
    url = host(http, "m.csv", content)
    states, ticket = poll(
        http, start(http, {"source": {"uri": url, **payload_source}}).headers["Content-Location"]
    )
    assert states == ["failed"]
    assert events(ticket)[1:] == [("processing", "File downloaded."), ("failed", message)]


def test_a_fail_job_fault_fails_the_ticket_midway_and_applies_nothing(
    http: httpx.Client, news: None
) -> None:
    fault = {"path": "/yesmail/", "kind": "fail_job", "vendor": "yesmail"}
    http.post("/_sandbox/faults", json=fault).raise_for_status()
    before = lists(http)
    url = host(http, "m.csv", "c@example.com,Cy,Doe\na@example.com,New,Name\n")
    states, ticket = poll(http, start(http, source(url)).headers["Content-Location"])
    assert states == ["processing", "failed"]
    assert events(ticket)[-1] == (
        "failed",
        "File import failed: internal error. No records were updated or added.",
    )
    assert ticket["response"] == {}
    assert lists(http) == before
    # The fault was for one job only.
    assert run(http, source(url))["state"] == "completed"


# -- records: async results and the load table --------------------------------------------------
def test_async_results_report_every_record_by_index(http: httpx.Client, news: None) -> None:
    content = "\n".join(
        [
            "c@example.com,Cy,Doe",  # 0 completed
            "C@Example.com,Up,Case",  # 1 upper case
            "not-an-address,X,Y",  # 2 invalid
            "zed@example.com,Z,Z",  # 3 not in the subscriber database
            "d@example.com",  # 4 too short for the mappings
            "",  # blank line: not a record
            "b@example.com,Bobby,B",  # 5 completed (existing member, updated)
            " d@example.com,Di,Do",  # 6 leading space: invalid
        ]
    )
    ticket = run(http, source(host(http, "m.csv", content + "\n")))
    assert ticket["state"] == "completed"
    body = results(http, ticket)
    assert body["counts"] == {"completed": 2, "failed": 5, "ignored": 0, "total": 7, "requested": 7}
    assert outcome(body) == (
        [0, 5],
        [
            (1, 400, "Invalid email address. Email address must be in lower case."),
            (2, 400, "Invalid email address."),
            (3, 404, "Member does not exist."),
            (4, 400, "Row has no column 1."),
            (6, 400, "Invalid email address."),
        ],
        [],
    )
    assert body["id"] == ticket["response"]["location"].rsplit("/", 1)[1]
    assert {c["time"] for c in body["completed"]} == {body["lastUpdate"]}
    assert set(body) == {"id", "lastUpdate", "counts", "completed", "failed", "ignored"}


def test_the_completed_key_can_be_seeded_with_the_documents_trailing_space(
    http: httpx.Client, news: None
) -> None:
    seed(http, {"quirks": {"completed_key": "completed "}})
    body = results(http, run(http, source(host(http, "m.csv", "c@example.com,Cy,Doe\n"))))
    assert "completed" not in body
    assert body["completed "] == [{"index": 0, "time": body["lastUpdate"]}]


ANN = {"email": "a@example.com", "status": "active"}
BOB = {"email": "b@example.com", "status": "active", "fields": {"firstname": "Bob"}}
CY = {"email": "c@example.com", "status": "active", "fields": {"firstname": "Cy"}}


@pytest.mark.parametrize(
    ("import_type", "ann", "completed", "ignored"),
    [
        ("ignore", {"firstname": "Ann", "lastname": "Old"}, [1], [0]),
        ("update", {"firstname": "Anna", "lastname": "Old"}, [0, 1], []),
        ("replace", {"firstname": "Anna"}, [0, 1], []),
    ],
)
def test_import_type_decides_what_happens_to_existing_members(
    http: httpx.Client,
    news: None,
    import_type: str,
    ann: dict[str, str],
    completed: list[int],
    ignored: list[int],
) -> None:
    url = host(http, "m.csv", "a@example.com,Anna\nc@example.com,Cy\n")
    payload = {**source(url, [{"id": 0}, {"firstname": 1}]), "importType": import_type}
    ticket = run(http, payload)
    assert outcome(results(http, ticket)) == (completed, [], ignored)
    assert lists(http) == {"news": [{**ANN, "fields": ann}, BOB, CY]}


def test_import_type_defaults_to_update_and_an_empty_cell_clears_the_attribute(
    http: httpx.Client, news: None
) -> None:
    run(http, source(host(http, "m.csv", "a@example.com,,New\n")))
    assert lists(http)["news"][0] == {**ANN, "fields": {"lastname": "New"}}


@pytest.mark.parametrize(
    ("import_type", "cy", "completed", "ignored"),
    [
        ("ignore", {"firstname": "Cy", "lastname": "One"}, [0], [1]),
        ("update", {"firstname": "Cyrus"}, [0, 1], []),
        ("replace", {"firstname": "Cyrus"}, [0, 1], []),
    ],
)
def test_a_member_twice_in_one_file_is_two_requests_in_file_order(
    http: httpx.Client,
    news: None,
    import_type: str,
    cy: dict[str, str],
    completed: list[int],
    ignored: list[int],
) -> None:
    url = host(http, "m.csv", "c@example.com,Cy,One\nc@example.com,Cyrus,\n")
    ticket = run(http, {**source(url), "importType": import_type})
    assert outcome(results(http, ticket)) == (completed, [], ignored)
    assert lists(http)["news"] == [
        {**ANN, "fields": {"firstname": "Ann", "lastname": "Old"}},
        BOB,
        {"email": "c@example.com", "status": "active", "fields": cy},
    ]


# -- the error threshold ------------------------------------------------------------------------
FIVE_ROWS_TWO_BAD = (
    "a@example.com,A\nBAD@example.com,B\nc@example.com,C\nzed@example.com,Z\nd@example.com,D\n"
)


@pytest.mark.parametrize(
    ("threshold", "state"),
    [
        (0, "completed"),  # 0: no check
        (1, "failed"),
        (2, "completed"),  # 2 failures do not exceed 2
        ("39.9%", "failed"),  # 2 of 5 records is 40%
        ("40%", "completed"),
        ("99%", "completed"),
    ],
)
def test_over_the_error_threshold_nothing_is_updated_or_added(
    http: httpx.Client, news: None, threshold: int | str, state: str
) -> None:
    before = lists(http)
    url = host(http, "m.csv", FIVE_ROWS_TWO_BAD)
    payload = {**source(url, [{"id": 0}, {"firstname": 1}]), "errorThreshold": threshold}
    ticket = run(http, payload)
    body = results(http, ticket)
    failures = [
        (1, 400, "Invalid email address. Email address must be in lower case."),
        (3, 404, "Member does not exist."),
    ]
    assert ticket["state"] == state
    if state == "failed":
        assert ticket["message"] == (
            f"Error threshold exceeded: 2 of 5 records failed (errorThreshold {threshold!r})."
            " No records were updated or added."
        )
        assert body["counts"] == {
            "completed": 0,
            "failed": 2,
            "ignored": 0,
            "total": 5,
            "requested": 5,
        }
        assert outcome(body) == ([], failures, [])
        assert lists(http) == before
    else:
        assert outcome(body) == ([0, 2, 4], failures, [])
        assert [m["fields"].get("firstname") for m in lists(http)["news"]] == ["A", "Bob", "C", "D"]


# -- separators, header rows and subscriber status -----------------------------------------------
@pytest.mark.parametrize("separator", [",", "\t", "|", ";"])
def test_each_separator_splits_columns_and_quotes_protect_it(
    http: httpx.Client, news: None, separator: str
) -> None:
    content = f'c@example.com{separator}"Cy{separator} Jr"{separator}Doe\n'
    payload = {
        "source": {
            "uri": host(http, "m.csv", content),
            "mappings": BY_INDEX,
            "separator": separator,
        }
    }
    assert run(http, payload)["state"] == "completed"
    assert lists(http)["news"][2] == {
        **CY,
        "fields": {"firstname": f"Cy{separator} Jr", "lastname": "Doe"},
    }


@pytest.mark.parametrize(
    "mappings", [[{"id": "mail"}, {"lastname": "last"}], [{"id": 1}, {"lastname": 0}]]
)
def test_a_header_row_is_not_a_record(
    http: httpx.Client, news: None, mappings: list[dict[str, Any]]
) -> None:
    url = host(http, "m.csv", "last,mail\nDoe,c@example.com\nDi,d@example.com\n")
    ticket = run(http, {"source": {"uri": url, "headers": True, "mappings": mappings}})
    assert outcome(results(http, ticket)) == ([0, 1], [], [])
    assert [(m["email"], m["fields"]) for m in lists(http)["news"][2:]] == [
        ("c@example.com", {"lastname": "Doe"}),
        ("d@example.com", {"lastname": "Di"}),
    ]


def test_unsubscribed_and_bounced_subscribers_can_join_a_list_and_keep_their_status(
    http: httpx.Client,
) -> None:
    seed(
        http,
        {
            "subscribers": [
                {"email": "u@example.com", "status": "unsubscribed"},
                {"email": "x@example.com", "status": "bounced"},
            ]
        },
    )
    ticket = run(http, source(host(http, "m.csv", "u@example.com\nx@example.com\n"), [{"id": 0}]))
    assert outcome(results(http, ticket)) == ([0, 1], [], [])
    state = http.get("/_sandbox/state").json()["vendors"]["yesmail"]
    assert state == {
        "lists": {
            "news": [
                {"email": "u@example.com", "status": "unsubscribed", "fields": {}},
                {
                    "email": "x@example.com",
                    "status": "bounced",
                    "vendor_status": "dead",
                    "fields": {},
                },
            ]
        },
        "subscribers": [
            {"email": "u@example.com", "status": "unsubscribed"},
            {"email": "x@example.com", "status": "bounced", "vendor_status": "dead"},
        ],
    }


# -- seed and dump ------------------------------------------------------------------------------
def test_dump_lists_every_target_list_and_the_subscriber_database(
    http: httpx.Client, news: None
) -> None:
    seed(
        http,
        {
            "lists": {
                "empty": {"columns": ["tier"]},
                "vip": {
                    "columns": ["tier"],
                    "contacts": [
                        {"email": "e@example.com", "status": "complaint", "fields": {"tier": 1}}
                    ],
                },
            }
        },
    )
    assert http.get("/_sandbox/state").json()["vendors"]["yesmail"] == {
        "lists": {
            "empty": [],
            "news": [{**ANN, "fields": {"firstname": "Ann", "lastname": "Old"}}, BOB],
            "vip": [{"email": "e@example.com", "status": "complaint", "fields": {"tier": "1"}}],
        },
        "subscribers": [
            {"email": f"{c}@example.com", "status": "complaint" if c == "e" else "active"}
            for c in "abcde"
        ],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"members": []}, "unknown key(s) ['members']"),
        ({"subscribers": ["A@example.com"]}, "subscribers: 'A@example.com' must be lower case"),
        ({"subscribers": ["nobody"]}, "subscribers: invalid e-mail address 'nobody'"),
        (
            {"subscribers": [{"email": "a@example.com", "status": "gone"}]},
            "status of a@example.com must be one of",
        ),
        (
            {
                "subscribers": [{"email": "a@example.com", "status": "bounced"}],
                "lists": {"l": {"contacts": [{"email": "a@example.com", "status": "active"}]}},
            },
            "a@example.com is seeded both 'bounced' and 'active'",
        ),
        (
            {"lists": {"l": {"columns": ["email", "tier", "email"]}}},
            "lists.l.columns must not repeat a name",
        ),
        (
            {"lists": {"l": {"contacts": [{"email": "a@example.com", "fields": {"tier": "1"}}]}}},
            "has field(s) ['tier'] that are not load-table columns ['firstname', 'lastname']",
        ),
        ({"credentials": {"api_user": "u"}}, "credentials need a non-empty api_user and api_key"),
        ({"quirks": {"completed_key": "done"}}, "quirks.completed_key must be"),
    ],
)
def test_a_malformed_seed_is_refused_with_its_reason(
    sandbox: EmbeddedSandbox, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(SeedError, match="^yesmail seed: .*" + re.escape(message)):
        sandbox.app.seed({"yesmail": data})


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedSandbox(tmp_path) as first, httpx.Client(base_url=first.base_url) as http:
        seed(http, {"subscribers": ["c@example.com"]})
        url = host(http, "m.csv", "c@example.com,Cy\n")
        ticket = run(http, source(url, [{"id": 0}, {"firstname": 1}]))
        state = lists(http)
    with EmbeddedSandbox(tmp_path) as second, httpx.Client(base_url=second.base_url) as http:
        again = http.get(f"/yesmail/v2/tickets/{ticket['id']}", headers=AUTH).json()
        assert (again["state"], again["events"]) == (ticket["state"], ticket["events"])
        assert again["response"]["location"] == f"{second.base_url}/yesmail/v2/async-results/1"
        assert lists(http) == state == {"news": [{**CY, "fields": {"firstname": "Cy"}}]}


# -- load tables keyed by email, the schema view, the sandbox's own address rule ---------------
def test_a_load_table_keyed_by_email_has_no_id_column(http: httpx.Client) -> None:
    """A seed decides the columns: ``[email, firstname]`` is the whole load table, keyed by
    ``email`` ("If email address is used as the ID"); ``id`` is no column of it."""
    seed(
        http,
        {
            "subscribers": ["a@example.com", "b@example.com"],
            "lists": {
                "vip": {
                    "columns": ["email", "firstname"],
                    "contacts": [{"email": "a@example.com", "fields": {"firstname": "Old"}}],
                }
            },
        },
    )
    by_id = start(http, source(URI, [{"id": 0}, {"firstname": 1}]), "vip")
    assert (by_id.status_code, by_id.json()) == (
        400,
        {
            "status": 400,
            "message": "source.mappings key 'id' does not exist in the load table of target"
            " list 'vip' (columns: email, firstname).",
        },
    )
    no_key = start(http, source(URI, [{"firstname": 1}]), "vip")
    assert no_key.json()["message"] == "source.mappings must map the member ID column 'email'."
    url = host(http, "vip.csv", "email,firstname\na@example.com,Ann\nb@example.com,Bob\n")
    payload = {
        "source": {
            "uri": url,
            "headers": True,
            "mappings": [{"email": "email"}, {"firstname": "firstname"}],
        }
    }
    ticket = run(http, payload, "vip")
    assert ticket["state"] == "completed"
    assert outcome(results(http, ticket)) == ([0, 1], [], [])
    assert lists(http)["vip"] == [
        {"email": "a@example.com", "status": "active", "fields": {"firstname": "Ann"}},
        {"email": "b@example.com", "status": "active", "fields": {"firstname": "Bob"}},
    ]


def test_the_schema_view_lists_every_load_table_as_seeded(http: httpx.Client) -> None:
    seed(
        http,
        {
            "lists": {
                "vip": {"columns": ["email", "firstname"]},
                "legacy": {"columns": ["tier"]},
                "both": {"columns": ["id", "email"]},
            }
        },
    )
    response = http.get("/yesmail/v2/target-lists", params={"view": "schema"}, headers=AUTH)
    assert (response.status_code, response.json()) == (
        200,
        {
            "targetList": [
                {"name": "both", "attributes": [{"name": "id"}, {"name": "email"}]},
                {"name": "legacy", "attributes": [{"name": "id"}, {"name": "tier"}]},
                {"name": "vip", "attributes": [{"name": "email"}, {"name": "firstname"}]},
            ]
        },
    )
    # both: keyed by id, email is an attribute like any other
    assert start(http, source(URI, [{"email": 0}]), "both").json()["message"] == (
        "source.mappings must map the member ID column 'id'."
    )


def test_the_schema_view_can_be_absent_and_the_summary_is_not_emulated(
    http: httpx.Client,
) -> None:
    summary = http.get("/yesmail/v2/target-lists", headers=AUTH)
    assert (summary.status_code, summary.json()) == (
        404,
        {"status": 404, "message": "GET /v2/target-lists is emulated with view=schema only."},
    )
    seed(http, {"quirks": {"schema_view": False}})
    response = http.get("/yesmail/v2/target-lists", params={"view": "schema"}, headers=AUTH)
    assert (response.status_code, response.json()) == (
        404,
        {"status": 404, "message": "Not Found"},
    )


@pytest.mark.parametrize(
    ("member", "error"),
    [
        ("a.b+c@example.co.uk", None),
        ("o'neil@example.com", None),
        ("a@example", (400, "Invalid email address.")),
        ("a b@example.com", (400, "Invalid email address.")),
        ("a@-example.com", (400, "Invalid email address.")),
        ("a@example..com", (400, "Invalid email address.")),
        ("\u00e9@example.com", (400, "Invalid email address.")),
        ("x" * 65 + "@example.com", (400, "Invalid email address.")),
        ("A@example.com", (400, "Invalid email address. Email address must be in lower case.")),
    ],
)
def test_member_ids_are_judged_by_the_sandbox_own_address_rule(
    http: httpx.Client, member: str, error: tuple[int, str] | None
) -> None:
    seed(http, {"subscribers": ["a.b+c@example.co.uk", "o'neil@example.com"]})
    url = host(http, "m.csv", f"{member},X,Y\n")
    body = results(http, run(http, source(url)))
    assert outcome(body) == (([0], [], []) if error is None else ([], [(0, *error)], []))


def test_the_emulator_imports_nothing_of_the_product() -> None:
    """The sandbox is the vendor: it must not share reconciler's address rule, nor know its
    engine, providers, configuration, sources or plans."""
    import subprocess
    import sys

    code = (
        "import sys, reconciler.sandbox.yesmail, reconciler.sandbox.yesmail_seed;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('reconciler.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    forbidden = ("address", "engine", "providers", "config", "sources", "plan")
    assert [m for m in loaded if m.split(".")[1] in forbidden] == []
    assert all(m.startswith("reconciler.sandbox") for m in loaded)
