"""`reconciler sandbox serve` as a process: listens on loopback, persists, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
LISTENING = "reconciler sandbox listening on "


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def listening(proc: subprocess.Popen[str]) -> str:
    """The URL the sandbox says it listens on: with ``--port 0`` the port is the kernel's choice
    (nobody else's), named in the banner the sandbox prints once it accepts connections."""
    assert proc.stdout is not None
    # Read here, line by line: communicate() reads the pipe itself, past what readline buffered.
    banner = [proc.stdout.readline() for _ in range(3)]  # blocks until printed, or the exit
    assert banner[0].startswith(LISTENING), "".join(banner) + proc.communicate(timeout=20)[1]
    url = banner[0][len(LISTENING) :].rstrip("\n")
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", url), url  # the real port, not 0
    assert banner[1:] == [
        f"  vendors: {url}/listmonk, {url}/omnigage, {url}/ongage, {url}/yesmail\n",
        f"  inspect: {url}/_sandbox/state\n",
    ]
    return url


def test_serve_persists_across_restarts_and_stops_on_sigterm(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("yesmail:\n  subscribers: [ann@example.com]\n")
    proc = start("--port", "0", "--data", str(tmp_path / "data"), "--seed", str(seed))
    try:
        url = listening(proc)
        before = httpx.get(f"{url}/_sandbox/state").json()["vendors"]["yesmail"]
        httpx.put(f"{url}/_sandbox/files/x.csv", content=b"email\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert (proc.returncode, out, err) == (0, "", "sandbox stopped\n")
    assert [s["email"] for s in before["subscribers"]] == ["ann@example.com"]

    # Restarted on the same data dir (with a different seed: ignored, the dir is not new).
    seed.write_text("yesmail:\n  subscribers: [bob@example.com]\n")
    proc = start("--port", "0", "--data", str(tmp_path / "data"), "--seed", str(seed))
    try:
        url = listening(proc)
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
