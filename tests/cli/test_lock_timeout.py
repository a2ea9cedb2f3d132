"""``--lock-timeout``: every command that takes the state lock waits for it as long as told,
through the real command line, with the lock held by the test."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from reconciler.cli.locking import LOCKING
from reconciler.cli.main import build_parser, main, single_dash
from reconciler.state.local import LocalStateStore
from reconciler.state.model import State
from tests.integration.project import Project

WHERE = Path(".reconciler/state.json")
CLI = Path(__file__).resolve().parents[2] / "reconciler" / "cli"


def test_the_list_of_locking_commands_is_every_command_that_locks() -> None:
    """A command that takes the lock (``store.locked("OPERATION")``) and is missing from the
    list would have no --lock-timeout: the operations named in the code are the list."""
    operations = {
        op
        for path in CLI.glob("*.py")
        for op in re.findall(r'\.locked\("([^"]+)"\)', path.read_text())
    }
    # refresh, the old name of poll, runs poll's code: it locks as "poll"
    listed = {name for name, subs in LOCKING.items() if not subs} - {"refresh"}
    assert operations == listed | {f"state {sub}" for sub in LOCKING["state"]}


def _locking_commands() -> list[list[str]]:
    words = {"resolve": ["e1", "--unsent"], "push": ["f.json"], "migrate": ["--to", "x.json"]}
    words["forget"] = words["rebuild"] = ["news"]
    commands = [[name] for name, subs in LOCKING.items() if not subs]
    return commands + [["state", sub, *words[sub]] for sub in LOCKING["state"]]


@pytest.mark.parametrize("argv", _locking_commands(), ids=" ".join)
def test_every_locking_command_takes_the_flag_in_both_spellings(argv: list[str]) -> None:
    parser = build_parser(argv)
    assert parser.parse_args([*argv, "--lock-timeout", "1m30s"]).lock_timeout == 90.0
    assert parser.parse_args(single_dash(parser, [*argv, "-lock-timeout=2m"])).lock_timeout == 120
    assert parser.parse_args(argv).lock_timeout == 0.0  # default: fail at once


def test_a_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["refresh", "-lock-timeout=30"]) == 1
    assert capsys.readouterr().err.endswith(
        "reconciler refresh: error: argument --lock-timeout: '30' is not a duration such as "
        "30s, 2m or 1m30s\n"
    )


def _project(tmp_path: Path) -> tuple[Project, LocalStateStore]:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "lists: {}\n")
    store = LocalStateStore(tmp_path / WHERE)
    p.write("pushed.json", store.write(State()).model_dump_json())
    return p, store


def test_push_waits_for_a_lock_released_meanwhile(tmp_path: Path) -> None:
    p, store = _project(tmp_path)
    held = store.lock("apply")
    threading.Timer(1.5, store.unlock, args=(held.id,)).start()
    pushed = p.run("state", "push", "pushed.json", "-lock-timeout=60s")
    assert (pushed.code, pushed.out) == (0, f"{WHERE} already holds this state (serial 1).\n")
    assert pushed.err == (
        f"Waiting up to 1m for the lock: the state at {WHERE} is locked by {held.describe()}; "
        f"if that run is gone, run `reconciler state unlock {held.id}`\n"
    )
    assert store.current_lock() is None  # taken, then released by the push


def test_refresh_gives_up_after_its_timeout_naming_the_holder(tmp_path: Path) -> None:
    p, store = _project(tmp_path)
    held = store.lock("apply")
    refreshed = p.run("poll", "--lock-timeout", "1s")
    locked = (
        f"the state at {WHERE} is locked by {held.describe()}; if that run is gone, run "
        f"`reconciler state unlock {held.id}`"
    )
    assert (refreshed.code, refreshed.out) == (1, "")
    assert refreshed.err == (
        f"Waiting up to 1s for the lock: {locked}\n"
        f"Error: waited 1s (--lock-timeout) for the lock: {locked}\n"
    )
    assert store.current_lock() == held
    at_once = p.run("poll")  # no timeout: the error at once, as before
    assert (at_once.code, at_once.err) == (1, f"Error: {locked}\n")
