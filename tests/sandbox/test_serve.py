"""`reconciler sandbox serve` as a process: listens on loopback, persists, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.s3server import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/state", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("sandbox did not start")


def test_serve_persists_across_restarts_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    seed = tmp_path / "seed.yaml"
    seed.write_text("yesmail:\n  subscribers: [ann@example.com]\n")
    proc = start("--port", str(port), "--data", str(tmp_path / "data"), "--seed", str(seed))
    try:
        wait_up(url)
        before = httpx.get(f"{url}/_sandbox/state").json()["vendors"]["yesmail"]
        httpx.put(f"{url}/_sandbox/files/x.csv", content=b"email\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.splitlines()[0] == f"reconciler sandbox listening on {url}"
    assert [s["email"] for s in before["subscribers"]] == ["ann@example.com"]

    # Restarted on the same data dir (with a different seed: ignored, the dir is not new).
    seed.write_text("yesmail:\n  subscribers: [bob@example.com]\n")
    proc = start("--port", str(port), "--data", str(tmp_path / "data"), "--seed", str(seed))
    try:
        wait_up(url)
        after = httpx.get(f"{url}/_sandbox/state").json()["vendors"]["yesmail"]
        assert httpx.get(f"{url}/_sandbox/files/x.csv").content == b"email\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert [s["email"] for s in after["subscribers"]] == ["ann@example.com"]


def test_serve_refuses_a_non_loopback_address() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "sandbox", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: refusing to listen on 0.0.0.0: the sandbox accepts any credentials. Use "
        "127.0.0.1, or --allow-remote if you really mean it.\n"
    )
