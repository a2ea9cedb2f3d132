"""Failures of the machine around reconciler, not of its input: a reader that stops reading its
output, a state directory it may not write. Each ends in a clear ``Error:`` line (or, for the
reader, quietly) with nothing half-done, never a traceback; and what reconciler writes of the
state is readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.state.model import JobEntry, State, state_json
from tests.security.hostile import ROOT, HostileProject

CONFIG = (
    "providers:\n  og: {type: ongage, base_url: sandbox}\n"
    'lists:\n  news:\n    provider: og\n    list_id: "1001"\n'
    "    members: [{inline: [{email: ann@example.com}]}]\n"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def big_state(path: Path) -> None:
    """A state whose JSON is far larger than a pipe's buffer (64 KiB)."""
    jobs = [
        JobEntry(
            batch_key=f"news:add:{i}",
            run_id="r1",
            provider="og",
            list="news",
            vendor_list_id="1001",
            action="add",
            index=i,
            rows=1,
            sha256="0" * 64,
            file=f"b{i}.csv",
            status="succeeded",
        )
        for i in range(2000)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state_json(State(lineage="l", serial=1, jobs=jobs)), encoding="utf-8")


@pytest.mark.parametrize(
    ("command", "first_line"),
    [(["state", "show"], b"{\n"), (["state", "jobs"], b"list\taction\tbatch\trows\tstatus")],
)
def test_a_reader_that_stops_reading_ends_nothing_in_a_traceback(
    tmp_path: Path, command: list[str], first_line: bytes
) -> None:
    project = HostileProject(tmp_path)
    project.write("reconciler.yaml", CONFIG)
    big_state(tmp_path / ".reconciler" / "state.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    # The command went on to its end, writing to nowhere: no traceback, its own exit code.
    assert (first.startswith(first_line), proc.wait(timeout=60), err) == (True, 0, "")


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[str]:
    """``directory`` made unwritable for this process, and the reason the system gives. Root
    ignores a directory's mode, so for root it is made immutable (``chattr +i``)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        undo = ["chmod", "755", str(directory)]
    elif (
        shutil.which("chattr") and subprocess.run(["chattr", "+i", str(directory)]).returncode == 0
    ):
        undo = ["chattr", "-i", str(directory)]
    else:
        pytest.skip("cannot make a directory unwritable for root here (no chattr)")
    try:
        try:
            (directory / "probe").touch()
        except OSError as exc:
            yield exc.strerror or str(exc)
        else:
            pytest.fail(f"{directory} is still writable")
    finally:
        subprocess.run(undo, check=True)


def test_a_state_directory_that_cannot_be_written_is_an_error_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    project = HostileProject(tmp_path)
    project.write("reconciler.yaml", CONFIG)
    (tmp_path / ".reconciler").mkdir()
    with unwritable(tmp_path / ".reconciler") as why:
        run = project.run("apply", "--auto-approve")
        assert (run.code, run.out, run.err) == (
            1,
            "",
            f"Error: cannot lock the state at .reconciler/state.json: {why}; nothing was "
            "planned or sent. Make .reconciler writable, then run the command again\n",
        )
    assert project.changing_requests() == []
    assert list((tmp_path / ".reconciler").iterdir()) == []


def test_the_state_its_backup_and_lock_are_private(tmp_path: Path) -> None:
    project = HostileProject(tmp_path)
    project.write("reconciler.yaml", CONFIG)
    old = os.umask(0)  # the modes come from reconciler, not from a strict umask
    try:
        for _ in range(2):  # the second apply writes the backup
            assert project.run("apply", "--auto-approve").code == 0
        assert project.run("plan", "-out", "out/plan.zip", "--json", "out/plan.json").code == 0
    finally:
        os.umask(old)
    state = tmp_path / ".reconciler"
    assert {p.name: mode(p) for p in state.iterdir() if p.is_file()} == {
        "state.json": 0o600,
        "state.json.backup": 0o600,
    }
    assert mode(state) == 0o700
    assert {p.name: mode(p) for p in (tmp_path / "out").iterdir()} == {
        "plan.zip": 0o600,
        "plan.json": 0o600,
    }
