"""The state remembers what reconciler applied to lists whose vendor cannot be read: an
unchanged repository sends nothing the second time, to any vendor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from tests.integration.project import Project
from tests.integration.test_four_vendors import CONFIG, FILES, SEED


#: Requests that change something at a vendor. Ongage's export is a POST that reads.
def changing(requests: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [
        (r["vendor"], r["method"], r["path"])
        for r in requests
        if r["method"] != "GET" and not str(r["path"]).endswith("/api/export")
    ]


def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    for name, text in FILES.items():
        p.write(name, text)
    return p


def test_a_second_apply_of_an_unchanged_repository_sends_nothing_to_any_vendor(
    tmp_path: Path,
) -> None:
    p = project(tmp_path)
    first = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert first.code == 0, first.out + first.err
    sent = changing(p.sandbox_requests())
    assert {vendor for vendor, _, _ in sent} == {"ongage", "listmonk", "yesmail", "omnigage"}

    second = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert second.code == 0, second.out + second.err
    assert changing(p.sandbox_requests()) == sent  # nothing more
    assert "current state: applied per the state: what reconciler last applied (yesmail " in (
        second.out
    )
    assert "No changes. The vendors match the configuration." in second.out

    # What the state holds: the members as applied, and no journal left over.
    state = json.loads((tmp_path / ".reconciler" / "state.json").read_text())
    assert state["format_version"] == 4
    # Lists whose vendor cannot be read by address; the others as keyed hashes only.
    assert {
        name: (s["applied"]["rows"], s["applied"]["form"]) for name, s in state["lists"].items()
    } == {
        "vip": (2, "email"),
        "leads": (2, "email"),
        "news": (5, "keyed"),
        "product": (6, "keyed"),
        "alerts": (2, "keyed"),  # ann, in sync (the baseline), and old, unsubscribed
    }
    applied = tmp_path / ".reconciler" / "state.json.applied"
    assert sorted(p.name for p in (applied / "lists").iterdir()) == sorted(
        Path(s["applied"]["file"]).name for s in state["lists"].values() if s["applied"]
    )
    assert not (applied / "journal").exists()
    for name in ("news", "product", "alerts"):
        path = applied / state["lists"][name]["applied"]["file"]
        rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
        assert rows.columns == ["key", "status", "fields", "added"]
        assert rows.types[0] == "BLOB"  # a 16-byte keyed hash, no address
        assert {len(key) for (key,) in rows.project("key").fetchall()} == {16}
        for _, _, fields, _ in rows.fetchall():
            assert all(re.fullmatch("[0-9a-f]{16}", v) for v in json.loads(fields or "{}").values())
    keyed = p.run("state", "members", "news", "-c", "reconciler.yaml")
    assert keyed.out.splitlines() == [
        "list news: 5 member(s) applied (3 active, 1 bounced, 1 complaint)",
        "  2 of them added by reconciler (its own, for drop_scope: owned)",
        "  kept as keyed hashes (the vendor can be read): no address to show",
    ]


def test_a_changed_field_is_an_update_and_only_it_is_sent(tmp_path: Path) -> None:
    p = project(tmp_path)
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 0
    before = len(changing(p.sandbox_requests()))
    p.write("members/vip.csv", "email,firstname\nann@example.com,Annie\nbob@example.com,Bob\n")
    planned = p.run("plan", "-c", "reconciler.yaml", "--target", "vip")
    assert planned.code == 0, planned.err
    assert "~ ann@example.com  (firstname: 'Ann' → 'Annie')" in planned.out
    assert planned.out.splitlines()[-1] == (
        "Plan: 0 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, 0 to mark as complained, 1 to update, 0 held."
    )
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    sent = changing(p.sandbox_requests())[before:]
    assert sent == [("yesmail", "POST", "/yesmail/v2/target-lists/vip/members/file-import")]
    assert p.vendor_list("yesmail", "vip")["ann@example.com"] == (
        "active",
        {"firstname": "Annie"},
    )
    again = p.run("plan", "-c", "reconciler.yaml", "--target", "vip")
    assert again.out.splitlines()[-1] == "No changes. The vendors match the configuration."


def test_rows_the_vendor_refused_are_not_recorded_and_are_planned_again(tmp_path: Path) -> None:
    p = project(tmp_path)
    # zed is no Yesmail subscriber: the vendor refuses that row, and applies the others.
    p.write(
        "members/vip.csv",
        "email,firstname\nann@example.com,Ann\nbob@example.com,Bob\nzed@example.com,Zed\n",
    )
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 5
    planned = p.run("plan", "-c", "reconciler.yaml", "--target", "vip")
    assert "+ zed@example.com  (firstname='Zed')" in planned.out
    assert (
        "\nPlan: 1 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, "
        "0 to mark as bounced, " in planned.out
    )
    assert "ann@example.com" not in planned.out  # applied, recorded: nothing to do


AUTHORITATIVE = """\
providers:
  ym: {type: yesmail, base_url: sandbox}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null}
lists:
  vip:
    provider: ym
    list_id: vip
    managed_fields: [firstname]
    members: [{csv: members.csv}]
"""
YESMAIL_SEED = """\
yesmail:
  subscribers: [ann@example.com, bob@example.com]
  lists:
    vip: {columns: [email, firstname]}
"""


def test_a_member_dropped_from_a_yesmail_list_is_a_listed_gap_until_forgotten(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", AUTHORITATIVE)
    p.write("seed.yaml", YESMAIL_SEED)
    p.write("members.csv", "email,firstname\nann@example.com,Ann\nbob@example.com,Bob\n")
    assert p.run("apply", "-c", "reconciler.yaml", "--auto-approve").code == 0
    sent = changing(p.sandbox_requests())

    p.write("members.csv", "email,firstname\nann@example.com,Ann\n")
    for command in (("plan",), ("apply", "--auto-approve")):
        refused = p.run(*command, "-c", "reconciler.yaml")
        assert refused.code == 1, refused.out + refused.err
        assert "- bob@example.com  # not declared (authoritative list, drop action: remove)" in (
            refused.out
        )
        assert (
            "✗ CANNOT APPLY: yesmail cannot remove through its documented API: 1 removal on "
            "list 'vip' cannot be applied"
        ) in refused.out
        assert "reconciler state forget LIST --member EMAIL" in refused.err
    drift = p.run("drift", "-c", "reconciler.yaml")
    assert drift.code == 2
    assert "cannot apply: yesmail cannot remove through its documented API" in drift.out
    assert changing(p.sandbox_requests()) == sent  # nothing was sent

    members = p.run("state", "members", "vip", "-c", "reconciler.yaml")
    assert members.out.splitlines() == [
        "list vip: 2 member(s) applied (2 active)",
        "  2 of them added by reconciler (its own, for drop_scope: owned)",
        "  a***@example.com",
        "  b***@example.com",
    ]
    # bob removed by hand at Yesmail: the state is told, and the list is in sync again.
    forgot = p.run("state", "forget", "vip", "--member", "Bob@Example.com", "-c", "reconciler.yaml")
    assert forgot.out == "Forgot 1 member(s) of list vip.\n", forgot.err
    again = p.run("plan", "-c", "reconciler.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert again.out.splitlines()[-1] == "No changes. The vendors match the configuration."
    forgot = p.run("state", "forget", "vip", "-c", "reconciler.yaml")
    assert forgot.code == 0, forgot.err
    assert forgot.out.startswith("Forgot what was applied to list vip:")
    assert list((tmp_path / ".reconciler" / "state.json.applied").rglob("vip*.parquet")) == []
    fresh = p.run("plan", "-c", "reconciler.yaml")
    assert "current state: unknown yesmail has no documented API" in fresh.out
