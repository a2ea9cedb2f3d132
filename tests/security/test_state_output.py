"""What ``state list``, ``state jobs`` and ``refresh`` print of the state is inert.

The ledger keeps what vendors answered (job IDs, status words, messages, counts) and a state
file can be edited by hand or pushed: a value holding an escape sequence could clear the screen
or retitle the terminal. Every value is printed through ``render.safe.terminal``, so it shows as
``\\x1b…``; a tab inside one is shown as ``\\t``, so the tab-separated columns stay columns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from reconciler.cli import poll
from reconciler.model import Action
from reconciler.providers.base import Batch, JobState
from reconciler.state.model import ExportSeen, JobEntry, ListState, State, state_json

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (
    "providers:\n  og: {type: ongage, base_url: sandbox}\n"
    'lists:\n  news: {provider: og, list_id: "1001", '
    "members: [{inline: [{email: a@example.com}]}]}\n"
)
AT = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
DONE = datetime(2026, 11, 23, 3, 21, tzinfo=UTC)
HEADER = "list\taction\tbatch\trows\tstatus\tvendor job\tsubmitted\tfinished\tcounts"


def hostile_state() -> State:
    job = JobEntry(
        batch_key="news/add/0001/abcdef",
        run_id="r1",
        provider="og",
        list="news",
        vendor_list_id="1001",
        action="add",
        index=1,
        rows=3,
        sha256="ab" * 32,
        file="b1.csv",
        status="failed",
        vendor_job_id="9\x1b[1A",
        submitted_at=AT,
        finished_at=DONE,
        vendor_status="\x1b[2JAll good",
        counts={"ok\tforged": 1, "\x1b[8mfailed": 2},
        message="refused \x1b]0;title\x07 all rows",
    )
    return State(
        lineage="lin\x1b[2K-1",
        serial=4,
        lists={
            "news": ListState(
                provider="og",
                vendor="ongage",
                vendor_list_id="10\x1b[1A01",
                last_export=ExportSeen(
                    kind="vendor\x1b[31m", location="x", rows=3, sha256="cd" * 32, read_at=AT
                ),
            ),
            "tab\tlist": ListState(provider="og", vendor="ongage", vendor_list_id="7\t8"),
        },
        jobs=[job],
    )


def run_state(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    state_dir = tmp_path / ".reconciler"
    state_dir.mkdir(exist_ok=True)
    (state_dir / "state.json").write_text(state_json(hostile_state()), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "state", *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        check=False,
    )


def test_state_jobs_shows_the_vendors_values_escaped_in_their_columns(tmp_path: Path) -> None:
    shown = run_state(tmp_path, "jobs")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines() == [
        HEADER,
        "news\tadd\t1\t3\tfailed\t9\\x1b[1A\t2026-11-23T03:20:00+00:00\t"
        "2026-11-23T03:21:00+00:00\tok\\tforged=1,\\x1b[8mfailed=2",
    ]
    # The job's vendor status and message are not columns of `state jobs` (`state show` has
    # them, as JSON, whose escapes are inert too): nothing of them reaches the terminal.
    assert "\x1b" not in shown.stdout and "All good" not in shown.stdout
    assert [len(line.split("\t")) for line in shown.stdout.splitlines()] == [9, 9]


def test_state_list_shows_list_ids_and_fingerprints_escaped(tmp_path: Path) -> None:
    shown = run_state(tmp_path, "list")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.splitlines() == [
        "lineage lin\\x1b[2K-1, serial 4",
        "news\tongage 10\\x1b[1A01\tvendor\\x1b[31m 3 rows sha256 cdcdcdcdcdcd at "
        "2026-11-23T03:20:00+00:00",
        "tab\\tlist\tongage 7\\t8\tno export",
    ]
    assert "\x1b" not in shown.stdout


def test_state_show_keeps_them_as_json_escapes(tmp_path: Path) -> None:
    shown = run_state(tmp_path, "show")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert '"vendor_status": "\\u001b[2JAll good"' in shown.stdout
    assert '"message": "refused \\u001b]0;title\\u0007 all rows"' in shown.stdout
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout


# -- refresh ----------------------------------------------------------------------------------


class _Ledger:
    state = State()
    finished_ids: ClassVar[list[str]] = []  # no job ended with failed rows

    def in_flight(self) -> list[str]:
        return ["one"]

    def start_run(self, operation: str) -> None:
        pass

    def finish_run(self, outcome: str) -> None:
        pass


class _Store:
    @contextmanager
    def locked(self, operation: str) -> Iterator[None]:
        yield


@contextmanager
def _runtime(*args: Any, **kwargs: Any) -> Iterator[SimpleNamespace]:
    yield SimpleNamespace(scratch=lambda: Path("."))


def test_refresh_shows_batch_keys_and_vendor_job_ids_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The vendor's side of a refresh (polling) is replaced: what is checked is the printing of
    # what it hands back, a job ID the vendor chose and a batch key holding the list's name.
    batch = Batch("news\x1b[2J", "1001", Action.ADD, 1, tmp_path / "b.csv", 3, "ab" * 32)
    outcome = SimpleNamespace(batch=batch, state=JobState.SUCCEEDED, vendor_job_id="9\x1b[1A\n")
    applier = SimpleNamespace(resume=lambda: [outcome])
    loaded = SimpleNamespace(config=SimpleNamespace(state=None))
    monkeypatch.setattr(poll, "load", lambda args: loaded)
    monkeypatch.setattr(poll, "config_dir", lambda loaded: tmp_path)
    monkeypatch.setattr(poll, "open_store", lambda *a, **k: _Store())
    monkeypatch.setattr(poll, "Runtime", _runtime)
    monkeypatch.setattr(poll, "wire", lambda *a, **k: (_Ledger(), applier))
    # No applied membership to merge: the run just ends.
    monkeypatch.setattr(poll, "blobs_for", lambda store: None)
    monkeypatch.setattr(
        poll, "finish_with_applied", lambda ledger, blobs, scratch, finish: finish()
    )
    assert poll.run(argparse.Namespace(state=None)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "news\\x1b[2J/add/0001/abababababababab: succeeded (job 9\\x1b[1A\\n)"
    ]
