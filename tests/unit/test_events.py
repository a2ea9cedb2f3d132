"""Apply's progress output: plain lines for CI, a live display on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from reconciler.apply.events import LogEvents, RichEvents
from reconciler.model import Action
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus

BATCH = Batch("news", "1001", Action.ADD, 1, Path("b.csv"), 1200, "ab" * 32)
DONE = JobStatus(JobState.SUCCEEDED, "40003", {"total": 1200, "success": 1200})


def test_log_lines_for_ci() -> None:
    out = io.StringIO()
    events = LogEvents(out)
    events.batch_submitted(BATCH, JobRef("7"))
    events.batch_finished(BATCH, DONE)
    assert out.getvalue().splitlines() == [
        "news: add batch 1 (1,200 rows) submitted, job 7",
        "news: add batch 1 succeeded (40003; total=1200, success=1200)",
    ]


def test_live_progress_on_a_terminal_ends_with_each_batch_outcome() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RichEvents(console) as events:
        events.batch_submitted(BATCH, JobRef("7"))
        events.batch_polled(BATCH, JobStatus(JobState.PENDING, "40002"))
        events.batch_finished(BATCH, DONE)
    assert "news add #1 (1,200 rows): succeeded (40003)" in out.getvalue()
