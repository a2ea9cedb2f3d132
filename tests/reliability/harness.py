"""What the reliability tests share: a throwaway project whose embedded sandbox a test prepares
(seed, faults) before a command starts it and watches while the command runs, plus the checks
every fault case ends with (the vendor's final list, what was submitted, the state file).

Faults are kept in the sandbox's store, so ``inject`` puts them into the project's sandbox
data directory and the next command's embedded sandbox honours them. The request log is read
straight from that store (read-only), which is safe while a command is running.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from reconciler.sandbox.core import Sandbox
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.server import read_seed
from reconciler.state.local import LocalStateStore
from reconciler.state.model import IN_FLIGHT, State, parse_state
from tests.integration.project import Project, Run

Contacts = dict[str, tuple[str, dict[str, Any]]]


class FaultProject(Project):
    """A Project (CLI in a subprocess, embedded sandbox) that faults can be injected into."""

    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(root)
        self.extra_env = dict(extra_env or {})

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}

    @property
    def state_file(self) -> Path:
        return self.root / ".reconciler" / "state.json"

    @property
    def _db(self) -> Path:
        return self.root / ".sandbox" / "sandbox.sqlite3"

    @contextmanager
    def store(self) -> Iterator[Sandbox]:
        """The sandbox's store without a server, seeded as the first command would seed it."""
        fresh = not self._db.exists()
        sandbox = Sandbox(self.root / ".sandbox")
        try:
            if fresh and (self.root / "seed.yaml").exists():
                sandbox.seed(read_seed(self.root / "seed.yaml"))
            yield sandbox
        finally:
            sandbox.db.close()

    def inject(self, **fault: Any) -> None:
        with self.store() as sandbox:
            sandbox.faults.add(Fault(**fault))

    def release(self) -> None:
        """Remove the ``hold`` faults: a held job advances again on its next status read."""
        with self.store() as sandbox:
            sandbox.faults.clear("hold")

    def _read(self, sql: str) -> list[dict[str, Any]]:
        """Rows from the sandbox's store, read-only (safe while a command runs)."""
        if not self._db.exists():
            return []
        uri = f"file:{self._db}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            try:
                return [dict(r) for r in conn.execute(sql).fetchall()]
            except sqlite3.OperationalError:  # not created yet
                return []

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log (method, path, status, body, time), oldest first."""
        return self._read("SELECT method, path, status, body, time FROM requests ORDER BY seq")

    def faults_pending(self) -> int:
        """Injected faults not yet used up: 0 once the sandbox has met the request a fault
        waited for (a hang is then holding that request)."""
        return len(self._read("SELECT id FROM faults"))

    def contacts(self, vendor: str, list_id: str) -> Contacts:
        with self.store() as sandbox:
            rows = sandbox.state()["vendors"][vendor]["lists"].get(list_id, [])
        return {r["email"]: (r["status"], dict(r.get("fields") or {})) for r in rows}

    def state(self) -> State:
        """The state file, parsed exactly as reconciler reads it (so it must be valid)."""
        return parse_state(self.state_file.read_text(encoding="utf-8"), str(self.state_file))

    def raw_state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data

    def unlock_after_kill(self) -> None:
        """Clear the lock a killed run left (the refusal itself is tested in test_lock)."""
        store = LocalStateStore(self.state_file)
        holder = store.current_lock()
        assert holder is not None, "a killed apply leaves its lock"
        store.unlock(holder.id)


def wait_for(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60
) -> None:
    """Poll ``check`` until it holds; fail (with the command's output) if the command ends
    first. The timeout only stops a broken test from hanging: nothing is timed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"the command ended ({proc.returncode}) before {what}:\n{out}{err}"
            )
        time.sleep(0.02)
    kill(proc)
    raise AssertionError(f"never saw {what}")


def status_reads_after_accepting(p: FaultProject, submit: str, status_read: str) -> int:
    """Status reads (``GET``s of a path matching the regex ``status_read``, answered 200) the
    vendor answered after it first accepted (2xx) a ``POST`` of a path matching ``submit``.

    With a ``hold`` on those reads, two of them show from outside that the run holds the job's
    ID and has gone back to a job that cannot move: it is waiting in its polling loop."""
    log = p.requests()
    accepted = [
        i
        for i, r in enumerate(log)
        if r["method"] == "POST" and 200 <= r["status"] < 300 and re.fullmatch(submit, r["path"])
    ]
    if not accepted:
        return 0
    return sum(
        r["method"] == "GET" and r["status"] == 200 and bool(re.fullmatch(status_read, r["path"]))
        for r in log[accepted[0] + 1 :]
    )


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def finished(run: Run, code: int = 0) -> Run:
    assert run.code == code, f"exit {run.code}, expected {code}\n{run.out}{run.err}"
    assert "Traceback" not in run.err
    return run


def assert_state_settled(state: State) -> None:
    """Nothing in flight, every job that reached the vendor carries its job ID."""
    assert [j.batch_key for j in state.jobs if j.status in IN_FLIGHT] == []
    for job in state.jobs:
        if job.status in ("succeeded", "failed") and job.vendor_status != "rejected":
            assert job.vendor_job_id, job
    assert all(run.finished_at is not None for run in state.runs)
