"""Apply's progress output: plain lines for CI, a live display on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from reconciler.config.loader import load_config
from reconciler.engine.planner import build_plan
from reconciler.model import Action
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus
from reconciler.render.progress import LogEvents, LogReadEvents, RichEvents, RichReadEvents
from reconciler.workflow.runtime import Runtime

BATCH = Batch("news", "1001", Action.ADD, 1, Path("b.csv"), 1200, "ab" * 32)
DONE = JobStatus(
    JobState.SUCCEEDED, "40003", {"total": 1200, "success": 1200}, words="Completed", done=1.0
)


def test_log_lines_for_ci() -> None:
    out = io.StringIO()
    events = LogEvents(out)
    events.batch_submitted(BATCH, JobRef("7"))
    events.batch_finished(BATCH, DONE)
    assert out.getvalue().splitlines() == [
        "news: add batch 1 (1,200 rows) submitted, job 7",
        "news: add batch 1 succeeded (Completed; total=1200, success=1200)",
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _processing(done: float | None) -> JobStatus:
    return JobStatus(JobState.PENDING, "40002", words="Processing", done=done)


def test_without_a_terminal_a_running_job_gets_a_line_at_a_steady_interval() -> None:
    out, clock = io.StringIO(), Clock()
    events = LogEvents(out, every=30, clock=clock)
    events.batch_submitted(BATCH, JobRef("7"))
    for seconds, done in [(10, None), (29, 0.1), (36, 0.25), (50, 0.4), (66, 0.5), (97, 0.5)]:
        clock.now = 100 + seconds
        events.batch_polled(BATCH, _processing(done))
    assert out.getvalue().splitlines() == [
        "news: add batch 1 (1,200 rows) submitted, job 7",
        # No pace yet at 10% would be a guess either way; from 25% on, the pace so far.
        "news: add batch 1: Processing (25%), 36s so far, about 1m48s left",
        "news: add batch 1: Processing (50%), 1m06s so far, about 1m06s left",
        "news: add batch 1: Processing (50%), 1m37s so far, about 1m37s left",
    ]


def test_a_resumed_job_is_timed_from_its_first_poll_and_a_vendor_word_stays_a_word() -> None:
    out, clock = io.StringIO(), Clock()
    events = LogEvents(out, every=30, clock=clock)
    events.batch_polled(BATCH, JobStatus(JobState.PENDING, "importing"))
    clock.now += 45
    events.batch_polled(BATCH, JobStatus(JobState.PENDING, "importing"))
    assert out.getvalue() == "news: add batch 1: importing, 45s so far\n"


def test_live_progress_on_a_terminal_ends_with_each_batch_outcome() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RichEvents(console) as events:
        events.batch_submitted(BATCH, JobRef("7"))
        events.batch_polled(BATCH, _processing(0.46))
        (task,) = events.progress.tasks
        assert (task.description, task.total, task.completed) == (
            "news add #1 (1,200 rows): Processing (46%)",
            100,
            46,
        )
        events.batch_finished(BATCH, DONE)
    assert "news add #1 (1,200 rows): succeeded (Completed)" in out.getvalue()


def test_a_staged_batch_becomes_its_job_on_the_same_line() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RichEvents(console) as events:
        events.batch_staging(BATCH)
        assert [t.description for t in events.progress.tasks] == [
            "news add #1 (1,200 rows): uploading the batch file"
        ]
        events.batch_submitted(BATCH, JobRef("7"))
        assert [t.description for t in events.progress.tasks] == ["news add #1 (1,200 rows) job 7"]


def test_staging_adds_no_ci_log_line() -> None:
    out = io.StringIO()
    LogEvents(out).batch_staging(BATCH)
    assert out.getvalue() == ""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def reading(self, list_name: str, where: str) -> None:
        self.calls.append(("reading", f"{list_name} from {where}"))

    def read(self, list_name: str) -> None:
        self.calls.append(("read", list_name))


def test_each_vendor_read_is_announced_and_closed(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "providers: {og: {type: ongage, base_url: sandbox}}\n"
        "lists:\n"
        "  a: {provider: og, list_id: 1001}\n"
        "  b: {provider: og, list_id: 1002}\n"
    )
    loaded = load_config(tmp_path / "r.yaml")
    recorder = Recorder()
    with Runtime(loaded, workdir=tmp_path / "work", read_events=recorder) as runtime:
        build_plan(loaded, vendors=runtime)
    assert recorder.calls == [
        ("reading", "a from ongage list 1001"),
        ("read", "a"),
        ("reading", "b from ongage list 1002"),
        ("read", "b"),
    ]


def test_the_read_spinner_is_gone_once_the_list_is_read() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RichReadEvents(console) as events:
        events.reading("news", "ongage list 1001")
        assert [t.description for t in events.progress.tasks] == [
            "reading the current state of 'news' from ongage list 1001"
        ]
        events.read("news")
        assert events.progress.tasks == []


def test_without_a_terminal_a_read_still_running_gets_a_line_every_interval() -> None:
    out, clock = io.StringIO(), Clock()
    events = LogReadEvents(out, every=30, clock=clock)
    events.reading("news", "ongage list 1001")
    clock.now += 10
    events.reading("vip", "yesmail list vip-offers")
    events.tick()  # 10 s: nothing yet
    clock.now += 20
    events.tick()  # news 30 s, vip 20 s
    events.read("news")
    clock.now += 45
    events.tick()  # news done, vip 65 s
    events.read("vip")
    events.tick()
    assert out.getvalue().splitlines() == [
        "still reading the current state of 'news' from ongage list 1001: 30s so far",
        "still reading the current state of 'vip' from yesmail list vip-offers: 1m05s so far",
    ]


def test_the_read_ticker_stops_with_the_block_and_a_quick_read_prints_nothing() -> None:
    out = io.StringIO()
    with LogReadEvents(out, every=0.05) as events:
        events.reading("news", "ongage list 1001")
        events.read("news")
    assert not events._ticker.is_alive()
    assert out.getvalue() == ""
