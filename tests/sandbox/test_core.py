from __future__ import annotations

import httpx

from reconciler.sandbox.server import EmbeddedSandbox


def test_file_host_serves_what_was_put(sandbox: EmbeddedSandbox, http: httpx.Client) -> None:
    put = http.put("/_sandbox/files/batch-1.csv", content=b"email\na@example.com\n")
    assert put.status_code == 201
    assert put.json() == {"url": f"{sandbox.base_url}/_sandbox/files/batch-1.csv"}
    assert http.get("/_sandbox/files/batch-1.csv").content == b"email\na@example.com\n"
    assert http.get("/_sandbox/files/missing.csv").status_code == 404


def test_injected_429_carries_retry_after_and_is_logged(http: httpx.Client) -> None:
    fault = {"path": "/ongage/", "kind": "status", "status": 429, "retry_after": 2, "count": 1}
    assert http.post("/_sandbox/faults", json=fault).status_code == 200
    first = http.get("/ongage/1/api/import")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    log = http.get("/_sandbox/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/ongage/1/api/import", 429)
    ]
