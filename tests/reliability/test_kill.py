"""SIGKILL at each step of a batch's life, then apply again: the vendor ends exactly as declared,
no batch reached the vendor twice (read off the sandbox's request log) and the state file is
valid, settled and holds every job ID.

The steps (``reconciler/apply/engine.py``): the batch file is written and staged; the ledger
records ``submitting``; the request is sent and the vendor acts; the job ID is recorded; the job
is polled. Each kill is observed from outside (a file appears, the sandbox logs a request, the
state shows a status) while an injected fault holds the run still (a hang that outlasts the
test, or a hold that keeps a job pending until the test releases it), or, inside a state write,
comes from the crash points of ``reconciler/faultpoints.py``.

Ongage (import IDs, an import listing to find a lost job by) and listmonk (no job ID, one import
at a time, found again by its file name) are covered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox.core import Sandbox
from reconciler.sandbox.server import EmbeddedSandbox
from tests.reliability.harness import (
    FaultProject,
    assert_state_settled,
    finished,
    kill,
    wait_for,
)
from tests.reliability.scenarios import (
    LISTMONK,
    LISTMONK_SUBMISSIONS,
    ONGAGE,
    ONGAGE_SUBMISSIONS,
    YESMAIL,
    Scenario,
)

pytestmark = pytest.mark.slow

SUBMISSIONS = {"ongage": ONGAGE_SUBMISSIONS, "listmonk": LISTMONK_SUBMISSIONS}
ACTIONS = ["add", "complaint", "remove", "update"]
#: The request that sends the batch a test interrupts: each vendor's first import (the
#: complaint: listmonk's is a blocklist import).
SUBMIT = {
    "ongage": {"path": "/ongage/1001/api/import", "method": "POST"},
    "listmonk": {"path": "/listmonk/api/import/subscribers", "method": "POST"},
}
SUBMIT_ACTION = {"ongage": "complaint", "listmonk": "complaint"}
BOTH = pytest.mark.parametrize("sc", [ONGAGE, LISTMONK], ids=["ongage", "listmonk"])


def apply(p: FaultProject):  # type: ignore[no-untyped-def]
    return p.start("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")


def ledger_has(p: FaultProject, action: str, status: str) -> bool:
    jobs = p.raw_state().get("jobs", [])
    return any(j["action"] == action and j["status"] == status for j in jobs)


def rerun_converges(sc: Scenario, p: FaultProject) -> None:
    """The run after the crash: it settles what is in flight, plans afresh and sends the rest."""
    p.extra_env.clear()
    p.write("reconciler.yaml", sc.config(polls=1))
    if p.state_file.with_name("state.json.lock").exists():
        p.unlock_after_kill()
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"))
    assert sc.contacts(p) == sc.expected
    assert sc.submissions(p) == SUBMISSIONS[sc.vendor]  # each batch reached the vendor once
    state = p.state()  # valid: parsed exactly as reconciler reads it
    assert_state_settled(state)
    assert sorted(j.action for j in state.jobs if j.status == "succeeded") == ACTIONS
    # Nothing holding addresses is left behind: no batch file (the killed run's included),
    # no scratch copy of a vendor's list (the killed run's included).
    leftovers = [".reconciler/batches", ".reconciler/work"]
    assert [f for d in leftovers for f in (p.root / d).rglob("*") if f.is_file()] == []
    if sc.vendor == "ongage":
        # Every import the vendor ran is in the ledger under its ID: none was lost.
        with p.store() as sandbox:
            ran = {str(r["id"]) for r in sandbox.db.query("SELECT id FROM ongage_imports")}
        succeeded = {j.vendor_job_id for j in state.jobs if j.status == "succeeded"}
        assert succeeded == ran


def _batch_file(p: FaultProject, action: str) -> str | None:
    """The text of the batch file of ``action``, if it is on disk."""
    found = list((p.root / ".reconciler" / "batches").glob(f"*/news/news-{action}-0001.csv"))
    return found[0].read_text() if found else None


def test_killed_after_writing_a_batch_file_ongage(tmp_path: Path) -> None:
    p = ONGAGE.project(tmp_path)
    # Staging is the step after the batch file: hold it still, then kill.
    p.inject(path="/_sandbox/files/", method="PUT", kind="hang", seconds=120)
    proc = apply(p)
    wait_for("staging to hang", lambda: p.faults_pending() == 0, proc)
    assert _batch_file(p, "complaint") == "email\nivy@example.com\n"
    kill(proc)
    assert p.raw_state()["jobs"] == []  # the ledger never saw the batch
    rerun_converges(ONGAGE, p)


def test_killed_after_writing_a_batch_file_listmonk(tmp_path: Path) -> None:
    # listmonk uploads the file in the request (no staging): the next step after the batch
    # file is the ledger's `submitting` write (the run's second), where the run dies.
    p = LISTMONK.project(tmp_path, env={"RECONCILER_CRASH_AT": "state-write-temp:2"})
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 137
    assert _batch_file(p, "complaint") == "email\nivy@example.com\n"
    assert p.raw_state()["jobs"] == []
    rerun_converges(LISTMONK, p)
    assert _batch_file(p, "complaint") is None  # removed once its job was final


@BOTH
def test_killed_after_recording_submitting_before_the_vendor_acts(
    tmp_path: Path, sc: Scenario
) -> None:
    p = sc.project(tmp_path)
    p.inject(**SUBMIT[sc.vendor], kind="hang", seconds=120)
    proc = apply(p)
    action = SUBMIT_ACTION[sc.vendor]
    wait_for("the request to hang", lambda: p.faults_pending() == 0, proc)
    assert ledger_has(p, action, "submitting")
    kill(proc)
    rerun_converges(sc, p)
    # The rerun asked the vendor, found nothing, and marked the entry unsent before resending.
    assert [j.action for j in p.state().jobs if j.status == "unsent"] == [action]


@BOTH
def test_killed_after_the_vendor_accepted_before_the_job_id_was_recorded(
    tmp_path: Path, sc: Scenario
) -> None:
    p = sc.project(tmp_path)
    p.inject(**SUBMIT[sc.vendor], kind="hang", after=True, seconds=120)
    proc = apply(p)
    submit = SUBMIT[sc.vendor]

    def accepted() -> bool:
        return any(
            (r["method"], r["path"], r["status"]) == (submit["method"], submit["path"], 200)
            for r in p.requests()
        )

    wait_for("the vendor accepting the batch", accepted, proc)
    kill(proc)
    killed = [j for j in p.raw_state()["jobs"] if j["action"] == SUBMIT_ACTION[sc.vendor]]
    assert [(j["status"], j["vendor_job_id"]) for j in killed] == [("submitting", None)]
    rerun_converges(sc, p)
    assert [j.status for j in p.state().jobs] == ["succeeded"] * 4  # adopted, not resent


#: The status reads a `hold` fault keeps pending: Ongage's per import, listmonk's of its one
#: import at a time.
HOLD = {"ongage": "/ongage/1001/api/import/", "listmonk": "/listmonk/api/import/subscribers"}
STATUS_READ = {"ongage": r"/ongage/1001/api/import/\d+", "listmonk": HOLD["listmonk"]}
#: The vendor's own record of its imports, and what it holds while the first one is held: the
#: one import accepted, still where it started (the run sends one batch at a time).
VENDOR_JOBS = {
    "ongage": ("SELECT status FROM ongage_imports ORDER BY id", [40001]),  # queued
    "listmonk": ("SELECT status FROM listmonk_import", ["importing"]),
}


def reads_while_held(p: FaultProject, sc: Scenario) -> int:
    """Status reads the vendor answered after it accepted the batch the test interrupts."""
    log = p.requests()
    submit = (SUBMIT[sc.vendor]["method"], SUBMIT[sc.vendor]["path"], 200)
    accepted = [i for i, r in enumerate(log) if (r["method"], r["path"], r["status"]) == submit]
    if not accepted:
        return 0
    return sum(
        r["method"] == "GET"
        and r["status"] == 200
        and bool(re.fullmatch(STATUS_READ[sc.vendor], r["path"]))
        for r in log[accepted[0] + 1 :]
    )


def vendor_jobs(p: FaultProject, sc: Scenario) -> list[Any]:
    sql, _ = VENDOR_JOBS[sc.vendor]
    with p.store() as sandbox:
        return [r["status"] for r in sandbox.db.query(sql)]


@BOTH
def test_killed_while_polling(tmp_path: Path, sc: Scenario) -> None:
    p = sc.project(tmp_path)
    p.inject(path=HOLD[sc.vendor], method="GET", kind="hold")  # pending until released
    proc = apply(p)
    action = SUBMIT_ACTION[sc.vendor]
    # Answered, and still pending: the run is in its polling loop, and stays there.
    wait_for(f"the {action} polled while held", lambda: reads_while_held(p, sc) >= 2, proc)
    kill(proc)
    assert ledger_has(p, action, "submitted")
    assert vendor_jobs(p, sc) == VENDOR_JOBS[sc.vendor][1]
    assert list((p.root / ".reconciler" / "work").glob("run-*/providers"))  # the killed scratch
    job_id = next(j["vendor_job_id"] for j in p.raw_state()["jobs"] if j["action"] == action)
    p.release()
    rerun_converges(sc, p)
    final = next(j for j in p.state().jobs if j.action == action)
    assert (final.status, final.vendor_job_id) == ("succeeded", job_id)


#: The state write that records the vendor's job ID of the interrupted batch: the run's writes
#: are its start, then per batch `submitting`, `submitted`, progress and `finished`.
JOB_ID_WRITE = {"ongage": 3, "listmonk": 3}


@BOTH
@pytest.mark.parametrize("point", ["state-write-temp", "state-write-renamed"])
def test_killed_inside_the_state_write_of_a_job_id(
    tmp_path: Path, sc: Scenario, point: str
) -> None:
    crash = f"{point}:{JOB_ID_WRITE[sc.vendor]}"
    p = sc.project(tmp_path, env={"RECONCILER_CRASH_AT": crash})
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 137
    action = SUBMIT_ACTION[sc.vendor]
    entry = next(j for j in p.state().jobs if j.action == action)  # the state file is whole
    # Before the rename the old state stands; after it, the new one.
    assert entry.status == ("submitting" if point == "state-write-temp" else "submitted")
    rerun_converges(sc, p)


def test_sandbox_store_keeps_faults_for_the_next_command(tmp_path: Path) -> None:
    """The harness's premise: a fault put into the data directory holds for the next sandbox."""
    p = ONGAGE.project(tmp_path)
    p.inject(path="/ongage/", kind="status", status=503, count=2)
    sandbox = Sandbox(tmp_path / ".sandbox")
    try:
        taken = [sandbox.faults.take_request_fault("GET", "/ongage/1") for _ in range(3)]
    finally:
        sandbox.db.close()
    assert [f.status if f else None for f in taken] == [503, 503, None]


def test_a_held_job_stays_pending_until_released() -> None:
    """The premise of the polling kill: a `hold` keeps a job where it is however often it is
    read, and once released the job resumes its pace (a held read was no poll)."""
    auth = {"X-USERNAME": "u", "X-PASSWORD": "p", "X-ACCOUNT-CODE": "a"}
    imports = "/ongage/1001/api/import"
    with (
        EmbeddedSandbox() as running,
        httpx.Client(base_url=running.base_url, headers=auth, timeout=30) as http,
    ):
        running.app.seed({"ongage": {"lists": {"1001": {"fields": [], "contacts": []}}}})
        url = http.put("/_sandbox/files/a.csv", content=b"email\nann@example.com\n").json()["url"]
        http.post("/_sandbox/faults", json={"path": f"{imports}/", "method": "GET", "kind": "hold"})
        job = http.post(imports, json={"file_url": url}).json()["payload"]["id"]

        def status() -> int:
            read = http.get(f"{imports}/{job}")
            assert read.status_code == 200, read.text
            return int(read.json()["payload"]["status"])

        held = [status() for _ in range(10)]
        http.delete("/_sandbox/faults", params={"kind": "hold"})
        released = [status() for _ in range(4)]
        contacts = running.app.state()["vendors"]["ongage"]["lists"]["1001"]
    assert held == [40001] * 10  # queued, read after read
    assert released == [40010, 40002, 40004, 40003]  # one step per read, as if never held
    assert [c["email"] for c in contacts] == ["ann@example.com"]


def _killed_after_yesmail_accepted(tmp_path: Path, **options: Any) -> FaultProject:
    p = YESMAIL.project(tmp_path, options=options or None)
    path = "/yesmail/v2/target-lists/weekly/members/file-import"
    p.inject(path=path, method="POST", kind="hang", after=True, seconds=120)
    proc = apply(p)
    # The request log, not the used-up fault: the fault is taken before the vendor acts.
    wait_for("Yesmail accepting the batch", lambda: YESMAIL.submissions(p) == ["file-import"], proc)
    kill(proc)
    p.unlock_after_kill()
    return p


def test_yesmail_killed_after_the_vendor_accepted_asks_then_follows_the_ticket(
    tmp_path: Path,
) -> None:
    """Yesmail has no listing to find a ticket by: a batch whose ticket number was lost in a
    crash is not sent again on a guess. The rerun stops and asks; the user finds the ticket at
    Yesmail and records it; the next apply follows it: one import."""
    p = _killed_after_yesmail_accepted(tmp_path)
    asked = finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"), 1)
    (entry,) = p.state().jobs
    assert entry.status == "unknown"
    assert f"`reconciler state resolve {entry.id} --sent JOB_ID`" in asked.err
    with p.store() as sandbox:
        (ticket,) = [str(r["id"]) for r in sandbox.db.query("SELECT id FROM yesmail_tickets")]
    finished(p.run("state", "resolve", entry.id, "--sent", ticket, "-c", "reconciler.yaml"))
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"))
    assert YESMAIL.contacts(p) == YESMAIL.expected
    assert YESMAIL.submissions(p) == ["file-import"]
    assert [(j.status, j.vendor_job_id) for j in p.state().jobs] == [("succeeded", ticket)]


def test_yesmail_killed_after_the_vendor_accepted_sends_the_batch_again_when_told_to(
    tmp_path: Path,
) -> None:
    """With `resend_unknown: if_harmless` the batch is sent again instead: its imports are
    `update` imports, so the second changes nothing; the list still ends as declared
    (specs/reliability.md, known limits)."""
    p = _killed_after_yesmail_accepted(tmp_path, resend_unknown="if_harmless")
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"))
    assert YESMAIL.contacts(p) == YESMAIL.expected
    assert YESMAIL.submissions(p) == ["file-import", "file-import"]
    assert [j.status for j in p.state().jobs] == ["unsent", "succeeded"]
