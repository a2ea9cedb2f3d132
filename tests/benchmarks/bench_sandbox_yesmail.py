"""1,000,000-row Yesmail file import through the sandbox, over loopback HTTP."""

from __future__ import annotations

import resource
import sys
import time

import httpx

from reconciler.sandbox.server import EmbeddedSandbox

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
H = {"Api-User": "bench", "Api-Key": "bench"}
emails = [f"member{i:07d}@example.com" for i in range(N)]
with EmbeddedSandbox() as sb, httpx.Client(base_url=sb.base_url, timeout=600) as c:
    t = time.perf_counter()
    sb.app.seed({"yesmail": {"subscribers": emails}})
    print(f"seed {N} subscribers (in-process): {time.perf_counter() - t:.2f}s")
    body = "".join(f"{e},First{i},Last{i}\n" for i, e in enumerate(emails)).encode()
    url = c.put("/_sandbox/files/big.csv", content=body).json()["url"]
    t0 = time.perf_counter()
    r = c.post(
        "/yesmail/v2/target-lists/big/members/file-import",
        headers=H,
        json={"source": {"uri": url, "mappings": [{"id": 0}, {"firstname": 1}, {"lastname": 2}]}},
    )
    loc = r.headers["Content-Location"]
    states = [r.json()["state"]]
    while states[-1] not in ("completed", "failed"):
        t = time.perf_counter()
        ticket = c.get(loc, headers=H).json()
        states.append(ticket["state"])
        print(f"  poll -> {states[-1]}: {time.perf_counter() - t:.2f}s")
    t = time.perf_counter()
    res = c.get(ticket["response"]["location"], headers=H)
    counts = res.json()["counts"]
    print(f"  async results ({len(res.content) / 1e6:.0f} MB): {time.perf_counter() - t:.2f}s")
    print(
        f"import total (POST, polls, results): {time.perf_counter() - t0:.2f}s "
        f"states={states} counts={counts}"
    )
    t = time.perf_counter()
    dump = sb.app.vendors["yesmail"].dump()
    print(f"dump: {time.perf_counter() - t:.2f}s members={len(dump['lists']['big'])}")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
