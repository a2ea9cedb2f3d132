"""apply with its state on S3 (moto's standalone server): a run killed mid-apply resumes from
the S3 state on a fresh runner, two concurrent applies leave exactly one running, and a SIGTERM
pushes the ledger and releases the lock."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.project import Project
from tests.integration.test_apply_ongage import (
    CONFIG,
    EXPECTED,
    HOLD,
    MEMBERS,
    SEED,
    import_actions,
    polling_a_held_import,
)
from tests.reliability.harness import FaultProject
from tests.s3server import create_buckets, s3_client

BUCKET = "reconciler-state"


@pytest.fixture
def s3_endpoint(empty_s3: str) -> str:
    # The test credentials are read by the tests' client and every reconciler subprocess.
    return create_buckets(empty_s3, BUCKET)


class S3Project(Project):
    def __init__(self, root: Path, endpoint: str) -> None:
        super().__init__(root)
        self.endpoint = endpoint
        self.key = f"{root.name}/state.json"
        self.write(
            "reconciler.yaml",
            CONFIG.replace("POLLS", "1")
            + f"state: {{backend: s3, bucket: {BUCKET}, key: {self.key}, region: us-east-1, "
            f"endpoint_url: '{self.endpoint}'}}\n",
        )
        self.write("members/news.csv", MEMBERS)
        self.write("seed.yaml", SEED)
        # The sandbox's data directory (faults for the next command, its request log), used
        # as the reliability tests use theirs.
        self.sandbox = FaultProject(root)

    def s3_object(self, key: str) -> dict[str, Any] | None:
        client = s3_client(self.endpoint)
        try:
            body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        parsed: dict[str, Any] = json.loads(body)
        return parsed

    def state(self) -> dict[str, Any] | None:
        return self.s3_object(self.key)

    def lock(self) -> dict[str, Any] | None:
        return self.s3_object(f"{self.key}.lock")

    def signal_mid_apply(self, signum: int) -> tuple[subprocess.Popen[str], str]:
        """Start an apply whose first import the sandbox holds pending, send ``signum`` once
        the run is polling it and S3 records it submitted; the ended process, its stderr. The
        hold stays until ``release``: whatever the signal's handling does, the job stays put."""
        self.sandbox.inject(**HOLD)
        proc = self.start("apply", "-c", "reconciler.yaml", "--auto-approve")
        self.wait_for("job", proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        return proc, err

    def wait_for(self, what: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
        """Until the lock is taken, or (``job``) the run polls the held import (seen in the
        sandbox's request log) and the S3 state records it submitted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            if what == "lock" and self.lock() is not None:
                return
            state = self.state() if what == "job" and polling_a_held_import(self.sandbox) else None
            if state and any(j["status"] == "submitted" for j in state["jobs"]):
                return
            time.sleep(0.05)
        raise AssertionError(f"apply never got to {what!r}")


@pytest.mark.slow
def test_sigkill_mid_apply_then_a_fresh_runner_resumes_from_s3_without_double_submission(
    tmp_path: Path, s3_endpoint: str
) -> None:
    p = S3Project(tmp_path, s3_endpoint)
    proc, _ = p.signal_mid_apply(signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    killed = p.state()
    assert killed is not None
    in_flight = [j for j in killed["jobs"] if j["status"] == "submitted"]
    assert len(in_flight) == 1 and in_flight[0]["vendor_job_id"]
    assert not (tmp_path / ".reconciler" / "state.json").exists()  # nothing on the runner

    # A new CI runner: the runner's disk is gone, only the vendor (the sandbox) and S3 remain.
    shutil.rmtree(tmp_path / ".reconciler")
    blocked = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    lock = p.lock()
    assert lock is not None and lock["pid"] == proc.pid
    assert blocked.code == 1
    assert f"Error: the state at s3://{BUCKET}/{p.key} is locked by " in blocked.err
    assert f"(pid {proc.pid}) for 'apply'" in blocked.err
    assert f"run `reconciler state unlock {lock['id']}`" in blocked.err
    refused = p.run("state", "unlock", "not-the-id", "-c", "reconciler.yaml")
    assert refused.code == 1 and "nothing was unlocked" in refused.err
    unlocked = p.run("state", "unlock", lock["id"], "-c", "reconciler.yaml")
    assert unlocked.out == f"Unlocked s3://{BUCKET}/{p.key}.\n"

    p.sandbox.release()  # the held import advances again on its next status read
    rerun = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert rerun.code == 0, rerun.out + rerun.err
    assert p.vendor_list("ongage", "1001") == EXPECTED
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]
    final = p.state()
    assert final is not None and final["lineage"] == killed["lineage"]
    assert [j["status"] for j in final["jobs"]] == ["succeeded"] * 5
    assert final["jobs"][0]["vendor_job_id"] == in_flight[0]["vendor_job_id"]
    assert [r["outcome"] for r in final["runs"]] == [
        f"interrupted; resumed by {final['runs'][1]['run_id']}",
        "succeeded",
    ]
    assert p.lock() is None


def test_two_concurrent_applies_one_runs_and_the_other_is_refused_with_the_holder(
    tmp_path: Path, s3_endpoint: str
) -> None:
    p = S3Project(tmp_path, s3_endpoint)
    # The first apply is asked for confirmation on a terminal: it holds the lock while it waits,
    # so the second one meets it whatever the machine's speed.
    terminal, answer = pty.openpty()
    first = subprocess.Popen(
        p.command("apply", "-c", "reconciler.yaml"),
        cwd=tmp_path,
        stdin=answer,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=p.env(),
    )
    os.close(answer)
    try:
        p.wait_for("lock", first)
        second = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
        holder = p.lock()
        os.write(terminal, b"yes\n")
        out, err = first.communicate(timeout=120)
    finally:
        os.close(terminal)

    assert second.code == 1
    assert holder is not None and holder["pid"] == first.pid
    since = datetime.fromisoformat(holder["created"]).isoformat()
    assert second.err == (
        f"Error: the state at s3://{BUCKET}/{p.key} is locked by {holder['who']}@"
        f"{holder['host']} (pid {first.pid}) for 'apply' since {since}, lock ID "
        f"{holder['id']}; if that run is gone, run `reconciler state unlock {holder['id']}`\n"
    )
    assert second.out == ""  # refused before reading any vendor
    assert first.returncode == 0, out + err
    assert "Do you want to apply this plan?" in out
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]
    state = p.state()
    assert state is not None and [r["outcome"] for r in state["runs"]] == ["succeeded"]
    assert p.lock() is None


@pytest.mark.slow
def test_sigterm_pushes_the_ledger_releases_the_lock_and_the_next_apply_resumes(
    tmp_path: Path, s3_endpoint: str
) -> None:
    p = S3Project(tmp_path, s3_endpoint)
    proc, err = p.signal_mid_apply(signal.SIGTERM)
    assert proc.returncode == 130
    assert err.endswith("Interrupted.\n")
    assert p.lock() is None  # released on the way out
    state = p.state()
    assert state is not None
    submitted = [j for j in state["jobs"] if j["status"] == "submitted"]
    assert len(submitted) == 1 and submitted[0]["vendor_job_id"]
    assert [r["finished_at"] for r in state["runs"]] == [None]  # left open: resumed next time

    p.sandbox.release()  # the held import advances again on its next status read
    rerun = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert rerun.code == 0, rerun.out + rerun.err
    assert p.vendor_list("ongage", "1001") == EXPECTED
    assert import_actions(p) == ["add", "add+overwrite", "complaint", "remove", "resubscribe"]
    final = p.state()
    assert final is not None
    assert final["jobs"][0]["vendor_job_id"] == submitted[0]["vendor_job_id"]
