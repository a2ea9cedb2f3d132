"""Terminal escape sequences from hostile data are shown, never run.

A consent cell, a vendor's error message, a vendor-side address or a list ID could clear the
screen and write "All good: no changes" just before ``apply`` asks for ``yes``. Every data value
that reaches a terminal goes through ``reconciler.render.safe`` where it is formatted: control
characters (C0 with the line feed, DEL, C1), the line and paragraph separators and the Unicode
bidi controls are shown as escapes; the colours reconciler itself adds are kept.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.apply.engine import ApplyReport, BatchOutcome
from reconciler.cli.apply import _summary
from reconciler.cli.main import error_text
from reconciler.drift.compute import compute_drift
from reconciler.errors import ConfigError, PlanError, Problem, ProviderError
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus
from reconciler.render import drift_text
from reconciler.render.progress import LogEvents, RichEvents
from reconciler.render.safe import terminal, terminal_lines, visible
from reconciler.render.text import render_text
from tests.reliability.harness import FaultProject

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
#: Clear the screen, home the cursor, then a line of reconciler's own words.
FORGED = "\x1b[2J\x1b[HAll good: no changes.\nDo you want to apply this plan? \u202eyes"
#: FORGED as it must be shown: one inert piece of a line.
SHOWN = "\\x1b[2J\\x1b[HAll good: no changes.\\nDo you want to apply this plan? \\u202eyes"


# -- the sanitiser ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x00", "\\x00"),
        ("\x07", "\\x07"),
        ("\x08", "\\x08"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\x1b", "\\x1b"),
        ("\x1f", "\\x1f"),
        ("\x7f", "\\x7f"),
        ("\x80", "\\x80"),
        ("\x85", "\\x85"),
        ("\x9b", "\\x9b"),
        ("\x9f", "\\x9f"),
        ("\u061c", "\\u061c"),
        ("\u200e", "\\u200e"),
        ("\u200f", "\\u200f"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("\u202a", "\\u202a"),
        ("\u202b", "\\u202b"),
        ("\u202c", "\\u202c"),
        ("\u202d", "\\u202d"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u2067", "\\u2067"),
        ("\u2068", "\\u2068"),
        ("\u2069", "\\u2069"),
    ],
)
def test_each_control_character_is_shown_as_its_escape(raw: str, shown: str) -> None:
    assert visible(f"a{raw}b") == f"a{shown}b"
    assert terminal(f"a{raw}b") == f"a{shown}b"


def test_ordinary_text_is_unchanged() -> None:
    text = "Zoë O'Brien-Łukasz 😀 <ann@example.com> C:\\exports\\x.csv #4821 \u00a0 \u200d"
    assert visible(text) == text
    assert terminal(text) == text
    assert terminal(1200) == "1200"


def test_a_forged_screen_is_one_inert_piece_of_text() -> None:
    assert terminal(FORGED) == SHOWN


def test_structural_line_feeds_can_be_kept_and_nothing_else() -> None:
    assert visible("one\ntwo\r\x1b[2J\u202e", newlines=True) == "one\ntwo\\r\\x1b[2J\\u202e"
    assert terminal_lines("a\nb\x1b") == "a\nb\\x1b"


# -- the plan and the drift report as text ----------------------------------------------------


def hostile_plan() -> Plan:
    changes = (
        ListChange(ChangeKind.ADD, "ann@example.com", f"opt-in: {FORGED} (s.csv:2)"),
        # A vendor-side address: the vendor's export is not checked like the repository.
        ListChange(ChangeKind.REMOVE, "hal\x1b[8m@example.com", "not declared"),
        ListChange(
            ChangeKind.UPDATE,
            "bob@example.com",
            "m.csv:3",
            {"first\x1b[0mname": "Bob"},
            {"first\x1b[0mname": "\x1b]0;pwned\x07"},
        ),
    )
    list_plan = ListPlan(
        "news",
        "og",
        "ongage",
        "10\x1b[1A01",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        changes,
        CurrentStateRef("export", "exports/\u202egsv.csv", 2, "ab" * 32, NOW),
        desired_members=2,
        active_members=2,
        skipped_invalid=("m.csv:9: invalid e-mail address 'x\x1b[2J'",),
        gaps=(CapabilityGap(ChangeKind.REMOVE, 1, "cannot remove\r\x1b[2K1 removal"),),
    )
    return Plan((list_plan,), NOW)


def test_the_plan_text_shows_every_hostile_value_escaped() -> None:
    assert render_text(hostile_plan()).splitlines() == [
        "List 'news' (ongage list 10\\x1b[1A01 via provider 'og', authoritative, drops by remove)",
        "  current state: export exports/\\u202egsv.csv (2 rows, sha256 abababababab…); "
        "2 active, 2 declared",
        "  ✗ CANNOT APPLY: cannot remove\\r\\x1b[2K1 removal",
        "  ! 1 invalid row(s) skipped (skip_invalid: true):",
        "      m.csv:9: invalid e-mail address 'x\\x1b[2J'",
        "  + add: 1",
        f"      + ann@example.com  # opt-in: {SHOWN} (s.csv:2)",
        "  - remove: 1",
        "      - hal\\x1b[8m@example.com  # not declared",
        "  ~ update: 1",
        "      ~ bob@example.com  (first\\x1b[0mname: '\\x1b]0;pwned\\x07' → 'Bob')  # m.csv:3",
        "",
        "1 action(s) cannot be applied through the vendors' documented APIs (see ✗ above).",
        "Plan: 1 to add, 1 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 0 held.",
    ]


def test_colours_reconciler_adds_survive_and_data_is_still_escaped() -> None:
    text = render_text(hostile_plan(), colour=True)
    assert (
        f"\x1b[32m      + ann@example.com\x1b[0m\x1b[2m  # opt-in: {SHOWN} (s.csv:2)\x1b[0m"
        in text.splitlines()
    )
    # Every escape character left is one of reconciler's own colour codes.
    assert text.count("\x1b") == text.count("\x1b[0m") * 2


def test_the_drift_text_shows_hostile_values_escaped() -> None:
    drift = compute_drift(hostile_plan(), None)
    lines = drift_text.render_text(drift).splitlines()
    assert lines[:4] == [
        "List 'news' (ongage list 10\\x1b[1A01 via provider 'og'): drift",
        "  current state: export exports/\\u202egsv.csv (2 rows, sha256 abababababab…, "
        "read 2026-11-23T03:20:00+00:00)",
        "  to apply (the repository wants): 2 (1 add, 1 remove)",
        "    ✗ cannot apply: cannot remove\\r\\x1b[2K1 removal",
    ]
    assert "\x1b" not in "".join(lines) and "\u202e" not in "".join(lines)


# -- apply's progress and summary -------------------------------------------------------------

BATCH = Batch("news", "1001", Action.ADD, 1, Path("b.csv"), 2, "ab" * 32)


def test_apply_log_lines_show_the_vendors_words_escaped() -> None:
    out = io.StringIO()
    events = LogEvents(out)
    events.batch_submitted(BATCH, JobRef("7\x1b[2K"))
    events.batch_finished(
        BATCH, JobStatus(JobState.FAILED, "\x1b]0;t\x07Error", {"e\x1bx": 1}, FORGED)
    )
    events.note(f"news/add/0001: {FORGED}")
    assert out.getvalue().splitlines() == [
        "news: add batch 1 (2 rows) submitted, job 7\\x1b[2K",
        "news: add batch 1 failed (\\x1b]0;t\\x07Error; e\\x1bx=1)",
        f"news/add/0001: {SHOWN}",
    ]


def test_live_progress_takes_vendor_text_as_plain_text_never_markup() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with RichEvents(console) as events:
        events.batch_submitted(BATCH, JobRef("[bold red]7[/]"))
        assert [t.description for t in events.progress.tasks] == [
            "news add #1 (2 rows) job [bold red]7[/]"
        ]
        events.batch_finished(BATCH, JobStatus(JobState.SUCCEEDED, "[/]\x1b[2J"))
        events.note("[link=https://evil.example]click[/link]")
    shown = out.getvalue()
    assert "news add #1 (2 rows): succeeded ([/]\\x1b[2J)" in shown
    assert "[link=https://evil.example]click[/link]" in shown
    assert "\x1b[2J" not in shown


def test_the_apply_summary_shows_a_vendors_message_escaped() -> None:
    failed = BatchOutcome(BATCH, JobState.FAILED, None, {}, f"ongage: answered 400: {FORGED}")
    assert _summary(ApplyReport([failed])) == [
        "  news: 1 batch(es), 2 row(s), 1 failed",
        f"  ✗ {BATCH.key}: ongage: answered 400: {SHOWN}",
    ]


# -- error messages ---------------------------------------------------------------------------


def test_a_vendors_error_is_one_line_whatever_it_holds() -> None:
    exc = ProviderError(f"answered 401: {FORGED}", vendor="ongage", endpoint="GET /x")
    assert error_text(exc) == f"ongage GET /x: answered 401: {SHOWN}"


def test_a_configuration_error_keeps_one_problem_a_line() -> None:
    problems = [
        Problem("unknown key 'x\x1b[2J'", "c.yaml", 2, 1),
        Problem(f"bad value {FORGED}", "c.yaml", 3),
    ]
    assert error_text(ConfigError(problems)).splitlines() == [
        "2 problem(s) found:",
        "  c.yaml:2:1: unknown key 'x\\x1b[2J'",
        f"  c.yaml:3: bad value {SHOWN}",
    ]


def test_other_errors_keep_their_lines_and_escape_the_rest() -> None:
    exc = PlanError("the plan cannot be used:\n  - list \x1b[2Jnews\u202e")
    assert error_text(exc) == "the plan cannot be used:\n  - list \\x1b[2Jnews\\u202e"


# -- the command line -------------------------------------------------------------------------

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null}
lists:
  news: {provider: og, list_id: 1001, managed_fields: [first_name], members: [{csv: members.csv}]}
"""
SEED = """\
ongage:
  lists:
    "1001": {fields: [first_name], contacts: [{email: hal@example.com, status: active}]}
"""
#: FORGED as a vendor's JSON error body.
BODY = json.dumps({"message": FORGED})


@pytest.fixture
def project(tmp_path: Path) -> FaultProject:
    p = FaultProject(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email,first_name\nann@example.com,Ann\n")
    return p


def test_a_vendors_hostile_error_is_printed_escaped(project: FaultProject) -> None:
    project.inject(path="/ongage/1001/api/export", kind="status", status=401, count=20, body=BODY)
    run = project.run("plan", "-c", "reconciler.yaml")
    assert (run.code, run.out) == (1, "")
    assert run.err == f"Error: ongage POST /1001/api/export: answered 401: {SHOWN}\n"


def test_a_vendors_hostile_rejection_during_apply_is_printed_escaped(
    project: FaultProject,
) -> None:
    # The first import is the removal's (drops go first): the vendor refuses it.
    project.inject(
        path="/ongage/1001/api/import", method="POST", kind="status", status=400, body=BODY
    )
    run = project.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert run.code == 5, run.err
    (failed,) = [line for line in run.out.splitlines() if line.startswith("  ✗ ")]
    assert failed.startswith("  ✗ news/remove/0001/")
    assert failed.endswith(f": ongage POST /1001/api/import: answered 400: {SHOWN}")
    assert run.out.splitlines()[-3:] == [
        "  news: 2 batch(es), 2 row(s), 1 failed",
        failed,
        "Not verified (--no-verify): `reconciler plan` compares the vendors again.",
    ]
    for text in (run.out, run.err):
        assert "\x1b" not in text and "\u202e" not in text
