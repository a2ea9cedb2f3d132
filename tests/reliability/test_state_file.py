"""The state file under stress: two applies at once, a corrupted or truncated state, a broken
lock file. Each ends with a clear error (no traceback), nothing overwritten, nothing sent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.project import Run
from tests.reliability.harness import FaultProject, finished, wait_for
from tests.reliability.scenarios import ONGAGE

pytestmark = pytest.mark.slow

APPLY = ("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")


def test_a_second_apply_is_refused_by_the_lock_naming_the_holder(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    # The first apply's first import is held for a while after the vendor accepted it.
    p.inject(path="/ongage/1001/api/import", method="POST", kind="hang", after=True, seconds=3)
    first = p.start(*APPLY)
    wait_for("the first apply to hold", lambda: p.faults_pending() == 0, first)
    lock = json.loads((tmp_path / ".reconciler" / "state.json.lock").read_text())

    second = p.run(*APPLY)
    assert second.code == 1 and second.out == ""  # refused before planning anything
    assert second.err == (
        f"Error: the state at .reconciler/state.json is locked by {lock['who']}@{lock['host']} "
        f"(pid {first.pid}) for 'apply' since {lock['created'].replace('Z', '+00:00')}, lock ID "
        f"{lock['id']}; if that run is gone, run `reconciler state unlock {lock['id']}`\n"
    )
    refresh = p.run("poll", "-c", "reconciler.yaml")
    assert refresh.code == 1 and f"lock ID {lock['id']}" in refresh.err

    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err  # the holder was not disturbed
    assert ONGAGE.contacts(p) == ONGAGE.expected
    assert [r.outcome for r in p.state().runs] == ["succeeded"]  # the refused runs left no trace
    assert not (tmp_path / ".reconciler" / "state.json.lock").exists()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after one apply (a state and its backup), copied by each test."""
    p = ONGAGE.project(tmp_path_factory.mktemp("applied"))
    finished(p.run(*APPLY))
    assert p.state_file.with_name("state.json.backup").exists()
    return p.root


@pytest.fixture
def applied(template: Path, tmp_path: Path) -> FaultProject:
    shutil.copytree(template, tmp_path / "p")
    return FaultProject(tmp_path / "p")


BROKEN = [
    pytest.param(
        lambda text: text[: len(text) // 2],
        "is not valid JSON (",
        "); it may be truncated or corrupted",
        id="truncated",
    ),
    pytest.param(
        lambda text: "\x00\x17\xff" * 40,
        "is not valid JSON (",
        "); it may be truncated or corrupted",
        id="garbage",
    ),
    pytest.param(
        lambda text: "",
        "is not valid JSON (",
        "); it may be truncated or corrupted",
        id="empty",
    ),
    pytest.param(
        lambda text: '{"hello": 1}',
        "is not a reconciler state file (no format_version)",
        "",
        id="not-a-state",
    ),
    pytest.param(
        lambda text: text.replace('"jobs": [', '"jobs": 7, "x": [', 1),
        "does not match the state format: jobs: Input should be a valid list",
        "",
        id="wrong-type",
    ),
]


def refused(run: Run, says: str, then: str) -> None:
    first, _, rest = run.err.partition(" ")
    assert (run.code, first) == (1, "Error:") and "Traceback" not in run.err
    assert rest.startswith(f".reconciler/state.json {says}"), run.err
    assert rest.endswith(
        f"{then}. The previous version is in .reconciler/state.json.backup: inspect it and "
        "copy it over state.json if it is good. Nothing was overwritten.\n"
    ), run.err


@pytest.mark.parametrize(("corrupt", "says", "then"), BROKEN)
def test_a_broken_state_file_is_a_clear_error_offering_the_backup(
    applied: FaultProject, corrupt: Callable[[str], str], says: str, then: str
) -> None:
    p = applied
    backup = p.state_file.with_name("state.json.backup")
    p.state_file.write_text(corrupt(p.state_file.read_text()))
    broken, kept = p.state_file.read_bytes(), backup.read_bytes()
    sent = len(p.requests())

    refused(p.run(*APPLY), says, then)
    assert (p.state_file.read_bytes(), backup.read_bytes()) == (broken, kept)
    assert not p.state_file.with_name("state.json.lock").exists()
    assert p.requests()[sent:] == []  # stopped before asking any vendor anything


def test_every_command_that_reads_the_state_refuses_a_truncated_one(
    applied: FaultProject,
) -> None:
    p = applied
    text = p.state_file.read_text()
    p.state_file.write_text(text[: len(text) // 3])
    broken = p.state_file.read_bytes()
    for command in ("poll", "plan", "state show"):  # state list/jobs read as show does
        run = p.run(*command.split(), "-c", "reconciler.yaml")
        refused(run, "is not valid JSON (", "); it may be truncated or corrupted")
    assert p.state_file.read_bytes() == broken

    p.state_file.write_bytes(p.state_file.with_name("state.json.backup").read_bytes())
    again = finished(p.run(*APPLY))  # restored as the message says: all is well again
    assert again.out.splitlines()[-1].startswith("Plan: 0 to add, 0 to remove")


def test_a_broken_lock_file_refuses_and_is_cleared_by_unlock(applied: FaultProject) -> None:
    p = applied
    lock = p.state_file.with_name("state.json.lock")
    lock.write_text('{"id": "0c5e')  # a lock whose writer died mid-write
    run = p.run(*APPLY)
    assert (run.code, run.err) == (
        1,
        "Error: the state at .reconciler/state.json is locked by an unreadable lock file; if "
        "that run is gone, run `reconciler state unlock <LOCK_ID>`\n",
    )
    assert p.run("state", "unlock", "whatever", "-c", "reconciler.yaml").code == 0
    assert not lock.exists()
    finished(p.run(*APPLY))
