"""Plans with more rows than DuckDB hands over in one piece (it scans tables in parallel, in
row groups of about 120,000 rows): their order and their reasons still hold."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import Write, one_list, plan_for

MEMBERS = 300_000


def test_a_first_sync_plans_every_add_in_address_order(write: Write, workdir: Path) -> None:
    # Row i is on line i + 2; the addresses' order is not the file's.
    lines = "".join(f"m{i}@example.com,N{i % 7}\n" for i in range(MEMBERS))
    write("members.csv", "email,first_name\n" + lines)
    write("export.csv", "email,status\n")
    config = one_list(
        members=[{"csv": "members.csv"}],
        export={"format": "ongage", "path": "export.csv"},
        managed=["first_name"],
    )

    changes = plan_for(workdir, config).lists[0].changes

    emails = [c.email for c in changes]
    assert len(emails) == MEMBERS
    assert emails == sorted(f"m{i}@example.com" for i in range(MEMBERS))
    rows = {c.email: (c.kind.value, c.reason, dict(c.fields)) for c in changes}
    assert rows["m0@example.com"] == ("add", "members.csv:2", {"first_name": "N0"})
    assert rows["m299999@example.com"] == ("add", "members.csv:300001", {"first_name": "N0"})
