"""1,000,000-row Omnigage import through the sandbox over loopback."""

from __future__ import annotations

import sys
import time

import httpx

from reconciler.sandbox.server import EmbeddedSandbox

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
H = {"X-Account-Key": "firstbank"}
rows = b"".join(b"user%07d@example.com,First%d,Last%d\n" % (i, i, i) for i in range(N))
csv = b"Email Address,First Name,Last Name\n" + rows
print(f"file: {len(csv) / 1e6:.1f} MB, {N} rows")


def run(c: httpx.Client, unique: bool) -> None:
    t0 = time.perf_counter()
    up = c.post(
        "/omnigage/api/v1/uploads", json={"name": "big.csv", "type": "text/csv", "size": len(csv)}
    ).json()["data"]
    a = up["attributes"]
    form = {k: v for d in a["request-form-data"] for k, v in d.items()}
    form["Content-Type"] = "text/csv"
    s3 = c.post(
        a["request-url"],
        data=form,
        files={"file": ("big.csv", csv, "text/csv")},
        headers=a["request-headers"][0],
    )
    assert s3.status_code == 204, s3.text
    t1 = time.perf_counter()
    body = {
        "data": {
            "type": "import-contacts",
            "attributes": {"status": "queued", "unique-primary-email": unique},
            "relationships": {
                "upload": {"data": {"type": "uploads", "id": up["id"]}},
                "list": {"data": {"type": "lists", "id": "L1"}},
            },
        }
    }
    job = c.post("/omnigage/api/v1/import-contacts", json=body)
    assert job.status_code == 201, job.text
    t2 = time.perf_counter()
    iid = job.json()["data"]["id"]
    first = c.get(f"/omnigage/api/v1/import-contacts/{iid}").json()["data"]["attributes"]
    t3 = time.perf_counter()
    final = c.get(f"/omnigage/api/v1/import-contacts/{iid}").json()["data"]["attributes"]
    t4 = time.perf_counter()
    print(
        f"unique={unique}: upload+S3 {t1 - t0:.1f}s, create {t2 - t1:.1f}s, "
        f"poll1 ({first['status']}) {t3 - t2:.1f}s,"
        f" poll2 ({final['status']}) {t4 - t3:.1f}s, total {t4 - t0:.1f}s;",
        {k: v for k, v in final.items() if k.startswith("count")},
    )


with (
    EmbeddedSandbox() as sb,
    httpx.Client(base_url=sb.base_url, headers=H, auth=("k", "s"), timeout=600) as c,
):
    c.post(
        "/_sandbox/seed", json={"omnigage": {"lists": {"L1": {"name": "Big"}}}}
    ).raise_for_status()
    run(c, True)
    run(c, True)
    t = time.perf_counter()
    n = len(c.get("/_sandbox/state").json()["vendors"]["omnigage"]["lists"]["L1"])
    print(f"dump: {n} contacts in {time.perf_counter() - t:.1f}s")
