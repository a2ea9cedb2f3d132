"""A run killed between a job's submission and the vendor's download of its file (#15 item 2):
with ``staging: http`` the file was served by the killed process. The sandbox's Ongage and
Yesmail fetch the file while the job runs (Ongage on its move to "validated", Yesmail on
leaving "accepted"), so a ``hold`` on the job's status reads keeps the file unfetched while the
run polls; the run is killed there. The next ``apply`` or ``refresh`` serves the file again at
the same URL (the port is fixed: validate requires it) before it polls: the job succeeds from
that URL, each batch is one job at the vendor, every vendor job is in the ledger, and the list
ends exact."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.harness import (
    FaultProject,
    assert_state_settled,
    finished,
    kill,
    status_reads_after_accepting,
    wait_for,
)
from tests.reliability.scenarios import ONGAGE, YESMAIL, Scenario

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Vendor:
    scenario: Scenario
    submit: str  # the request that creates the job (a regex of its path)
    status_read: str  # the job's status reads (a regex of their path)
    hold: str  # the prefix of those reads, for the hold fault
    first: str  # the action of the first batch, the one interrupted
    jobs: str  # the vendor's jobs: id, the URL it was given, its state
    queued: object  # the state of a job that has not fetched its file yet
    url_key: str  # the key of the file's URL in the job's request


ONGAGE_HTTP = Vendor(
    ONGAGE,
    r"/ongage/1001/api/import",
    r"/ongage/1001/api/import/\d+",
    "/ongage/1001/api/import/",
    "complaint",
    "SELECT id, request, status AS state FROM ongage_imports ORDER BY id",
    40001,
    "file_url",
)
YESMAIL_HTTP = Vendor(
    YESMAIL,
    r"/yesmail/v2/target-lists/weekly/members/file-import",
    r"/yesmail/v2/tickets/\d+",
    "/yesmail/v2/tickets/",
    "add",
    "SELECT id, request, state FROM yesmail_tickets ORDER BY id",
    "accepted",
    "uri",
)
VENDORS = pytest.mark.parametrize("v", [ONGAGE_HTTP, YESMAIL_HTTP], ids=["ongage", "yesmail"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def http_staged(v: Vendor, root: Path, port: int) -> FaultProject:
    p = v.scenario.project(root)
    text = (root / "reconciler.yaml").read_text()
    staged = re.sub(
        r"options: (\{[^}]*\})\}",
        rf"options: \1, staging: {{backend: http, port: {port}}}}}",
        text,
        count=1,
    )
    assert staged != text
    p.write("reconciler.yaml", staged)
    return p


def vendor_jobs(p: FaultProject, v: Vendor) -> list[tuple[str, str, object]]:
    """Each job the vendor holds: its ID, the URL it fetches its file from, its state."""
    with p.store() as sandbox:
        rows = sandbox.db.query(v.jobs)
    return [(str(r["id"]), json.loads(r["request"])[v.url_key], r["state"]) for r in rows]


def killed_before_the_download(v: Vendor, p: FaultProject) -> tuple[str, str]:
    """Apply until the first job is accepted and polled, its file not fetched; kill it there.
    The job's vendor ID and URL."""
    p.inject(path=v.hold, method="GET", kind="hold")
    proc = p.start("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    wait_for(
        "the job polled while held",
        lambda: status_reads_after_accepting(p, v.submit, v.status_read) >= 2,
        proc,
    )
    kill(proc)
    ((job_id, url, state),) = vendor_jobs(p, v)
    assert state == v.queued  # accepted, its file not fetched yet
    entry = next(j for j in p.raw_state()["jobs"] if j["action"] == v.first)
    assert (entry["status"], entry["vendor_job_id"], entry["url"]) == ("submitted", job_id, url)
    assert (p.root / entry["file"]).exists()  # kept on disk while its job is in flight
    with pytest.raises(httpx.ConnectError):  # the killed run served it: nobody does now
        httpx.get(url, timeout=5)
    p.release()
    p.unlock_after_kill()
    return job_id, url


def settled_exactly_once(v: Vendor, p: FaultProject, job_id: str, url: str) -> None:
    sc = v.scenario
    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"))
    assert sc.contacts(p) == sc.expected
    state = p.state()
    assert_state_settled(state)
    jobs = vendor_jobs(p, v)
    # Each batch one job at the vendor, the interrupted one fetched from its first URL.
    assert sorted(sc.submissions(p)) == sorted(
        {"ongage": ["add", "add+overwrite", "complaint", "remove"], "yesmail": ["file-import"]}[
            sc.vendor
        ]
    )
    assert jobs[0][:2] == (job_id, url)
    assert {j[2] for j in jobs} == {40003 if sc.vendor == "ongage" else "completed"}
    # Every vendor job is in the ledger under its ID, succeeded; nothing unsent or failed.
    assert sorted((j.vendor_job_id, j.status) for j in state.jobs) == sorted(
        (j[0], "succeeded") for j in jobs
    )
    entry = next(j for j in state.jobs if j.vendor_job_id == job_id)
    assert (entry.action, entry.url) == (v.first, url)
    leftovers = [f for f in (p.root / ".reconciler" / "batches").rglob("*") if f.is_file()]
    assert leftovers == []


@VENDORS
def test_apply_serves_the_file_of_a_killed_runs_job_again_at_the_same_url(
    tmp_path: Path, v: Vendor
) -> None:
    p = http_staged(v, tmp_path, free_port())
    job_id, url = killed_before_the_download(v, p)
    settled_exactly_once(v, p, job_id, url)


@VENDORS
def test_refresh_serves_it_again_too(tmp_path: Path, v: Vendor) -> None:
    p = http_staged(v, tmp_path, free_port())
    job_id, url = killed_before_the_download(v, p)
    run = finished(p.run("poll", "-c", "reconciler.yaml"))
    entry = next(j for j in p.state().jobs if j.vendor_job_id == job_id)
    assert run.out.endswith(f"{entry.batch_key}: succeeded (job {job_id})\n"), run.out
    assert (entry.status, entry.url) == ("succeeded", url)
    assert vendor_jobs(p, v)[0][2] == (40003 if v.scenario.vendor == "ongage" else "completed")
    settled_exactly_once(v, p, job_id, url)


def test_a_job_whose_url_the_staging_no_longer_serves_stops_the_run_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """The port changed while a job was in flight: its file is served nowhere, so the run stops
    before it polls or sends anything, saying what to put back; with it put back, it settles."""
    v = ONGAGE_HTTP
    port = free_port()
    p = http_staged(v, tmp_path, port)
    job_id, url = killed_before_the_download(v, p)
    config = (tmp_path / "reconciler.yaml").read_text()
    other = free_port()
    p.write("reconciler.yaml", config.replace(f"port: {port}", f"port: {other}"))
    sent = len(p.requests())
    entry = next(j for j in p.raw_state()["jobs"] if j["vendor_job_id"] == job_id)
    run = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert (run.code, run.out) == (1, "")
    column = config.splitlines()[1].index("backend") + 1
    assert run.err == (
        f"Error: reconciler.yaml:2:{column}: [providers.p.staging.backend] the job of "
        f"{entry['batch_key']} (ledger entry {entry['id']}) is still in flight, and its file "
        f"was published at {url}, which provider 'p''s staging (now at "
        f"http://127.0.0.1:{other}) does not serve: the vendor may not have fetched it yet, and "
        "its job would fail. Put back the staging that published it (the same port and "
        "public_url) until the job is final, then run the command again; nothing was sent\n"
    )
    assert p.requests()[sent:] == []  # not even a poll
    assert not p.state_file.with_name("state.json.lock").exists()
    p.write("reconciler.yaml", config)
    settled_exactly_once(v, p, job_id, url)
