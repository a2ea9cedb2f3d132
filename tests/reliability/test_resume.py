"""What a rerun after a kill settles before it sends anything (``Applier.resume`` and
``Applier.apply`` in ``reconciler/apply/engine.py``), through the real command line against
the embedded sandbox:

- batches a killed run completed are not sent again, even for the vendors whose list cannot be
  read back (Yesmail, Omnigage): their rows are in the list's applied membership, journaled
  when the job succeeded, so the fresh plan holds only the rest;
- a ledger entry a crash left ``unknown`` (the vendor's answer to the submission was ambiguous)
  is looked up at the vendor, then adopted or, once the settle window has passed, marked
  ``unsent``: never sent blindly again;
- the batch file of a job still in flight stays on disk until that job is final, because
  resuming it still reads it (Yesmail names its failed rows by index into the file).

Runs are held still by an injected hang or hold, or ended by a crash point
(``reconciler/faultpoints.py``), never raced.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.state.model import JobEntry
from tests.reliability.harness import (
    FaultProject,
    assert_state_settled,
    finished,
    kill,
    status_reads_after_accepting,
    wait_for,
)
from tests.reliability.scenarios import (
    FAST,
    LISTMONK,
    LISTMONK_SUBMISSIONS,
    OMNIGAGE,
    ONGAGE,
    ONGAGE_SUBMISSIONS,
    YESMAIL,
    Scenario,
)

pytestmark = pytest.mark.slow

#: One row per batch: the scenarios' two adds become two batches of one add each.
ONE_ROW_BATCHES = {"batch_size": 1}
APPLY = ("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")


def start_apply(p: FaultProject) -> subprocess.Popen[str]:
    return p.start(*APPLY)


def rerun(p: FaultProject) -> str:
    """The apply after the kill, without crash points or a killed run's lock."""
    p.extra_env.clear()
    if p.state_file.with_name("state.json.lock").exists():
        p.unlock_after_kill()
    run = finished(p.run(*APPLY))
    return run.out + run.err


def no_batch_files_left(p: FaultProject) -> None:
    assert [f for f in (p.root / ".reconciler" / "batches").rglob("*") if f.is_file()] == []


# -- batches already applied by a killed run ---------------------------------------------------
def _staged_name(url: str) -> str:
    # The staged file's name is unguessable and unique; the host's port changes every run.
    return url.rstrip("/").rsplit("/", 1)[-1]


def submitted_batch_keys(p: FaultProject, sc: Scenario) -> list[str]:
    """The ledger's batch key of every submission the vendor accepted, in the order sent: a
    batch sent twice appears twice (each send has its own ledger entry and staged file or
    upload, which the vendor's request names)."""
    jobs = p.state().jobs
    keys = []
    for r in p.requests():
        if r["method"] != "POST" or r["status"] not in (200, 201, 202):
            continue
        if sc.vendor == "yesmail" and r["path"].endswith("/members/file-import"):
            name = _staged_name(json.loads(r["body"])["source"]["uri"])
            (key,) = [j.batch_key for j in jobs if j.url and _staged_name(j.url) == name]
        elif sc.vendor == "omnigage" and r["path"] == "/omnigage/api/v1/import-contacts":
            body = json.loads(r["body"])
            upload = body["data"]["relationships"]["upload"]["data"]["id"]
            (key,) = [j.batch_key for j in jobs if j.job_detail.get("upload") == upload]
        else:
            continue
        keys.append(key)
    return keys


def assert_each_batch_sent_once(p: FaultProject, sc: Scenario, out: str) -> None:
    """The killed run's batch 1 reached the vendor once and is in the list's applied
    membership (journaled when its job succeeded): the rerun's fresh plan holds only the
    other row, sent once as its own batch."""
    state = p.state()
    assert sc.contacts(p) == sc.expected
    batches = [j.batch_key for j in state.jobs]
    assert [key.split("/")[:3] for key in batches] == [["news", "add", "0001"]] * 2
    assert len(set(batches)) == 2  # two different batches: the second holds the other row
    sent = submitted_batch_keys(p, sc)
    assert Counter(sent) == {batches[0]: 1, batches[1]: 1}
    assert [(j.index, j.status) for j in state.jobs] == [(1, "succeeded"), (1, "succeeded")]
    assert "\nPlan: 1 to add, 0 to remove, " in out
    assert_state_settled(state)
    no_batch_files_left(p)


def test_yesmail_a_batch_applied_before_the_kill_is_not_sent_again(tmp_path: Path) -> None:
    p = YESMAIL.project(tmp_path, options=ONE_ROW_BATCHES)
    # Batch 1's staged file is retired once its job is final, before batch 2 is written: held
    # there, the run has applied batch 1 and sent nothing else.
    p.inject(path="/_sandbox/files/", method="DELETE", kind="hang", seconds=120)
    proc = start_apply(p)
    wait_for("batch 1's staged file being retired", lambda: p.faults_pending() == 0, proc)
    assert [(j["index"], j["status"]) for j in p.raw_state()["jobs"]] == [(1, "succeeded")]
    assert YESMAIL.submissions(p) == ["file-import"]
    kill(proc)
    # Yesmail cannot be read back: the fresh plan holds both batches, byte for byte, again.
    out = rerun(p)
    assert_each_batch_sent_once(p, YESMAIL, out)


def test_a_run_that_does_not_settle_leaves_the_killed_runs_batches_protected(
    tmp_path: Path,
) -> None:
    """An apply blocked by a guard plans but sends nothing: it must not close the killed run,
    or the killed run's applied batch would leave done_keys and be sent again (4 imports for
    2 batches, before)."""
    p = YESMAIL.project(tmp_path, options=ONE_ROW_BATCHES)
    p.inject(path="/_sandbox/files/", method="DELETE", kind="hang", seconds=120)
    proc = start_apply(p)
    wait_for("batch 1's staged file being retired", lambda: p.faults_pending() == 0, proc)
    kill(proc)
    p.extra_env.clear()
    p.unlock_after_kill()
    config = p.root / "reconciler.yaml"
    unguarded = config.read_text()
    config.write_text(unguarded.replace("max_add_percent: null", "max_add_count: 0"))
    blocked = p.run(*APPLY)
    assert blocked.code == 3, blocked.out + blocked.err
    assert YESMAIL.submissions(p) == ["file-import"]  # nothing sent by the blocked run
    config.write_text(unguarded)
    out = rerun(p)
    assert_each_batch_sent_once(p, YESMAIL, out)
    # The apply that sent the rest settled the killed run; the blocked one did not.
    runs = [(r.operation, r.outcome) for r in p.state().runs]
    assert runs[1:] == [
        ("apply", "blocked by safety guards"),
        ("apply", "succeeded"),
    ]
    assert runs[0][1].startswith("interrupted; resumed by ")


#: The state write that records batch 1 of Omnigage's two as final: the run's start, then
#: batch 1's `submitting`, `submitted`, progress (`processing`) and `finished`.
OMNIGAGE_BATCH_1_FINISHED = 5


def test_omnigage_a_batch_applied_before_the_crash_is_not_sent_again(tmp_path: Path) -> None:
    crash = f"state-write-renamed:{OMNIGAGE_BATCH_1_FINISHED}"
    p = OMNIGAGE.project(tmp_path, options=ONE_ROW_BATCHES, env={"RECONCILER_CRASH_AT": crash})
    assert p.run(*APPLY).code == 137
    assert [(j.index, j.status) for j in p.state().jobs] == [(1, "succeeded")]
    assert OMNIGAGE.submissions(p) == ["import-contacts"]
    out = rerun(p)
    assert_each_batch_sent_once(p, OMNIGAGE, out)


# -- entries a crash left `unknown` ------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """How a vendor's batch is sent and looked up, for a crash between the two."""

    path: str  # the request that sends the interrupted batch (under the vendor's base URL)
    action: str  # the interrupted batch's
    #: The state write that records its ambiguous answer as `unknown`: the run's start, then
    #: `submitting`, `submitted`, progress and `finished` of each batch before it (none: the
    #: complaint is the first batch, an import at both vendors), then its own `submitting`.
    unknown_write: int
    lookup: str  # the request that finds it at the vendor
    submissions: list[str]  # what the vendor's list is sent in all, once each


UNKNOWN = {
    "ongage": Submission(
        "/1001/api/import", "complaint", 3, "/1001/api/import", ONGAGE_SUBMISSIONS
    ),
    "listmonk": Submission(
        "/api/import/subscribers", "complaint", 3, "/api/import/subscribers", LISTMONK_SUBMISSIONS
    ),
}
#: What the ledger says was asked to prove the batch absent.
LOOKED_UP = {
    "ongage": "ongage's import listing of list 1001 (GET /1001/api/import)",
    "listmonk": "listmonk's import status (GET /api/import/subscribers), which names the latest "
    "import",
}
#: The job ID the adopted job carries (listmonk's is its import's file name).
ADOPTED_ID = {"ongage": "1", "listmonk": "import:news-complaint-0001-"}
VENDORS = pytest.mark.parametrize("sc", [ONGAGE, LISTMONK], ids=["ongage", "listmonk"])


def crash_with_an_unknown_entry(
    tmp_path: Path, sc: Scenario, status: int, *, after: bool
) -> tuple[FaultProject, dict[str, Any], int]:
    """A run whose submission was answered ``status`` (after the vendor acted, or not), killed
    right after the ledger recorded the entry as ``unknown``, before it was looked up. Returns
    the project, the entry and where the rerun's requests start in the request log."""
    sub = UNKNOWN[sc.vendor]
    path = sub.path
    crash = f"state-write-renamed:{sub.unknown_write}"
    p = sc.project(tmp_path, env={"RECONCILER_CRASH_AT": crash})
    p.inject(path=f"/{sc.vendor}{path}", method="POST", kind="status", status=status, after=after)
    assert p.run(*APPLY).code == 137
    (entry,) = [j for j in p.raw_state()["jobs"] if j["action"] == sub.action]
    assert (entry["status"], entry["vendor_job_id"]) == ("unknown", None)
    assert entry["message"] == (
        f"{sc.vendor} POST {path}: answered {status} after sending: injected {status}"
    )
    accepted = [
        r["status"]
        for r in p.requests()
        if (r["method"], r["path"]) == ("POST", f"/{sc.vendor}{path}")
    ]
    assert accepted == [200 if after else status]  # what the vendor did with it
    return p, entry, len(p.requests())


def looked_up_before_sending(p: FaultProject, sc: Scenario, since: int) -> None:
    """The rerun asked the vendor about the entry before it sent anything on the endpoint
    the entry was sent on."""
    lookup = f"/{sc.vendor}{UNKNOWN[sc.vendor].lookup}"
    submit = f"/{sc.vendor}{UNKNOWN[sc.vendor].path}"
    requests = [(r["method"], r["path"]) for r in p.requests()[since:]]
    assert ("GET", lookup) in requests
    first_send = requests.index(("POST", submit)) if ("POST", submit) in requests else len(requests)
    assert requests.index(("GET", lookup)) < first_send


def entry_after(p: FaultProject, entry_id: str) -> JobEntry:
    (found,) = [j for j in p.state().jobs if j.id == entry_id]
    return found


@VENDORS
def test_an_unknown_entry_the_vendor_accepted_is_adopted_not_sent_again(
    tmp_path: Path, sc: Scenario
) -> None:
    p, entry, since = crash_with_an_unknown_entry(tmp_path, sc, 502, after=True)
    rerun(p)
    looked_up_before_sending(p, sc, since)
    adopted = entry_after(p, entry["id"])
    assert adopted.status == "succeeded"
    assert adopted.vendor_job_id is not None
    assert adopted.vendor_job_id.startswith(ADOPTED_ID[sc.vendor])
    assert [j.status for j in p.state().jobs] == ["succeeded"] * 4  # nothing sent twice
    assert sc.contacts(p) == sc.expected
    # Each batch reached the vendor once.
    assert sc.submissions(p) == UNKNOWN[sc.vendor].submissions
    assert_state_settled(p.state())
    no_batch_files_left(p)


@VENDORS
def test_an_unknown_entry_the_vendor_never_received_is_unsent_then_sent_once(
    tmp_path: Path, sc: Scenario
) -> None:
    p, entry, since = crash_with_an_unknown_entry(tmp_path, sc, 500, after=False)
    rerun(p)
    looked_up_before_sending(p, sc, since)
    settled = entry_after(p, entry["id"])
    assert (settled.status, settled.vendor_job_id) == ("unsent", None)
    # What is known, and how: the ambiguous answer, then the vendor's records asked until the
    # settle window (the scenarios' 0.5 s) had passed.
    assert settled.message.startswith(f"{entry['message']}; not in {LOOKED_UP[sc.vendor]}, asked ")
    assert settled.message.endswith(
        "time(s) until 0.5 s had passed: never received, planned and sent again if still needed"
    )
    # The fresh plan sent that batch once more, under a new entry: once in all.
    resent = [j for j in p.state().jobs if j.action == entry["action"] and j.id != entry["id"]]
    assert [(j.batch_key, j.status) for j in resent] == [(entry["batch_key"], "succeeded")]
    assert sc.contacts(p) == sc.expected
    assert sc.submissions(p) == UNKNOWN[sc.vendor].submissions
    assert_state_settled(p.state())
    no_batch_files_left(p)


# -- the batch file of a job still in flight ---------------------------------------------------
YESMAIL_TWO_LISTS_SEED = """\
yesmail:
  subscribers: [ann@example.com, bob@example.com]
  lists:
    weekly: {columns: [firstname, lastname]}
    monthly: {columns: [firstname, lastname]}
"""
#: cat is no Yesmail subscriber: the import fails that row (404) and names it by its index in
#: the batch file; error_threshold 1 lets the other rows through.
NEWS = """\
  news:
    provider: p
    list_id: weekly
    mode: additive
    managed_fields: [firstname]
    members: [{csv: news.csv}]
    options: {error_threshold: 1}
"""
DIGEST = """\
  digest:
    provider: p
    list_id: monthly
    mode: additive
    managed_fields: [firstname]
    members: [{csv: digest.csv}]
"""
NEWS_ROWS = "email,firstname\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n"


def yesmail_config(*lists: str) -> str:
    return (
        "providers:\n"
        f"  p: {{type: yesmail, base_url: sandbox, options: {json.dumps(FAST)}}}\n"
        "sandbox: {seed: seed.yaml, polls_per_step: 1}\n"
        "guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}\n"
        "lists:\n" + "".join(lists)
    )


def test_the_file_of_a_job_left_in_flight_stays_until_its_job_is_final(tmp_path: Path) -> None:
    p = FaultProject(tmp_path)
    p.write("seed.yaml", YESMAIL_TWO_LISTS_SEED)
    p.write("news.csv", NEWS_ROWS)
    p.write("digest.csv", "email,firstname\nbob@example.com,Bob\n")
    # 1. Killed while news's import is polled: the hold keeps its ticket where it is, so the
    # run waits on it (and digest is never sent: one batch at a time) until it is killed.
    p.write("reconciler.yaml", yesmail_config(NEWS, DIGEST))
    p.inject(path="/yesmail/v2/tickets/", method="GET", kind="hold")
    proc = start_apply(p)

    def news_polled_while_held() -> bool:
        submit = r"/yesmail/v2/target-lists/weekly/members/file-import"
        return status_reads_after_accepting(p, submit, r"/yesmail/v2/tickets/\d+") >= 2

    wait_for("news's import polled while held", news_polled_while_held, proc)
    kill(proc)
    (entry,) = p.raw_state()["jobs"]
    batch_file = p.root / entry["file"]  # relative to the configuration's directory
    assert (entry["list"], entry["status"]) == ("news", "submitted")  # its ID recorded
    assert batch_file.read_text() == NEWS_ROWS

    # 2. An apply of a configuration without news: its job is left in flight, as is, while
    # digest is applied (which clears the batch files nobody needs). Released first: digest's
    # ticket must advance, and news's stays in flight because nothing polls it, not the hold.
    p.release()
    p.write("reconciler.yaml", yesmail_config(DIGEST))
    out = rerun(p)
    assert (
        f"ledger entry {entry['id']} names provider 'p' / list 'news', which the configuration "
        "no longer has: left as is\n"
    ) in out
    assert p.contacts("yesmail", "monthly") == {"bob@example.com": ("active", {"firstname": "Bob"})}
    assert entry_after(p, entry["id"]).status == "submitted"
    assert batch_file.read_text() == NEWS_ROWS  # still needed: its job is not final

    # 3. news is back: refresh follows its job to the end, and the failed row is named by
    # the address at its index in the batch file.
    p.write("reconciler.yaml", yesmail_config(NEWS, DIGEST))
    refreshed = p.run("poll", "-c", "reconciler.yaml")
    assert refreshed.code == 5, refreshed.out + refreshed.err
    settled = entry_after(p, entry["id"])
    assert (settled.status, settled.message) == (
        "failed",
        "1 of 3 rows failed: row 3 (Member does not exist.); their addresses are in the job's"
        " failures file under .reconciler/failures/",
    )
    assert settled.failures_file is not None
    failures = [
        json.loads(line) for line in (p.root / settled.failures_file).read_text().splitlines()
    ]
    assert [(f["row"], f["email"], f["status"]) for f in failures] == [(3, "cat@example.com", 404)]
    assert not batch_file.exists()  # final now: removed
    assert p.contacts("yesmail", "weekly") == {
        "ann@example.com": ("active", {"firstname": "Ann"}),
        "bob@example.com": ("active", {"firstname": "Bob"}),
    }
