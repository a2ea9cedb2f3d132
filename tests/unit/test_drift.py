"""Drift from hand-built plans, its write-back merge and its renderers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import pytest

from reconciler.drift.compute import compute_drift, vendor_held
from reconciler.drift.model import Drift, Part, VendorSuppression
from reconciler.drift.writeback import (
    SuppressionRow,
    merge,
    pulled_rows,
    read_rows,
    render_csv,
)
from reconciler.engine.rules import AtVendor, Declared, ListRules, Suppressed, decide
from reconciler.errors import SourceError
from reconciler.failures import FailedRow, FailedRows, JobFailures
from reconciler.model import (
    ChangeKind,
    ContactStatus,
    DropAction,
    ListMode,
    SuppressionReason,
)
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.render.drift_html import render_html
from reconciler.render.drift_json import drift_to_dict
from reconciler.render.drift_markdown import render_markdown
from reconciler.render.drift_text import render_text, summary_line
from reconciler.state.model import JobEntry, State

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "specs/drift.schema.json").read_text())
RULES = ListRules(ListMode.AUTHORITATIVE, DropAction.REMOVE, ("first_name",))


def held_by_vendor(email: str, status: ContactStatus, line: int) -> ListChange:
    change = decide(
        email,
        RULES,
        declared=Declared(f"m.csv:{line}"),
        vendor=AtVendor(status),
        suppressed=None,
        opt_in=None,
    )
    assert change is not None
    return change


def list_plan(name: str = "news", vendor: str = "ongage", *changes: ListChange) -> ListPlan:
    return ListPlan(
        name,
        "og",
        vendor,
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        tuple(changes),
        CurrentStateRef("vendor", "ongage POST /1001/api/export", 10, "ab" * 32, NOW),
    )


def news_plan() -> ListPlan:
    return list_plan(
        "news",
        "ongage",
        # Sorted by kind and address, as the engine makes them.
        ListChange(ChangeKind.ADD, "abe@example.com", "m.csv:4"),
        ListChange(ChangeKind.ADD, "amy@example.com", "m.csv:3"),
        ListChange(ChangeKind.ADD, "ann@example.com", "m.csv:2", {"first_name": "Ann"}),
        ListChange(ChangeKind.REMOVE, "hal@example.com", "not declared"),
        ListChange(
            ChangeKind.UPDATE,
            "bob@example.com",
            "m.csv:5",
            {"first_name": "Bob"},
            {"first_name": "Robert"},
        ),
        held_by_vendor("carl@example.com", ContactStatus.UNSUBSCRIBED, 6),
        held_by_vendor("cleo@example.com", ContactStatus.COMPLAINT, 7),
        ListChange(
            ChangeKind.HELD,
            "ivy@example.com",
            "suppressed: bounce (s.csv:2); declared at m.csv:8",
        ),
    )


def job(list_name: str, status: str, rows: int, index: int = 1) -> JobEntry:
    return JobEntry(
        batch_key=f"k{index}",
        run_id="r",
        provider="og",
        list=list_name,
        vendor_list_id="1001",
        action="add",
        index=index,
        rows=rows,
        sha256="0" * 64,
        file="batch.csv",
        status=status,  # type: ignore[arg-type]
        vendor_job_id="77" if status == "submitted" else None,
    )


def make_drift(sample: int = 2, state: State | None = None) -> Drift:
    plan = Plan((news_plan(), list_plan("quiet", "listmonk")), NOW, "c" * 64)
    return compute_drift(plan, state, sample=sample)


# -- compute ---------------------------------------------------------------------------------


def test_vendor_held_reads_the_reason_the_rules_give() -> None:
    change = held_by_vendor("carl@example.com", ContactStatus.BOUNCED, 6)
    assert vendor_held(change) == VendorSuppression(
        "carl@example.com", ContactStatus.BOUNCED, "m.csv:6"
    )
    assert vendor_held(change).reason is SuppressionReason.BOUNCE  # type: ignore[union-attr]
    suppressed = decide(
        "ivy@example.com",
        RULES,
        declared=Declared("m.csv:8"),
        vendor=AtVendor(ContactStatus.UNSUBSCRIBED),
        suppressed=Suppressed(SuppressionReason.BOUNCE, "s.csv:2"),
        opt_in=None,
    )
    assert suppressed is not None and suppressed.kind is ChangeKind.HELD
    assert vendor_held(suppressed) is None  # the repository knows already: not drift


def test_drift_separates_the_four_parts_per_list_and_vendor() -> None:
    state = State(jobs=[job("news", "submitted", 5), job("news", "succeeded", 9, 2)])
    drift = make_drift(state=state)
    news, quiet = drift.lists
    assert news.counts == {Part.CHANGES: 4, Part.ABSORB: 2, Part.FIELDS: 1, Part.PENDING: 5}
    assert news.changes[ChangeKind.ADD] == 3 and news.changes[ChangeKind.REMOVE] == 1
    # The sample is bounded per kind: two of the three adds, the one removal.
    assert [c.email for c in news.change_sample] == [
        "abe@example.com",
        "amy@example.com",
        "hal@example.com",
    ]
    assert [(a.email, a.status) for a in news.absorb] == [
        ("carl@example.com", ContactStatus.UNSUBSCRIBED),
        ("cleo@example.com", ContactStatus.COMPLAINT),
    ]
    assert news.field_counts == {"first_name": 1}
    assert news.field_sample[0].fields == (("first_name", "Robert", "Bob"),)
    assert [(j.rows, j.status, j.vendor_job_id) for j in news.pending] == [(5, "submitted", "77")]
    assert news.held_suppressed == 1
    assert not quiet.has_drift and drift.has_drift
    assert drift.by_vendor == {
        "listmonk": dict.fromkeys(Part, 0),
        "ongage": {Part.CHANGES: 4, Part.ABSORB: 2, Part.FIELDS: 1, Part.PENDING: 5},
    }


def test_held_by_the_repositorys_own_suppressions_is_not_drift() -> None:
    plan = Plan(
        (list_plan("news", "ongage", *list(news_plan().of_kind(ChangeKind.HELD))[2:]),), NOW
    )
    drift = compute_drift(plan, None)
    assert not drift.has_drift
    assert summary_line(drift) == "No drift. The vendors match the repository."


# -- write-back ------------------------------------------------------------------------------


def row(
    email: str, reason: str, list_name: str = "news", seen: str = "2026-11-01"
) -> SuppressionRow:
    return SuppressionRow(email, SuppressionReason(reason), "ongage", list_name, seen)


def test_pulled_rows_carry_vendor_list_and_date() -> None:
    rows = pulled_rows(make_drift(), date(2026, 11, 23))
    assert rows == [
        row("carl@example.com", "unsubscribe", seen="2026-11-23"),
        row("cleo@example.com", "complaint", seen="2026-11-23"),
    ]


def test_merge_keeps_old_dates_upgrades_reasons_sorts_and_is_idempotent() -> None:
    existing = [
        row("zed@example.com", "bounce"),
        row("carl@example.com", "unsubscribe"),
        row("carl@example.com", "unsubscribe", "updates"),
    ]
    pulled = [
        row("carl@example.com", "complaint", seen="2026-11-23"),  # stronger: replaces
        row("zed@example.com", "unsubscribe", seen="2026-11-23"),  # weaker: ignored
        row("amy@example.com", "bounce", seen="2026-11-23"),  # new
    ]
    merged = merge(existing, pulled)
    assert (merged.added, merged.updated) == (1, 1)
    text = render_csv(merged.rows)
    assert text == (
        "email,reason,vendor,list,seen_at\n"
        "amy@example.com,bounce,ongage,news,2026-11-23\n"
        "carl@example.com,complaint,ongage,news,2026-11-23\n"
        "carl@example.com,unsubscribe,ongage,updates,2026-11-01\n"
        "zed@example.com,bounce,ongage,news,2026-11-01\n"
    )
    again = merge(merged.rows, pulled)
    assert not again.changed and render_csv(again.rows) == text


def test_read_rows_round_trips_and_refuses_foreign_columns(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    assert read_rows(path, "vendor.csv") == []
    path.write_text(
        "Email,Reason,vendor,list,seen_at\n Amy@Example.com ,BOUNCE,ongage,news,2026-11-01\n"
    )
    assert read_rows(path, "vendor.csv") == [row("amy@example.com", "bounce")]
    path.write_text("email,reason,note\na@example.com,bounce,x\n")
    with pytest.raises(SourceError) as caught:
        read_rows(path, "vendor.csv")
    assert str(caught.value) == (
        "Cannot merge into the write-back file:\n"
        "  vendor.csv:1: the write-back file must have the columns email, reason, vendor, "
        "list, seen_at (missing: -; unknown: note)"
    )
    path.write_text("email,reason\na@example.com,spam\n")
    with pytest.raises(SourceError, match=r"vendor.csv:2: unknown suppression reason 'spam'"):
        read_rows(path, "vendor.csv")


# -- renderers -------------------------------------------------------------------------------


def test_text_report_counts_without_addresses() -> None:
    text = render_text(make_drift(state=State(jobs=[job("news", "submitted", 5)])))
    assert "@" not in text
    assert text.splitlines()[-1] == "Drift: 4 to apply, 2 to absorb, 1 with field drift, 5 pending."
    assert "  to absorb (changed at the vendor): 2 (1 unsubscribed, 1 complaint)" in text
    assert "List 'quiet' (listmonk list 1001 via provider 'og'): in sync" in text


def test_markdown_masks_addresses_and_field_values_unless_asked() -> None:
    drift = make_drift()
    masked = render_markdown(drift)
    assert "carl@example.com" not in masked and "Robert" not in masked
    assert "| c\\*\\*\\*@example.com | unsubscribed | m.csv:6 |" in masked
    assert "| b\\*\\*\\*@example.com | first_name | \\*\\*\\* | \\*\\*\\* |" in masked
    assert "| news | ongage | 4 | 2 | 1 | 0 |" in masked
    assert "| remove | h\\*\\*\\*@example.com | not declared | - |\n\n… and 1 more\n" in masked
    full = render_markdown(drift, redact=False)
    assert "| carl@example.com | unsubscribed | m.csv:6 |" in full
    assert "| bob@example.com | first_name | Robert | Bob |" in full


def test_html_escapes_values_and_loads_nothing_from_outside() -> None:
    hostile = list_plan(
        "x",
        "ongage",
        ListChange(ChangeKind.ADD, "a@example.com", "<script>alert(1)</script>.csv:2"),
    )
    gap = CapabilityGap(ChangeKind.ADD, 1, 'cannot "add" <b>here</b>')
    hostile = replace(hostile, gaps=(gap,))
    html = render_html(compute_drift(Plan((hostile,), NOW), None))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "cannot &#34;add&#34; &lt;b&gt;here&lt;/b&gt;" in html
    for external in ("<script", "<link", " src=", "url(", "@import"):
        assert external not in html
    assert "a***@example.com" in html and "a@example.com" not in html


def test_json_report_matches_its_schema_redacted_or_not() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    drift = make_drift(state=State(jobs=[job("news", "submitted", 5)]))
    for redact in (True, False):
        data = drift_to_dict(drift, redact=redact)
        jsonschema.validate(data, SCHEMA)
        assert data["redacted"] is redact
    data = drift_to_dict(drift)
    assert data["summary"] == {"changes": 4, "absorb": 2, "fields": 1, "pending": 5}
    news = data["lists"][0]
    assert news["absorb"]["by_status"] == {"unsubscribed": 1, "bounced": 0, "complaint": 1}
    assert news["absorb"]["sample"][0] == {
        "email": "c***@example.com",
        "status": "unsubscribed",
        "reason": "unsubscribe",
        "declared_at": "m.csv:6",
        "origin": None,  # no provenance given: made without the state's record
    }
    assert news["fields"]["sample"][0]["fields"] == [
        {"name": "first_name", "vendor": "***", "desired": "***"}
    ]
    assert news["pending"]["by_action"] == {"add": 5}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "summary": {"changes": -1}}, SCHEMA)


# -- the last apply's failed rows -------------------------------------------------------------
HOSTILE_REASON = "zed@example.com is <b>unknown</b> | [x](https://e.vil) @team"


def failed_drift() -> Drift:
    rows = FailedRows(
        ".reconciler/failures/x.jsonl", 3, (FailedRow(2, "zed@example.com", HOSTILE_REASON),)
    )
    failed = {"news": [JobFailures("news", "ongage", "add", 1, 10, NOW, rows)]}
    plan = Plan((news_plan(), list_plan("quiet", "listmonk")), NOW, "c" * 64)
    return compute_drift(plan, None, sample=2, failed=failed)


def test_failed_rows_are_in_every_report_masked_and_inert() -> None:
    drift = failed_drift()
    assert not drift.lists[1].failed  # a list without failures has none
    text = render_text(drift)
    assert "  failed in the last apply: 3 rows in 1 job(s): .reconciler/failures/x.jsonl\n" in text
    assert "zed" not in text
    for redact in (True, False):
        jsonschema.validate(drift_to_dict(drift, redact=redact), SCHEMA)
    news, quiet = drift_to_dict(drift)["lists"]
    assert news["failed"] == {
        "rows": 3,
        "jobs": [
            {
                "action": "add",
                "batch": 1,
                "rows": 10,
                "failed": 3,
                "finished_at": NOW.isoformat(),
                "file": ".reconciler/failures/x.jsonl",
                "found": True,
                # the address is masked in the vendor's reason too
                "sample": [
                    {
                        "row": 2,
                        "email": "z***@example.com",
                        "reason": HOSTILE_REASON.replace("zed", "z***"),
                    }
                ],
            }
        ],
    }
    assert quiet["failed"] == {"rows": 0, "jobs": []}
    unmasked = drift_to_dict(drift, redact=False)["lists"][0]["failed"]["jobs"][0]["sample"]
    assert unmasked == [{"row": 2, "email": "zed@example.com", "reason": HOSTILE_REASON}]

    markdown = render_markdown(drift)
    assert "zed" not in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| add batch 1 |"))
    assert row == (
        "| add batch 1 | 2 | z\\*\\*\\*@example.com | z\\*\\*\\*@example.com is &lt;b&gt;unknown"
        "&lt;/b&gt; \\| \\[x\\](https:&#8203;//e.vil) @&#8203;team |"
    )
    assert "- add batch 1: 3 of 10 rows failed, all in `.reconciler/failures/x.jsonl`\n" in markdown
    html = render_html(drift)
    assert "zed" not in html and "<b>" not in html
    assert (
        "<td>z***@example.com is &lt;b&gt;unknown&lt;/b&gt; | [x](https://e.vil) @team</td>" in html
    )
