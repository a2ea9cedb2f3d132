"""Rows a vendor refused are named by address, end to end through the command line against the
sandbox's Yesmail (which refuses a member it does not know: ``Member does not exist.``): in
apply's summary, in ``state jobs``, in every drift report, and as a note of the next plan."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.state.model import JobEntry, State
from tests.integration.project import Project
from tests.providers.test_yesmail_fidelity import CONFIG as YESMAIL_CONFIG
from tests.providers.test_yesmail_fidelity import SEED

# The Yesmail fidelity suite's repository: a list keyed by email, with an export kept by hand.
CONFIG = YESMAIL_CONFIG.replace("FIELDS", "firstname")
UNKNOWN = [f"nobody{i}@example.com" for i in range(6)]  # no Yesmail subscriber
REASON = "Member does not exist."
NOTE = (
    "Note: rows the vendor refused in the last apply; they fail again until fixed in the "
    "sources or at the vendor:"
)

#: apply's closing line with --no-verify.
NOT_VERIFIED = "Not verified (--no-verify): `reconciler plan` compares the vendors again."


def project(tmp_path: Path, unknown: list[str]) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    rows = ["ann@example.com,Ann", "bo@example.com,Bo", *(f"{a},N" for a in unknown)]
    p.write("members.csv", "email,firstname\n" + "\n".join(rows) + "\n")
    p.write("current.csv", "email,firstname\nbo@example.com,Robert\n")
    return p


def add_job(p: Project, run: int = 0) -> JobEntry:
    """The add batch's ledger entry of the ``run``-th apply (0: the first)."""
    state = State.model_validate_json((p.root / ".reconciler" / "state.json").read_text())
    adds = [job for job in state.jobs if job.action == "add"]
    return adds[run]


def six_failed(path: str) -> str:
    named = "; ".join(f"{a} — {REASON}" for a in UNKNOWN[:5])
    return (
        f"list 'vip' (yesmail), add batch 1: 6 of 7 rows failed; first 5: {named}; all 6 in {path}"
    )


def test_failed_rows_are_named_by_address_in_apply_state_jobs_drift_and_the_next_plan(
    tmp_path: Path,
) -> None:
    p = project(tmp_path, UNKNOWN)
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert applied.code == 5, applied.out + applied.err
    job = add_job(p)
    path = f".reconciler/failures/{job.id}.jsonl"
    assert job.failures_file == path  # relative to the directory apply ran in
    # The batch's rows are sorted: ann (row 1, a subscriber) then the six unknown ones.
    assert [json.loads(line) for line in (p.root / path).read_text().splitlines()] == [
        {"row": n + 2, "email": a, "status": 404, "error": REASON} for n, a in enumerate(UNKNOWN)
    ]
    summary = applied.out.split("\nApply finished:\n", 1)[1].splitlines()
    assert summary[2:] == ["Failed rows:", f"  {six_failed(path)}", NOT_VERIFIED]
    # The state itself still holds no address: only the pointer to the file.
    assert "nobody" not in (p.root / ".reconciler" / "state.json").read_text()

    jobs = p.run("state", "jobs", "-c", "reconciler.yaml")
    assert jobs.code == 0, jobs.err
    lines = jobs.out.splitlines()
    assert [line.split("\t")[:5] for line in lines[1:3]] == [
        ["vip", "add", "1", "7", "failed"],
        ["vip", "update", "1", "1", "succeeded"],
    ]
    assert lines[3:] == ["", "Failed rows:", f"  {six_failed(path)}"]

    plan = p.run("plan", "-c", "reconciler.yaml")
    assert plan.code == 0, plan.err
    assert plan.out.splitlines()[-4:] == [
        "Plan: 7 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 0 held.",
        "",
        NOTE,
        f"  {six_failed(path)}",
    ]

    drift = p.run(
        "drift", "-c", "reconciler.yaml", "--report", "r.json", "--report", "r.md",
        "--report", "r.html", "--sample", "3",
    )  # fmt: skip
    assert drift.code == 2, drift.err
    # The terminal has counts and files only, never an address.
    assert f"  failed in the last apply: 6 rows in 1 job(s): {path}\n" in drift.out
    assert "nobody" not in drift.out
    (report,) = json.loads((p.root / "r.json").read_text())["lists"]
    assert report["failed"] == {
        "rows": 6,
        "jobs": [
            {
                "action": "add",
                "batch": 1,
                "rows": 7,
                "failed": 6,
                "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                "file": path,
                "found": True,
                "sample": [
                    {"row": n, "email": "n***@example.com", "reason": REASON} for n in (2, 3, 4)
                ],
            }
        ],
    }
    markdown = (p.root / "r.md").read_text()
    assert (
        "| job | row | address | the vendor's reason |\n"
        "| --- | ---: | --- | --- |\n"
        "| add batch 1 | 2 | n\\*\\*\\*@example.com | Member does not exist. |\n"
        "| add batch 1 | 3 | n\\*\\*\\*@example.com | Member does not exist. |\n"
        "| add batch 1 | 4 | n\\*\\*\\*@example.com | Member does not exist. |\n"
        "\n"
        f"- add batch 1: 6 of 7 rows failed, all in `{path}`\n"
    ) in markdown
    html = (p.root / "r.html").read_text()
    assert (
        '<tr><td>add batch 1</td><td class="num">2</td><td>n***@example.com</td>'
        "<td>Member does not exist.</td></tr>"
    ) in html
    assert f"6 of 7 rows failed, all in <code>{path}</code>" in html
    assert "nobody" not in markdown + html

    full = p.run("drift", "-c", "reconciler.yaml", "--report", "full.json", "--no-redact")
    assert full.code == 2, full.err
    (shown,) = json.loads((p.root / "full.json").read_text())["lists"]
    assert [row["email"] for row in shown["failed"]["jobs"][0]["sample"]] == UNKNOWN


def test_the_plan_names_the_last_apply_only_and_not_for_a_list_it_leaves_alone(
    tmp_path: Path,
) -> None:
    p = project(tmp_path, UNKNOWN)
    first = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert first.code == 5, first.out + first.err
    # The unknown members are dropped but one: the next apply fails one row, the note of the
    # plan after it names that one, from the second apply's file, every failed row shown.
    p.write("members.csv", "email,firstname\nann@example.com,Ann\nbo@example.com,Bo\nzed@x.org,Z\n")
    second = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert second.code == 5, second.out + second.err
    path = f".reconciler/failures/{add_job(p, 1).id}.jsonl"
    line = (
        f"  list 'vip' (yesmail), add batch 1: 1 of 2 rows failed: zed@x.org — {REASON}; "
        f"listed in {path}"
    )
    assert second.out.splitlines()[-3:] == ["Failed rows:", line, NOT_VERIFIED]
    plan = p.run("plan", "-c", "reconciler.yaml")
    assert plan.out.splitlines()[-2:] == [NOTE, line]

    # Fixed in the sources, and the export brought up to date: nothing to send, no note.
    p.write("members.csv", "email,firstname\nann@example.com,Ann\nbo@example.com,Bo\n")
    p.write("current.csv", "email,firstname\nann@example.com,Ann\nbo@example.com,Bo\n")
    settled = p.run("plan", "-c", "reconciler.yaml")
    assert settled.code == 0, settled.err
    assert "Note:" not in settled.out and "failed" not in settled.out
    drift = p.run("drift", "-c", "reconciler.yaml", "--report", "r.json")
    assert drift.code == 0, drift.out + drift.err
    assert json.loads((p.root / "r.json").read_text())["lists"][0]["failed"] == {
        "rows": 0,
        "jobs": [],
    }
