"""The faults that set the vendor's act apart from its answer (``reconciler/sandbox/faults.py``):
``drop`` (the connection closed without an answer, the vendor having acted or not) and
``act_after`` (the vendor takes the request now and acts on it later, kept in the store, even
for a sandbox started afterwards on the same data)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox.server import EmbeddedSandbox

AUTH = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "a"}
IMPORTS = "/ongage/1001/api/import"
SEED = {"ongage": {"lists": {"1001": {"fields": [], "contacts": []}}}}


def imports(http: httpx.Client) -> list[str]:
    return [item["name"] for item in http.get(IMPORTS, headers=AUTH).json()["payload"]]


def post_import(http: httpx.Client) -> httpx.Response:
    url = http.put("/_sandbox/files/a.csv", content=b"email\nann@example.com\n").json()["url"]
    return http.post(IMPORTS, headers=AUTH, json={"file_url": url})


@pytest.mark.parametrize("after", [False, True], ids=["before-acting", "after-acting"])
def test_a_drop_closes_the_connection_without_an_answer(
    sandbox: EmbeddedSandbox, http: httpx.Client, after: bool
) -> None:
    sandbox.app.seed(SEED)
    http.post("/_sandbox/faults", json={"path": IMPORTS, "kind": "drop", "after": after})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post_import(http)
    assert imports(http) == (["a.csv"] if after else [])
    # Logged with the vendor's answer when it acted, else as no answer at all (0).
    log = [(r["method"], r["status"]) for r in sandbox.app.request_log() if r["path"] == IMPORTS]
    assert log[0] == ("POST", 200 if after else 0)
    assert post_import(http).status_code == 200  # used up: the next request is served


def test_act_after_answers_now_and_acts_once_when_due(
    sandbox: EmbeddedSandbox, http: httpx.Client
) -> None:
    sandbox.app.seed(SEED)
    fault = {"path": IMPORTS, "method": "POST", "kind": "status", "status": 502, "act_after": 0.5}
    http.post("/_sandbox/faults", json=fault)
    assert post_import(http).status_code == 502
    assert imports(http) == []  # not committed yet
    time.sleep(0.6)
    assert imports(http) == ["a.csv"]  # the first request served once due acted first
    assert imports(http) == ["a.csv"]  # and only once
    assert sandbox.app.deferred.pending() == 0
    statuses = [(r["method"], r["status"]) for r in sandbox.app.request_log()]
    assert statuses.count(("POST", 200)) == 1


def test_a_delayed_act_outlives_the_sandbox_that_took_the_request(tmp_path: Path) -> None:
    """An embedded sandbox ends with its command: the vendor's commit must not."""
    with EmbeddedSandbox(tmp_path, seed=SEED) as first, httpx.Client(base_url=first.base_url) as h:
        h.post("/_sandbox/faults", json={"path": IMPORTS, "kind": "drop", "act_after": 0.3})
        with pytest.raises(httpx.RemoteProtocolError):
            post_import(h)
    time.sleep(0.4)
    with EmbeddedSandbox(tmp_path) as later, httpx.Client(base_url=later.base_url) as h:
        assert imports(h) == ["a.csv"]


def test_a_delayed_multipart_import_is_replayed_whole(
    sandbox: EmbeddedSandbox, http: httpx.Client
) -> None:
    sandbox.app.seed({"listmonk": {"lists": {"3": {"name": "news"}}}})
    path = "/listmonk/api/import/subscribers"
    http.post("/_sandbox/faults", json={"path": path, "kind": "hang", "seconds": 1, "act_after": 0})
    params = {"mode": "subscribe", "delim": ",", "lists": [3], "overwrite": False}
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            path,
            auth=("u", "p"),
            data={"params": json.dumps(params)},
            files={"file": ("news.csv", b"email,name\nbob@example.com,Bob\n", "text/csv")},
            timeout=0.3,
        )
    status = http.get(path, auth=("u", "p")).json()["data"]
    assert (status["name"], status["total"]) == ("news.csv", 1)
