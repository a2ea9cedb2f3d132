"""A vendor job that fails (the sandbox's ``fail_job`` fault), for every vendor: apply goes on
with the other batches, reports the failed one with the vendor's message and exits 5; the ledger
keeps the job with its ID, the vendor's status and message; the next apply sends what is still
needed, once, and the vendor ends as declared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import assert_state_settled, finished
from tests.reliability.scenarios import LISTMONK, OMNIGAGE, ONGAGE, YESMAIL, Scenario

pytestmark = pytest.mark.slow

CASES = [
    pytest.param(
        ONGAGE,
        "complaint",
        "90001",
        "Error: the import failed while processing",
        # The failed complaint is sent again; nothing else.
        ["add", "add+overwrite", "complaint", "complaint", "remove"],
        id="ongage-90001",
    ),
    pytest.param(
        YESMAIL,
        "add",
        "failed",
        "File import failed: internal error. No records were updated or added.",
        ["file-import", "file-import"],
        id="yesmail-ticket-failed",
    ),
    pytest.param(
        LISTMONK,
        "complaint",  # the first import: the complaint's blocklist import
        "failed",
        "import failed: the import broke midway",  # after listmonk's log timestamp
        ["blocklist", "blocklist", "import", "import+overwrite", "remove"],
        id="listmonk-import-failed",
    ),
    pytest.param(
        OMNIGAGE,
        "add",
        "failed",
        "import failed after 1 of 2 row(s) (0 erred)",
        ["import-contacts", "import-contacts"],
        id="omnigage-failed",
    ),
]


@pytest.mark.parametrize(("sc", "action", "vendor_status", "message", "submissions"), CASES)
def test_a_failed_vendor_job_exits_5_stays_in_the_ledger_and_the_rerun_converges(
    tmp_path: Path,
    sc: Scenario,
    action: str,
    vendor_status: str,
    message: str,
    submissions: list[str],
) -> None:
    p = sc.project(tmp_path)
    p.inject(path="/", kind="fail_job", vendor=sc.vendor)
    first = finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify"), 5)

    state = p.state()
    (failed,) = [j for j in state.jobs if j.status == "failed"]
    assert (failed.action, failed.vendor_status) == (action, vendor_status)
    assert failed.vendor_job_id  # the job stays identifiable at the vendor
    assert failed.message.endswith(message)
    assert f"  ✗ {failed.batch_key}: {failed.message}\n" in first.out
    others = [j.status for j in state.jobs if j is not failed]
    assert others == ["succeeded"] * len(others)  # the other batches went on

    finished(p.run("apply", "-c", "reconciler.yaml", "--auto-approve"))
    assert sc.contacts(p) == sc.expected
    assert sc.submissions(p) == submissions
    assert_state_settled(p.state())
