"""The state's directory stops taking writes in the middle of an apply (#15 item 8): the run ends
with one clear error naming the path and what to do (it was a traceback), the state as it was
at its last write, and the lock removed when it can be; when it cannot, the error names it and
the command that clears it. The job in flight is settled by the next apply, sent once.

The apply is held while it polls its first job (a ``hold`` fault); the directory is then made
read-only (chmod, or ``chattr +i`` for root, whom a mode does not stop; skipped where neither
works), or, so that root in any CI meets it too, the temporary file the next state write needs
is taken by a directory: that write fails, the lock file can still be removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.harness import FaultProject, finished, wait_for
from tests.reliability.scenarios import ONGAGE, ONGAGE_SUBMISSIONS
from tests.reliability.test_kill import HOLD, reads_while_held
from tests.security.test_no_tracebacks import unwritable

pytestmark = pytest.mark.slow

APPLY = ("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
SETTLES = (
    "the state there is as it was at its last write (the next apply or poll settles the "
    "jobs it shows in flight)"
)


def held_apply(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An apply polling its first job, held; the project, the process and its lock ID."""
    p = ONGAGE.project(tmp_path)
    p.inject(path=HOLD["ongage"], method="GET", kind="hold")
    proc = p.start(*APPLY)
    wait_for("the job polled while held", lambda: reads_while_held(p, ONGAGE) >= 2, proc)
    lock = json.loads(p.state_file.with_name("state.json.lock").read_text())["id"]
    return p, proc, lock


def converges(p: FaultProject, job_id: str) -> None:
    finished(p.run(*APPLY))
    assert ONGAGE.contacts(p) == ONGAGE.expected
    assert ONGAGE.submissions(p) == ONGAGE_SUBMISSIONS  # each batch reached the vendor once
    state = p.state()
    assert [j.status for j in state.jobs] == ["succeeded"] * 4
    assert next(j for j in state.jobs if j.action == "complaint").vendor_job_id == job_id


def test_a_state_directory_made_read_only_mid_apply_names_the_path_and_the_lock(
    tmp_path: Path,
) -> None:
    p, proc, lock = held_apply(tmp_path)
    before = p.state_file.read_bytes()
    with unwritable(tmp_path / ".reconciler") as why:
        p.release()
        _, err = proc.communicate(timeout=120)
    assert (proc.returncode, "Traceback" in err) == (1, False), err
    assert err == (
        f"Error: cannot write the state at .reconciler/state.json: {why}; {SETTLES}. Make "
        ".reconciler writable, then run the command again; the lock was left behind (cannot "
        f"remove .reconciler/state.json.lock: {why}): once it can be removed, run `reconciler "
        f"state unlock {lock}`\n"
    )
    assert p.state_file.read_bytes() == before
    job = next(j for j in p.state().jobs if j.action == "complaint")
    assert job.status == "submitted"  # its job ID kept: the next run follows it
    assert p.run("state", "unlock", lock, "-c", "reconciler.yaml").code == 0  # as it says
    converges(p, str(job.vendor_job_id))


def test_a_state_write_that_fails_removes_the_lock_when_it_can(tmp_path: Path) -> None:
    p, proc, _ = held_apply(tmp_path)
    blocker = p.state_file.with_name(f".state.json.{proc.pid}.tmp")
    blocker.mkdir()  # the next write's temporary file cannot be created
    p.release()
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (
        1,
        f"Error: cannot write the state at .reconciler/state.json: Is a directory; {SETTLES}. "
        "Run the command again once it can be written\n",
    )
    assert not p.state_file.with_name("state.json.lock").exists()
    job = next(j for j in p.state().jobs if j.action == "complaint")
    blocker.rmdir()
    converges(p, str(job.vendor_job_id))
