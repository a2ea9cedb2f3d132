"""Failed rows: the shared sample (``reconciler.failures``), read back from the ledger's files
(``reconciler.state.failures``) and shown as one inert line (``reconciler.render.failures``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.failures import (
    LINE_BYTES,
    REASON_CHARS,
    FailedRow,
    FailedRows,
    JobFailures,
    failed_row,
    read_failures,
    rows_message,
)
from reconciler.render.failures import failure_line
from reconciler.state.failures import failures_path, last_apply, last_apply_failures
from reconciler.state.model import JobEntry, ListState, State

AT = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
REASON = "Member does not exist."


def failure(n: int, reason: str = "Member does not exist.") -> dict[str, object]:
    return {"row": n + 1, "email": f"m{n}@example.com", "status": 404, "error": reason}


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# -- the sample -------------------------------------------------------------------------------
def test_a_failure_is_read_as_row_address_and_one_line_reason() -> None:
    assert failed_row({"row": 3, "email": "a@example.com", "error": "No\nsuch\tmember "}) == (
        FailedRow(3, "a@example.com", "No such member")
    )
    # No index: no row and no address rather than a wrong one; the status when no reason.
    assert failed_row({"row": 0, "email": None, "status": 404}) == FailedRow(None, None, "404")
    assert failed_row({"row": True, "email": 7}) == FailedRow(None, None, "?")
    long = failed_row({"error": "x" * 1000}).reason
    assert len(long) == REASON_CHARS and long.endswith("…")


def test_the_message_of_a_job_names_rows_not_addresses() -> None:
    failures = [failure(n) for n in range(1, 8)] + [{"row": -1, "error": "Bad"}]
    assert rows_message(failures[:1], 1) == (
        "row 2 (Member does not exist.); their addresses are in the job's failures file under "
        ".reconciler/failures/"
    )
    text = rows_message(failures, 9)
    assert text.startswith("row 2 (Member does not exist.), row 3 (")
    assert "row 6 (Member does not exist.) and 4 more; their addresses" in text
    assert "@" not in text
    assert rows_message([{"error": "Bad"}], 1).startswith("a row without index (Bad);")


# -- reading a failures file ------------------------------------------------------------------
def test_only_the_first_rows_are_parsed_and_every_line_is_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", [json.dumps(failure(n)) for n in range(100_000)])
    read = read_failures(path, "shown/f.jsonl")
    assert read == FailedRows(
        "shown/f.jsonl",
        100_000,
        tuple(FailedRow(n + 1, f"m{n}@example.com", "Member does not exist.") for n in range(5)),
    )
    assert read_failures(path, "f", sample=2).sample == read.sample[:2]


def test_lines_the_ledger_did_not_write_are_counted_not_shown(tmp_path: Path) -> None:
    lines = ["not json", "[1, 2]", "x" * (3 * LINE_BYTES), json.dumps(failure(1)), ""]
    path = write(tmp_path / "f.jsonl", lines)
    read = read_failures(path, "f")
    assert (read.failed, read.sample) == (5, (FailedRow(2, "m1@example.com", REASON),))
    # A last line without its line feed is a row too; an empty file has none.
    path.write_bytes(b"\n".join(json.dumps(failure(n)).encode() for n in range(9)))
    assert read_failures(path, "f").failed == 9
    path.write_bytes(b"")
    assert read_failures(path, "f") == FailedRows("f", 0, ())


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    assert read_failures(tmp_path / "gone.jsonl", "gone") == FailedRows("gone", 0, (), found=False)


# -- one line ---------------------------------------------------------------------------------
TWO = FailedRow(4, None, "X")


def job(failures: FailedRows, *, name: str = "vip", rows: int = 100) -> JobFailures:
    return JobFailures(name, "yesmail", "add", 1, rows, AT, failures)


@pytest.mark.parametrize(
    ("failures", "line"),
    [
        (
            FailedRows("f.jsonl", 7, (FailedRow(2, "a@example.com", REASON), TWO)),
            "list 'vip' (yesmail), add batch 1: 7 of 100 rows failed; first 2: a@example.com — "
            "Member does not exist.; row 4 — X; all 7 in f.jsonl",
        ),
        (
            FailedRows("f.jsonl", 1, (FailedRow(None, None, "X"),)),
            "list 'vip' (yesmail), add batch 1: 1 of 100 rows failed: a row without index — X; "
            "listed in f.jsonl",
        ),
        (
            FailedRows("f.jsonl", 3, ()),
            "list 'vip' (yesmail), add batch 1: 3 of 100 rows failed; all 3 in f.jsonl",
        ),
        (
            FailedRows("f.jsonl", 0, ()),
            "list 'vip' (yesmail), add batch 1: f.jsonl lists no failed row",
        ),
        (
            FailedRows("f.jsonl", 0, (), found=False),
            "list 'vip' (yesmail), add batch 1: its failed rows were written to f.jsonl, not found "
            "here",
        ),
    ],
)  # fmt: skip
def test_a_jobs_failed_rows_in_one_line(failures: FailedRows, line: str) -> None:
    assert failure_line(job(failures)) == line


def test_the_line_shows_the_vendors_text_inert() -> None:
    hostile = FailedRows(
        "f\x1b[2J.jsonl", 1, (FailedRow(2, "a@example.com\n  forged line", "\x1b]0;title\x07"),)
    )
    line = failure_line(job(hostile, name="v\u202eip"))
    assert line == (
        "list 'v\\u202eip' (yesmail), add batch 1: 1 of 100 rows failed: "
        "a@example.com\\n  forged line — \\x1b]0;title\\x07; listed in f\\x1b[2J.jsonl"
    )


# -- the ledger's files -----------------------------------------------------------------------
def entry(list_name: str, run: str, status: str = "failed", **fields: object) -> JobEntry:
    base = JobEntry(
        batch_key=f"{list_name}/add/0001/ab",
        run_id=run,
        provider="ym",
        list=list_name,
        vendor_list_id="vip",
        action="add",
        index=1,
        rows=2,
        sha256="ab" * 32,
        file="b.csv",
        status=status,  # type: ignore[arg-type]
        finished_at=AT,
    )
    return base.model_copy(update=fields)


def test_only_a_file_the_ledger_would_write_is_read(tmp_path: Path) -> None:
    job = entry("vip", "r1")
    assert failures_path(job, tmp_path) is None  # none recorded
    for foreign in ("/etc/passwd", f"{tmp_path}/failures/other.jsonl", f"/x/{job.id}.jsonl"):
        assert failures_path(job.model_copy(update={"failures_file": foreign}), tmp_path) is None
    # Recorded relative to where apply ran: looked for beside the configuration otherwise.
    relative = job.model_copy(update={"failures_file": f".reconciler/failures/{job.id}.jsonl"})
    assert failures_path(relative, tmp_path) == (
        tmp_path / ".reconciler" / "failures" / f"{job.id}.jsonl"
    )


def test_the_last_apply_of_a_list_is_its_last_run_with_jobs_that_ended(tmp_path: Path) -> None:
    old = entry("vip", "r1")
    new_ok = entry("vip", "r2", "succeeded")
    new_failed = entry("vip", "r2")
    other = entry("news", "r3")
    flying = entry("vip", "r4", "submitted")
    state = State(
        lists={"vip": ListState(provider="ym", vendor="yesmail", vendor_list_id="vip")},
        jobs=[old, new_ok, new_failed, other, flying],
    )
    assert last_apply(state, "vip") == [new_ok, new_failed]
    assert last_apply(state, "none") == []

    failures_dir = tmp_path / ".reconciler" / "failures"
    for item in (old, new_failed, other):
        path = write(failures_dir / f"{item.id}.jsonl", [json.dumps(failure(1))])
        item.failures_file = str(path)
    found = last_apply_failures(state, tmp_path, ["vip", "news", "none"])

    def rows(item: JobEntry) -> FailedRows:
        return FailedRows(str(item.failures_file), 1, (FailedRow(2, "m1@example.com", REASON),))

    assert found == {
        "vip": [JobFailures("vip", "yesmail", "add", 1, 2, AT, rows(new_failed))],
        # a list the state has no entry for is named by its provider
        "news": [JobFailures("news", "ym", "add", 1, 2, AT, rows(other))],
    }
