"""Recording by hand what a vendor holds for a batch whose fate is unknown
(``reconciler/state/resolve.py``), and the ledger's settle-window moment (``unknown_since``),
kept across format versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state.ledger import CRASHED, StateLedger
from reconciler.state.local import LocalStateStore
from reconciler.state.model import FORMAT_VERSION, JobEntry, State, parse_state
from reconciler.state.resolve import resolve

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def entry(status: str, **more: object) -> JobEntry:
    return JobEntry(
        id="3b7f00aa11bb22cc33dd44ee55ff6677",
        batch_key="news/add/0001/ab",
        run_id="r1",
        provider="p",
        list="news",
        vendor_list_id="weekly",
        action="add",
        index=1,
        rows=2,
        sha256="ab" * 32,
        file=".reconciler/batches/r1/news/news-add-0001.csv",
        status=status,  # type: ignore[arg-type]
        message="yesmail POST …: timed out after sending",
        **more,  # type: ignore[arg-type]
    )


def test_sent_records_the_vendors_job_for_the_next_run_to_follow() -> None:
    state = State(jobs=[entry("unknown")])
    resolved = resolve(state, "3b7f00", job_id=" 654321 ")
    assert (resolved.status, resolved.vendor_job_id) == ("submitted", "654321")
    assert resolved.job_detail["file"] == resolved.file  # Yesmail names failed rows from it
    assert resolved.message == (
        "recorded by hand as sent, job 654321; was: yesmail POST …: timed out after sending"
    )


def test_unsent_lets_the_next_apply_send_the_batch_again() -> None:
    state = State(jobs=[entry("submitting")])
    resolved = resolve(state, "3b7f00aa11bb22cc33dd44ee55ff6677", job_id=None)
    assert resolved.status == "unsent" and resolved.finished_at is not None
    assert resolved.message.startswith("recorded by hand as never received; was: ")


def test_only_an_entry_whose_fate_is_unknown_is_resolved() -> None:
    state = State(jobs=[entry("succeeded", vendor_job_id="7")])
    with pytest.raises(StateError, match="is succeeded with job 7: only a batch whose fate"):
        resolve(state, "3b7f00", job_id="8")
    assert state.jobs[0].status == "succeeded"


@pytest.mark.parametrize("given", ["3b7f", "nothing", ""])
def test_an_entry_is_named_by_its_id_or_a_long_enough_prefix(given: str) -> None:
    with pytest.raises(StateError, match="no ledger entry"):
        resolve(State(jobs=[entry("unknown")]), given, job_id=None)


def test_the_window_starts_when_the_entry_became_unknown_and_stays_there(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    ledger = StateLedger(
        store, State(jobs=[entry("submitting")]), run_id="r2", failures_dir=tmp_path
    )
    (crashed,) = ledger.in_flight()
    assert (crashed.since, crashed.message) == (
        ledger.state.jobs[0].created_at,  # a crashed run's entry: from when it was recorded
        "yesmail POST …: timed out after sending",
    )
    ledger.unknown(crashed.entry_id, "first", since=T0)
    ledger.unknown(crashed.entry_id, "again", since=datetime(2027, 1, 1, tzinfo=UTC))
    (item,) = ledger.in_flight()
    assert item.since == T0  # kept: measured from the first moment
    assert store.read().jobs[0].unknown_since == T0  # type: ignore[union-attr]


def test_a_submitting_entry_without_a_message_says_what_is_known(tmp_path: Path) -> None:
    job = entry("submitting")
    job.message = ""
    ledger = StateLedger(
        LocalStateStore(tmp_path / "s.json"), State(jobs=[job]), run_id="r", failures_dir=tmp_path
    )
    assert ledger.in_flight()[0].message == CRASHED


def test_a_version_1_state_file_reads_with_no_unknown_since() -> None:
    data = json.loads(State(jobs=[entry("unknown")]).model_dump_json())
    data["format_version"] = 1
    for job in data["jobs"]:
        del job["unknown_since"]
    state = parse_state(json.dumps(data), "old.json")
    assert state.format_version == FORMAT_VERSION
    assert (state.jobs[0].status, state.jobs[0].unknown_since) == ("unknown", None)
