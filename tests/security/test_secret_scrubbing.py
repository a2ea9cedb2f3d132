"""Known secrets are masked in everything reconciler prints or stores.

A vendor that echoes the token in a 401 or 400 body would otherwise put it into the error
printed, the state (its job ledger, and so the backup), the plan files and the reports. The
credentials are registered as secrets when the configuration substitutes them (``${env:…}``);
each sink masks them as ``***``: where errors are printed, the ledger's messages, the whole
serialised state as a last line of defence, the plan's JSON and saved plan, every renderer.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.cli.main import crash_text, error_text
from reconciler.drift.compute import compute_drift
from reconciler.errors import PlanError, ProviderError
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan.artifact import SavedPlan, StateRef, read_saved_plan, write_saved_plan
from reconciler.plan.checksum import exports_checksum, plan_checksum
from reconciler.plan.jsonform import dumps, plan_to_dict
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.providers.base import Batch, JobRef, JobState, JobStatus
from reconciler.redact import forget_secrets, register_secret, scrub_json, scrub_json_lines
from reconciler.render import drift_html, drift_json, drift_markdown, drift_text
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from reconciler.state.ledger import StateLedger
from reconciler.state.local import LocalStateStore
from reconciler.state.model import ExportSeen, ListState, RunEntry, State, now, parse_state
from tests.reliability.harness import FaultProject

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
TOKEN = "tok-TESTSECRET-1234"
USER = "u-TESTSECRET-user"
ACCOUNT = "acct-TESTSECRET-0001"
#: A secret with characters JSON and Markdown escape: it must be masked before either does.
ODD = 'tok_TEST*SECRET|"5678'
#: A secret JSON writes as \\u escapes when it writes ASCII only.
WIDE = "tök-TESTSECRET-ünï"
#: A secret of digits: masking it inside a JSON number would break the document.
DIGITS = "98765432"
SECRETS = (TOKEN, USER, ACCOUNT, ODD, WIDE, DIGITS)


def leaks(data: str | bytes) -> list[str]:
    """Every secret ``data`` holds, as it is or in a form JSON writes it in, and any part of
    one (``TESTSECRET``). Digits are everywhere in numbers: checked where they matter."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    found = [
        secret
        for secret in SECRETS
        if secret != DIGITS and any(form in text for form in (secret, json.dumps(secret)[1:-1]))
    ]
    return found + (["TESTSECRET"] if "TESTSECRET" in text else [])


def clear_faults(p: FaultProject) -> None:
    with p.store() as sandbox:
        sandbox.faults.clear()


@pytest.fixture
def registered() -> Iterator[None]:
    for secret in SECRETS:
        register_secret(secret)
    yield
    forget_secrets()


# -- serialised JSON --------------------------------------------------------------------------


def indented(data: object) -> str:
    return json.dumps(data, indent=2) + "\n"


def test_json_without_a_secret_is_returned_as_it_is(registered: None) -> None:
    text = indented({"rows": 3, "note": "nothing here"})
    assert scrub_json(text, indented) is text


def test_a_secret_is_masked_in_strings_and_never_in_numbers(registered: None) -> None:
    text = indented({"rows": 987654321, DIGITS: f"id {DIGITS}", "ok": [f"{TOKEN}!"]})
    assert json.loads(scrub_json(text, indented)) == {
        "rows": 987654321,
        "***": "id ***",
        "ok": ["***!"],
    }


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_a_secret_is_found_as_json_escapes_it(registered: None, ensure_ascii: bool) -> None:
    text = json.dumps({"m": f"a {ODD} b {WIDE}"}, ensure_ascii=ensure_ascii)
    scrubbed = scrub_json(text, json.dumps)
    assert json.loads(scrubbed) == {"m": "a *** b ***"} and leaks(scrubbed) == []


def test_json_lines_are_scrubbed_line_by_line(registered: None) -> None:
    text = '{"a": "x"}\n{"a": "' + TOKEN + '\u2028"}\n'
    assert scrub_json_lines(text, json.dumps) == '{"a": "x"}\n{"a": "***\\u2028"}\n'


# -- the state --------------------------------------------------------------------------------

BATCH = Batch("news", "1001", Action.ADD, 1, Path("b.csv"), 1, "ab" * 32)
REMOVALS = Batch("news", "1001", Action.REMOVE, 1, Path("r.csv"), 1, "cd" * 32)


def test_the_ledger_keeps_vendors_messages_with_the_secrets_masked(
    registered: None, tmp_path: Path
) -> None:
    path = tmp_path / ".reconciler" / "state.json"
    failures = tmp_path / ".reconciler" / "failures"
    ledger = StateLedger(LocalStateStore(path), State(), run_id="r1", failures_dir=failures)
    ledger.start_run("apply")
    sent = ledger.submitting(BATCH, provider="og", url=None)
    ledger.submitted(sent, JobRef("7", {"echo": f"user {USER}"}))
    ledger.progress(sent, JobStatus(JobState.PENDING, f"queued for {ACCOUNT}"))
    refused = [{"row": 1, "email": "ann@example.com", "error": f"key {TOKEN} refused"}]
    ledger.finished(
        sent, JobStatus(JobState.FAILED, "90001", {}, f"answered 401: {TOKEN}", refused)
    )
    lost = ledger.submitting(REMOVALS, provider="og", url=None)
    ledger.unknown(lost, f"timed out; {ODD}", since=now())
    ledger.unsent(lost, f"answered 400: {WIDE}; not found at the vendor")
    ledger.finish_run("failed batches")

    files = [path, path.with_name("state.json.backup"), *failures.glob("*.jsonl")]
    assert len(files) == 3
    assert [(f.name, leaks(f.read_bytes())) for f in files if leaks(f.read_bytes())] == []
    first, second = parse_state(path.read_text(), str(path)).jobs
    assert (first.message, first.job_detail, first.vendor_status) == (
        "answered 401: ***",
        {"echo": "user ***"},
        "90001",
    )
    assert second.message == "answered 400: ***; not found at the vendor"
    (failure,) = failures.glob("*.jsonl")
    assert json.loads(failure.read_text())["error"] == "key *** refused"


def test_the_state_file_masks_a_secret_in_any_field_and_stays_valid(
    registered: None, tmp_path: Path
) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    export = ExportSeen(kind="vendor", location=f"GET /x?key={ODD}", rows=int(DIGITS), sha256="0")
    state = State(
        lists={"news": ListState(provider="og", vendor="ongage", vendor_list_id="1001")},
        runs=[RunEntry(run_id="r1", operation="apply", outcome=f"stopped by {TOKEN}")],
    )
    state.lists["news"].last_export = export
    written = store.write(state)
    text = (tmp_path / "state.json").read_text()
    assert leaks(text) == []
    stored = parse_state(text, "state.json")
    assert stored.lists["news"].last_export == ExportSeen(
        kind="vendor", location="GET /x?key=***", rows=98765432, sha256="0"
    )
    assert stored.runs[0].outcome == "stopped by ***"
    # The same state again is no change: it is compared as stored, masked.
    assert store.write(written).serial == written.serial == 1


# -- plans and reports ------------------------------------------------------------------------


def secret_plan() -> Plan:
    changes = (
        ListChange(ChangeKind.ADD, "ann@example.com", f"opt-in: {TOKEN} (s.csv:2)"),
        ListChange(
            ChangeKind.UPDATE,
            "bob@example.com",
            "m.csv:3",
            {"first_name": "Bob"},
            {"first_name": ODD},
        ),
    )
    list_plan = ListPlan(
        "news",
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        changes,
        CurrentStateRef("vendor", f"ongage GET /export?u={USER}", 2, "ab" * 32, NOW),
        gaps=(CapabilityGap(ChangeKind.REMOVE, 1, f"account {ACCOUNT} cannot remove"),),
        skipped_invalid=(f"m.csv:9: {WIDE}",),
    )
    return Plan((list_plan,), NOW, "c" * 64)


def test_the_plan_text_masks_every_secret(registered: None) -> None:
    lines = render_text(secret_plan()).splitlines()
    assert leaks("\n".join(lines)) == []
    assert lines[1].startswith("  current state: vendor ongage GET /export?u=*** (2 rows")
    assert "      + ann@example.com  # opt-in: *** (s.csv:2)" in lines
    assert "      ~ bob@example.com  (first_name: '***' → 'Bob')  # m.csv:3" in lines
    assert "  ✗ CANNOT APPLY: account *** cannot remove" in lines


def test_the_plan_markdown_masks_secrets_before_escaping_them(registered: None) -> None:
    markdown = render_markdown(secret_plan())
    assert leaks(markdown) == [] and "TEST" not in markdown
    assert "| b***@example.com | first_name: '\\*\\*\\*' → 'Bob' | m.csv:3 |" in markdown
    assert "| a***@example.com |  | opt-in: \\*\\*\\* (s.csv:2) |" in markdown


def test_the_plan_json_masks_secrets_and_stays_valid(registered: None, tmp_path: Path) -> None:
    text = dumps(plan_to_dict(secret_plan()))
    assert leaks(text) == []
    data = json.loads(text)
    assert [row["previous"] for row in data["lists"][0]["rows"]] == [{}, {"first_name": "***"}]
    spilled = plan_to_dict(secret_plan(), rows_dir=tmp_path / "p.rows", inline_row_limit=0)
    rows = (tmp_path / "p.rows" / "news.jsonl").read_text()
    assert leaks(rows) == [] and leaks(dumps(spilled)) == []
    assert [json.loads(line)["reason"] for line in rows.splitlines()] == [
        "opt-in: *** (s.csv:2)",
        "m.csv:3",
    ]


def test_a_saved_plan_masks_secrets_and_apply_refuses_it(registered: None, tmp_path: Path) -> None:
    plan = secret_plan()
    path = tmp_path / "plan.zip"
    write_saved_plan(
        path,
        SavedPlan(plan, StateRef("s", None, 0), plan_checksum(plan), exports_checksum(plan)),
    )
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert [name for name, data in members.items() if leaks(data)] == []
    manifest = json.loads(members["manifest.json"])
    assert manifest["secrets_masked"] == ["rows/0001.jsonl", "manifest.json"]
    with pytest.raises(PlanError, match="it held the value of a credential, masked when"):
        read_saved_plan(path)


def test_every_drift_report_masks_every_secret(registered: None) -> None:
    drift = compute_drift(secret_plan(), None)
    for redact in (True, False):
        reports = {
            "text": drift_text.render_text(drift),
            "md": drift_markdown.render_markdown(drift, redact=redact),
            "html": drift_html.render_html(drift, redact=redact),
            "json": drift_json.render_json(drift, redact=redact),
        }
        assert {name: leaks(text) for name, text in reports.items()} == {
            name: [] for name in reports
        }
    assert "| add | ann@example.com | opt-in: \\*\\*\\* (s.csv:2) |" in reports["md"]
    assert "<td>add</td><td>ann@example.com</td><td>opt-in: *** (s.csv:2)</td>" in reports["html"]


def test_errors_and_crashes_are_printed_with_the_secrets_masked(registered: None) -> None:
    exc = ProviderError(f"answered 401: bad token {TOKEN}", vendor="ongage", endpoint="GET /x")
    assert error_text(exc) == "ongage GET /x: answered 401: bad token ***"
    try:
        raise RuntimeError(f"unexpected answer {ODD}\x1b[2J")
    except RuntimeError as crash:
        text = crash_text(crash)
    assert text.startswith("Traceback (most recent call last):\n")
    assert text.endswith("RuntimeError: unexpected answer ***\\x1b[2J\n")


# -- the command line, end to end -------------------------------------------------------------

ENV = {"OG_USER": USER, "OG_PASS": TOKEN, "OG_ACCOUNT": ACCOUNT}
CONFIG = """\
providers:
  og:
    type: ongage
    base_url: sandbox
    credentials: {username: "${env:OG_USER}", password: "${env:OG_PASS}",
                  account_code: "${env:OG_ACCOUNT}"}
    options: {poll_interval_seconds: 0.005}
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
ECHO = json.dumps({"message": f"invalid credentials {USER}/{TOKEN} for account {ACCOUNT}"})
FINGERPRINT = re.compile(r"sha256 [0-9a-f]{12}…")
#: The command, with the credentials registered first as the configuration's ``${env:…}``
#: substitution registers them: this test checks the sinks, whatever loads the configuration.
REGISTERED_MAIN = (
    "import os, sys; from reconciler.redact import register_secret; "
    f"[register_secret(os.environ[name]) for name in {sorted(ENV)!r}]; "
    "from reconciler.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


class SecretsProject(FaultProject):
    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", REGISTERED_MAIN, *args]


def test_a_vendor_echoing_the_token_leaves_it_in_no_output_and_no_file(tmp_path: Path) -> None:
    p = SecretsProject(tmp_path, ENV)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email,first_name\nann@example.com,Ann\n")

    # A 401 on the read: the error printed.
    p.inject(path="/ongage/1001/api/export", kind="status", status=401, count=20, body=ECHO)
    refused = p.run("plan", "-c", "reconciler.yaml", "--json", "out/plan.json")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        "Error: ongage POST /1001/api/export: answered 401: invalid credentials ***/*** for "
        "account ***\n"
    )
    clear_faults(p)

    # A 400 on the first import (the removal's): the apply summary and the ledger.
    p.inject(path="/ongage/1001/api/import", method="POST", kind="status", status=400, body=ECHO)
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert applied.code == 5, applied.err
    assert FINGERPRINT.sub("sha256 …", applied.out).splitlines() == [
        "List 'news' (ongage list 1001 via provider 'og', authoritative, drops by remove)",
        "  current state: vendor ongage POST /1001/api/export (one per status) (1 rows, "
        "sha256 …); 1 active, 1 declared",
        "  + add: 1",
        "      + ann@example.com  (first_name='Ann')  # members.csv:2",
        "  - remove: 1",
        "      - hal@example.com  # not declared (authoritative list, drop action: remove)",
        "",
        "Plan: 1 to add, 1 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 0 to update, 0 held.",
        "news: add batch 1 (1 rows) submitted, job 1",
        "news: add batch 1 succeeded (Completed; total=1, success=1)",
        "",
        "Apply finished:",
        "  news: 2 batch(es), 2 row(s), 1 failed",
        f"  ✗ {p.state().jobs[0].batch_key}: ongage POST /1001/api/import: answered 400: "
        "invalid credentials ***/*** for account ***",
        "Not verified (--no-verify): `reconciler plan` compares the vendors again.",
    ]
    assert applied.err == ""
    (rejected,) = [job for job in p.state().jobs if job.status == "failed"]
    assert rejected.message == (
        "ongage POST /1001/api/import: answered 400: invalid credentials ***/*** for account ***"
    )
    shown = [p.run("state", cmd, "-c", "reconciler.yaml") for cmd in ("show", "jobs")]
    assert [run.code for run in shown] == [0, 0]

    for run in (refused, applied, *shown):
        assert leaks(run.out) == leaks(run.err) == []
    state_dir = tmp_path / ".reconciler"
    assert (state_dir / "state.json.backup").is_file()
    ours = [
        f
        for f in tmp_path.rglob("*")
        if f.is_file() and f.relative_to(tmp_path).parts[0] != ".sandbox"
    ]
    assert state_dir / "state.json" in ours
    assert [(str(f), leaks(f.read_bytes())) for f in ours if leaks(f.read_bytes())] == []
