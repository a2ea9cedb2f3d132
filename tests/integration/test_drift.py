"""`reconciler drift` and `reconciler suppressions pull` against the sandbox, after changes made
directly at the (emulated) vendors, end to end through the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.state.model import JobEntry, State
from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
  lm: {type: listmonk, base_url: sandbox}
sandbox: {seed: seed.yaml}
writeback: {path: suppressions/vendor.csv}
lists:
  news:
    provider: og
    list_id: 1001
    managed_fields: [first_name]
    members: [{csv: members/news.csv}]
  updates:
    provider: lm
    list_id: 1
    members: [{csv: members/updates.csv}]
"""
PROPAGATE = "suppressions_policy: {propagate_vendor_suppressions: true}\n"
NEWS = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\ncarl@example.com,Carl\n"
UPDATES = "email\nann@example.com\ncarl@example.com\n"
# Both vendors hold exactly what the repository declares: no drift to begin with.
SEED = """\
ongage:
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: ann@example.com, fields: {first_name: Ann}}
        - {email: bob@example.com, fields: {first_name: Bob}}
        - {email: carl@example.com, fields: {first_name: Carl}}
listmonk:
  lists:
    "1":
      name: updates
      contacts:
        - {email: ann@example.com}
        - {email: carl@example.com}
"""
DATE = r"\d{4}-\d{2}-\d{2}"


def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("members/news.csv", NEWS)
    p.write("members/updates.csv", UPDATES)
    p.write("seed.yaml", SEED)
    return p


def at_vendor(p: Project, changes: dict[str, Any]) -> None:
    """Change contacts directly at the sandbox, as a person or the vendor itself would."""
    with EmbeddedSandbox(p.root / ".sandbox") as sandbox:
        sandbox.app.seed(changes)


def unsubscribe_at_ongage(p: Project, email: str, status: str = "unsubscribed") -> None:
    contact = {"email": email, "status": status, "fields": {"first_name": "Carl"}}
    at_vendor(p, {"ongage": {"lists": {"1001": {"fields": ["first_name"], "contacts": [contact]}}}})


def test_drift_is_zero_then_an_unsubscribe_at_the_vendor_is_held_and_pulled(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    clean = p.run("drift", "-c", "reconciler.yaml")
    assert clean.code == 0, clean.out + clean.err
    assert clean.out.splitlines()[-1] == "No drift. The vendors match the repository."

    unsubscribe_at_ongage(p, "carl@example.com")
    drifted = p.run(
        "drift", "-c", "reconciler.yaml", "--report", "out/d.json", "--report", "out/d.md"
    )
    assert drifted.code == 2, drifted.out + drifted.err
    assert drifted.out.splitlines()[-1] == (
        "Drift: 0 to apply, 1 to absorb, 0 with field drift, 0 pending."
    )
    report = json.loads((tmp_path / "out/d.json").read_text())
    news = report["lists"][0]
    assert (report["redacted"], news["name"], news["counts"]) == (
        True,
        "news",
        {"changes": 0, "absorb": 1, "fields": 0, "pending": 0},
    )
    assert news["absorb"]["sample"] == [
        {
            "email": "c***@example.com",
            "status": "unsubscribed",
            "reason": "unsubscribe",
            "declared_at": "members/news.csv:4",
            "origin": "unrecorded",  # never applied: the state has no record of the list
        }
    ]
    assert news["origins"] == {"unrecorded": 1}
    assert news["current"]["kind"] == "vendor" and len(news["current"]["sha256"]) == 64
    assert report["vendors"]["ongage"]["absorb"] == 1
    markdown = (tmp_path / "out/d.md").read_text()
    assert "carl@example.com" not in markdown and "c\\*\\*\\*@example.com" in markdown

    pulled = p.run("suppressions", "pull", "-c", "reconciler.yaml")
    assert (pulled.code, pulled.out) == (
        0,
        "suppressions/vendor.csv: 1 added, 0 updated, 1 suppression(s) in total.\n",
    )
    written = (tmp_path / "suppressions/vendor.csv").read_bytes()
    assert re.fullmatch(
        rf"email,reason,vendor,list,seen_at\ncarl@example\.com,unsubscribe,ongage,news,{DATE}\n",
        written.decode(),
    )
    again = p.run("suppressions", "pull", "-c", "reconciler.yaml")
    assert again.out == "suppressions/vendor.csv: 0 added, 0 updated, 1 suppression(s) in total.\n"
    assert (tmp_path / "suppressions/vendor.csv").read_bytes() == written

    # Absorbed: the repository now suppresses carl on that list, which is what the vendor says.
    after = p.run("drift", "-c", "reconciler.yaml", "--report", "out/after.md", "--no-redact")
    assert after.code == 0, after.out + after.err
    plan = p.run("plan", "-c", "reconciler.yaml")
    assert (
        "= carl@example.com  # suppressed: unsubscribe (suppressions/vendor.csv:2); "
        "declared at members/news.csv:4"
    ) in plan.out
    assert "**In sync.**" in (tmp_path / "out/after.md").read_text()


def test_a_suppression_propagates_to_every_list_at_every_vendor_only_by_policy(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    p.run("drift", "-c", "reconciler.yaml")  # creates the sandbox's data from the seed
    unsubscribe_at_ongage(p, "carl@example.com", status="complaint")
    assert p.run("suppressions", "pull", "-c", "reconciler.yaml").code == 0

    scoped = p.run("drift", "-c", "reconciler.yaml")
    assert scoped.code == 0, scoped.out + scoped.err  # listmonk's list is not concerned

    p.write("reconciler.yaml", CONFIG + PROPAGATE)
    propagated = p.run("drift", "-c", "reconciler.yaml", "--report", "d.json")
    assert propagated.code == 2, propagated.out + propagated.err
    updates = json.loads((tmp_path / "d.json").read_text())["lists"][1]
    assert updates["changes"]["by_kind"]["complaint"] == 1
    assert updates["changes"]["sample"] == [
        {
            "kind": "complaint",
            "email": "c***@example.com",
            "reason": "suppressed: complaint (suppressions/vendor.csv:2)",
            "origin": "unrecorded",
        }
    ]
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert {e: s for e, (s, _) in p.vendor_list("listmonk", "1").items()} == {
        "ann@example.com": "active",
        # listmonk takes a complaint as a blocklist import: blocklisted, unsubscribed.
        "carl@example.com": "unsubscribed",
    }
    assert p.run("drift", "-c", "reconciler.yaml").code == 0


def test_jobs_still_pending_are_drift(tmp_path: Path) -> None:
    p = project(tmp_path)
    job = JobEntry(
        batch_key="k",
        run_id="r",
        provider="og",
        list="news",
        vendor_list_id="1001",
        action="add",
        index=1,
        rows=3,
        sha256="0" * 64,
        file="gone.csv",
        status="submitted",
        vendor_job_id="40001",
    )
    p.write(".reconciler/state.json", State(jobs=[job]).model_dump_json())
    result = p.run("drift", "-c", "reconciler.yaml", "--report", "d.md")
    assert result.code == 2, result.out + result.err
    assert "  pending: 3 rows in 1 job(s)" in result.out
    assert "| add | 1 | 3 | submitted | 40001 | - |" in (tmp_path / "d.md").read_text()


def test_errors_exit_1_and_say_why(tmp_path: Path) -> None:
    p = project(tmp_path)
    bad_format = p.run("drift", "-c", "reconciler.yaml", "--report", "d.pdf")
    assert (bad_format.code, bad_format.err) == (
        1,
        "Error: cannot tell the report format of 'd.pdf': name it *.md, *.html or *.json\n",
    )
    unknown = p.run("drift", "-c", "reconciler.yaml", "--target", "nope")
    assert (unknown.code, unknown.err) == (
        1,
        "Error: unknown list 'nope' (defined lists: news, updates)\n",
    )
    usage = p.run("drift", "--sample", "0")
    assert usage.code == 1 and "argument --sample: must be at least 1" in usage.err
    p.write("reconciler.yaml", CONFIG.replace("writeback: {path: suppressions/vendor.csv}\n", ""))
    nowhere = p.run("suppressions", "pull", "-c", "reconciler.yaml")
    assert (nowhere.code, nowhere.err) == (
        1,
        "Error: Nowhere to write the vendors' suppressions:\n"
        "  no 'writeback:' in the configuration: add e.g. 'writeback: {path: "
        "suppressions/vendor.csv}' to say where pulled suppressions go\n",
    )
