from __future__ import annotations

import httpx

from reconciler.sandbox.server import EmbeddedSandbox

OG = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "a"}


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


def test_status_faults_answer_n_times_then_service_resumes(http: httpx.Client) -> None:
    http.post(
        "/_sandbox/faults",
        json={"path": "/ongage/", "kind": "status", "status": 503, "count": 2, "method": "GET"},
    )
    codes = [http.get("/ongage/1/api/import", headers=OG).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_hang_fault_is_bounded(sandbox: EmbeddedSandbox, http: httpx.Client) -> None:
    sandbox.app.settings.max_hang_seconds = 0.3
    http.post("/_sandbox/faults", json={"path": "/ongage/", "kind": "hang", "seconds": 60})
    response = http.get("/ongage/1/api/import", headers=OG)
    assert response.status_code == 504


def test_secrets_never_reach_the_request_log_or_the_dump(http: httpx.Client) -> None:
    secret = "s3cr3t-for-tests-only"
    headers = {
        "Authorization": f"Basic {secret}",
        "Api-Key": secret,
        "X-PASSWORD": secret,
        "X-Account-Key": secret,
        "Api-User": secret,
        "X-USERNAME": "u",
        "X-ACCOUNT-CODE": "a",
    }
    for path in (
        "/ongage/1/api/import",
        "/yesmail/v2/tickets/1",
        "/listmonk/api/lists",
        "/omnigage/api/v1/import-contacts/x",
    ):
        http.get(path, headers=headers)
    log = http.get("/_sandbox/requests").text
    assert secret not in log and "***" in log
    assert secret not in http.get("/_sandbox/state").text


def test_listens_on_loopback_only(sandbox: EmbeddedSandbox) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")
