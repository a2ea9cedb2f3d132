"""Jobs in flight, read from the vendor's request log: an Ongage apply keeps up to the provider
option ``max_imports_in_flight`` of a list's imports in progress at once and honours a refusal
for imports in progress; a listmonk apply never has two imports running.

The sandbox's imports here move on only when read (``polls_per_step``), so the log tells
exactly when each was in progress: from the POST that created it to the status read that saw
it end (apply reads a job until it ends, then never again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.project import Project

ONGAGE = """\
providers:
  og:
    type: ongage
    base_url: sandbox
    options: {batch_size: 2, max_imports_in_flight: 3, poll_interval_seconds: 0.01}
sandbox: {seed: seed.yaml, polls_per_step: 2}
guards: {max_add_percent: null}
lists:
  news:
    provider: og
    list_id: 1001
    mode: additive
    managed_fields: [first_name]
    members: [{csv: members.csv}]
"""
ONGAGE_SEED = """\
ongage:
  SETTINGS
  lists:
    "1001":
      fields: [first_name]
      contacts:
        - {email: old@example.com, status: active, fields: {first_name: Old}}
"""
NAMES = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida"]
#: Nine adds in batches of two: five batches (the last of one row).
MEMBERS = "email,first_name\n" + "".join(f"{n.lower()}@example.com,{n}\n" for n in NAMES)
EXPECTED = {
    "old@example.com": ("active", {"first_name": "Old"}),
    **{f"{n.lower()}@example.com": ("active", {"first_name": n}) for n in NAMES},
}
IMPORTS = "/ongage/1001/api/import"


def ongage_project(tmp_path: Path, settings: str = "") -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", ONGAGE)
    p.write("seed.yaml", ONGAGE_SEED.replace("SETTINGS", settings or "settings: {}"))
    p.write("members.csv", MEMBERS)
    return p


def ledger(p: Project) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = json.loads((p.root / ".reconciler" / "state.json").read_text())[
        "jobs"
    ]
    return jobs


def file_name(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[-1]


def in_progress(p: Project) -> dict[str, tuple[int, int]]:
    """Each import the vendor accepted, by its ID: the log positions of the POST that created
    it and of the last status read of it (the one that saw it end)."""
    log = p.sandbox_requests()
    job_of = {file_name(j["url"]): j["vendor_job_id"] for j in ledger(p)}
    spans: dict[str, tuple[int, int]] = {}
    for r in log:
        if r["method"] == "POST" and r["path"] == IMPORTS and r["status"] == 200:
            spans[job_of[file_name(json.loads(r["body"])["file_url"])]] = (r["seq"], r["seq"])
        elif r["method"] == "GET" and r["path"].startswith(IMPORTS + "/"):
            job = r["path"].rsplit("/", 1)[-1]
            spans[job] = (spans[job][0], r["seq"])
    return spans


def most_at_once(spans: dict[str, tuple[int, int]]) -> int:
    """The most imports in progress at any one point of the log."""
    return max(sum(1 for s, e in spans.values() if s <= start <= e) for start, _ in spans.values())


def import_posts(p: Project) -> list[int]:
    return [
        r["status"] for r in p.sandbox_requests() if r["method"] == "POST" and r["path"] == IMPORTS
    ]


def test_ongage_imports_overlap_up_to_the_option_and_every_job_is_in_the_ledger(
    tmp_path: Path,
) -> None:
    p = ongage_project(tmp_path)
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert p.vendor_list("ongage", "1001") == EXPECTED

    spans = in_progress(p)
    assert len(spans) == 5
    # Three batches are sent before the first is waited for; then one for each that ends.
    assert most_at_once(spans) == 3
    starts = sorted(s for s, _ in spans.values())
    ends = sorted(e for _, e in spans.values())
    assert starts[2] < ends[0]  # the third import was created while the first ran
    assert starts[3] > ends[0] and starts[4] > ends[1]  # no fourth while three ran

    jobs = ledger(p)
    assert sorted(j["vendor_job_id"] for j in jobs) == sorted(spans)  # one job per batch
    assert [(j["action"], j["index"], j["rows"], j["status"]) for j in jobs] == [
        ("add", i, 2 if i < 5 else 1, "succeeded") for i in range(1, 6)
    ]
    assert import_posts(p) == [200] * 5


def test_a_refusal_for_imports_in_progress_waits_for_the_oldest_and_sends_each_batch_once(
    tmp_path: Path,
) -> None:
    # The vendor takes two imports of a list at a time (the sandbox's invented limit); the
    # option asks for three.
    p = ongage_project(tmp_path, "settings: {max_imports_in_progress: 2}")
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert p.vendor_list("ongage", "1001") == EXPECTED

    # The third batch is refused once (nothing created); it is sent again when the first ends,
    # and from then on no more than two are in flight: no other refusal.
    assert import_posts(p) == [200, 200, 500, 200, 200, 200]
    spans = in_progress(p)
    assert len(spans) == 5 and most_at_once(spans) == 2
    refused = next(
        r
        for r in p.sandbox_requests()
        if r["method"] == "POST" and r["path"] == IMPORTS and r["status"] == 500
    )
    first_end = min(e for _, e in spans.values())
    assert refused["seq"] < first_end  # refused while the first ran, not after
    # A refusal is not an ambiguous answer: no lookup in the import listing.
    assert not [r for r in p.sandbox_requests() if r["method"] == "GET" and r["path"] == IMPORTS]

    jobs = ledger(p)
    assert [(j["index"], j["status"]) for j in jobs] == [(i, "succeeded") for i in range(1, 6)]
    assert sorted(j["vendor_job_id"] for j in jobs) == sorted(spans)
    assert len({file_name(j["url"]) for j in jobs}) == 5
    assert "refused for now" in result.out and "with at most 2 of this list's jobs" in result.out


LISTMONK = """\
providers:
  lm:
    type: listmonk
    base_url: sandbox
    options: {batch_size: 2, poll_interval_seconds: 0.005}
sandbox: {seed: seed.yaml, polls_per_step: 2}
guards: {max_add_percent: null}
lists:
  product:
    provider: lm
    list_id: 3
    mode: additive
    managed_fields: [name]
    members: [{csv: members.csv}]
"""
LISTMONK_SEED = """\
listmonk:
  lists:
    "3":
      name: product
      contacts:
        - {email: old@example.com, fields: {name: Old}}
"""
LISTMONK_IMPORT = "/listmonk/api/import/subscribers"
#: Status reads that end a listmonk import in the sandbox: two steps of polls_per_step (2).
READS_TO_END = 4


def test_a_listmonk_apply_of_several_batches_never_has_two_imports_running(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", LISTMONK)
    p.write("seed.yaml", LISTMONK_SEED)
    p.write(
        "members.csv", "email,name\n" + "".join(f"{n.lower()}@example.com,{n}\n" for n in NAMES)
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert p.vendor_list("listmonk", "3") == {
        "old@example.com": ("active", {"name": "Old"}),
        **{f"{n.lower()}@example.com": ("active", {"name": n}) for n in NAMES},
    }

    log = [r for r in p.sandbox_requests() if r["path"] == LISTMONK_IMPORT]
    posts = [i for i, r in enumerate(log) if r["method"] == "POST"]
    assert [log[i]["status"] for i in posts] == [200] * 5  # none refused as already running
    # Every import was read to its end before the next was sent: one import at a time.
    for before, after in zip(posts, [*posts[1:], len(log)], strict=True):
        reads = [r for r in log[before + 1 : after] if r["method"] == "GET"]
        assert len(reads) >= READS_TO_END
    assert [(j["index"], j["status"]) for j in ledger(p)] == [(i, "succeeded") for i in range(1, 6)]
