"""Saved plans: the plan checksum, the artifact's round trip and its refusals."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import PlanError
from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan import changes as stores
from reconciler.plan.artifact import (
    SavedPlan,
    StateRef,
    read_saved_plan,
    write_saved_plan,
)
from reconciler.plan.checksum import exports_checksum, list_checksum, plan_checksum, row_line
from reconciler.plan.columnar import ColumnarChanges
from reconciler.plan.jsonform import change_to_dict, change_to_json, values_json
from reconciler.plan.model import CapabilityGap, CurrentStateRef, ListChange, ListPlan, Plan

NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)
ADD = ListChange(ChangeKind.ADD, "ann@example.com", "m.csv:2", {"first_name": "Ann"})
UPDATE = ListChange(
    ChangeKind.UPDATE, "bob@example.com", "m.csv:3", {"first_name": "Bob"}, {"first_name": "Rob"}
)
REMOVE = ListChange(ChangeKind.REMOVE, "hal@example.com", "not declared")
HELD = ListChange(ChangeKind.HELD, "kim@example.com", "vendor status: unsubscribed")


def list_plan(
    name: str = "news", changes: tuple[ListChange, ...] = (ADD, REMOVE, UPDATE, HELD)
) -> ListPlan:
    return ListPlan(
        name,
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        changes,
        CurrentStateRef("vendor", "ongage POST /1001/api/export", 4, "ab" * 32, NOW),
        3,
        3,
    )


def plan(*lists: ListPlan) -> Plan:
    return Plan(lists or (list_plan(),), NOW, "c" * 64)


def saved(p: Plan, **extra: object) -> SavedPlan:
    return SavedPlan(
        p,
        StateRef(".reconciler/state.json", "lin-1", 7),
        plan_checksum=plan_checksum(p),
        exports_checksum=exports_checksum(p),
        **extra,  # type: ignore[arg-type]
    )


# -- checksum ---------------------------------------------------------------------------------


def test_row_line_is_compact_json_of_what_is_sent() -> None:
    assert row_line(UPDATE) == (
        '["update","bob@example.com",{"first_name":"Bob"},{"first_name":"Rob"}]\n'
    )
    odd = ListChange(ChangeKind.ADD, "é@example.com", "x", {"b": None, "a": 'q"\n'})
    assert row_line(odd) == '["add","é@example.com",{"a":"q\\"\\n","b":null},{}]\n'
    assert json.loads(row_line(odd)) == ["add", "é@example.com", {"a": 'q"\n', "b": None}, {}]


def test_checksum_ignores_reasons_held_rows_order_and_time() -> None:
    base = plan_checksum(plan())
    moved = list_plan(changes=(ADD._replace(reason="m.csv:40"), UPDATE, REMOVE))
    assert plan_checksum(Plan((moved,), datetime(2030, 1, 1, tzinfo=UTC), "d" * 64)) == base


@pytest.mark.parametrize(
    "changes",
    [
        (ADD, REMOVE),  # a row fewer
        (ADD._replace(kind=ChangeKind.RESUBSCRIBE), REMOVE, UPDATE),
        (ADD._replace(email="ann2@example.com"), REMOVE, UPDATE),
        (ADD._replace(fields={"first_name": "Anne"}), REMOVE, UPDATE),
        (ADD, REMOVE, UPDATE._replace(previous={"first_name": "Bobby"})),
    ],
)
def test_checksum_changes_with_anything_sent_or_overwritten(
    changes: tuple[ListChange, ...],
) -> None:
    assert plan_checksum(plan(list_plan(changes=changes))) != plan_checksum(plan())


def test_checksum_covers_the_list_identity() -> None:
    other = replace(list_plan(), vendor_list_id="1002")
    assert list_checksum(other) != list_checksum(list_plan())
    assert plan_checksum(plan(list_plan("a"), list_plan("b"))) == plan_checksum(
        plan(list_plan("b"), list_plan("a"))
    )


def test_fast_row_json_matches_json_dumps() -> None:
    for change in (ADD, UPDATE, REMOVE, HELD, ListChange(ChangeKind.ADD, "😀@example.com", "\t")):
        expected = json.dumps(change_to_dict(change), ensure_ascii=False, sort_keys=True)
        assert change_to_json(change) == expected
    assert values_json({"z": None, "a": "x"}) == '{"a": "x", "z": null}'
    assert values_json({"a": None}, compact=True) == '{"a":null}'


# -- artifact ---------------------------------------------------------------------------------


def test_round_trip_is_exact(tmp_path: Path) -> None:
    gap = CapabilityGap(ChangeKind.REMOVE, 1, "cannot")
    p = plan(
        list_plan("news"),
        replace(list_plan("vip/weird name"), gaps=(gap,), pending={ChangeKind.ADD: 2}),
    )
    original = saved(p, targets=("news", "vip/weird name"))
    write_saved_plan(tmp_path / "plan.zip", original)
    assert read_saved_plan(tmp_path / "plan.zip") == original
    with zipfile.ZipFile(tmp_path / "plan.zip") as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "rows/0001.jsonl", "rows/0002.jsonl"]
        manifest = json.loads(archive.read("manifest.json"))
        first_row = archive.read("rows/0001.jsonl").decode().splitlines()[0]
    assert manifest["state"] == {
        "location": ".reconciler/state.json",
        "lineage": "lin-1",
        "serial": 7,
    }
    assert manifest["plan_checksum"] == plan_checksum(p)
    assert manifest["plan"]["lists"][1]["rows_file"] == "rows/0002.jsonl"
    assert json.loads(first_row) == change_to_dict(ADD)
    assert list(tmp_path.iterdir()) == [tmp_path / "plan.zip"]  # no partial file left


def test_a_large_saved_plan_reads_into_a_columnar_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past stores.IN_MEMORY_ROWS, the rows are read by DuckDB into Parquet files: the same
    rows (field names that need quoting, a previous value that is null, non-ASCII values),
    and the checksum verified over them."""
    odd = ListChange(
        ChangeKind.UPDATE,
        "zoë@example.com",
        "m.csv:9",
        {'say "hi"\\': "Zoë", "first_name": "Z"},
        {'say "hi"\\': None, "first_name": "Y"},
    )
    resub = ListChange(
        ChangeKind.RESUBSCRIBE, "ray@example.com", "opt-in: f (o.csv:2)", {}, {"first_name": None}
    )
    original = saved(plan(list_plan(changes=(ADD, REMOVE, UPDATE, odd, resub, HELD))))
    write_saved_plan(tmp_path / "plan.zip", original)
    monkeypatch.setattr(stores, "IN_MEMORY_ROWS", -1)
    loaded = read_saved_plan(tmp_path / "plan.zip")
    changes = loaded.plan.lists[0].changes
    assert isinstance(changes, ColumnarChanges)
    assert [tuple(c) for c in changes] == [tuple(c) for c in original.plan.lists[0].changes]
    assert loaded == original


def test_plan_without_state_records_no_lineage(tmp_path: Path) -> None:
    original = replace(saved(plan()), state=StateRef("s.json", None, 0))
    write_saved_plan(tmp_path / "p.zip", original)
    assert read_saved_plan(tmp_path / "p.zip").state == StateRef("s.json", None, 0)


def _rewrite(path: Path, member: str, text: str) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = text.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_edited_rows_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.zip"
    write_saved_plan(path, saved(plan()))
    with zipfile.ZipFile(path) as archive:
        rows = archive.read("rows/0001.jsonl").decode().splitlines()
    _rewrite(path, "rows/0001.jsonl", "\n".join(rows[1:]) + "\n")  # a row dropped by hand
    with pytest.raises(PlanError) as caught:
        read_saved_plan(path)
    assert str(caught.value) == (
        f"{path} was changed after it was written: its rows no longer match the checksum it "
        "recorded. Nothing was sent; make a new one with `reconciler plan -out FILE`"
    )


def test_unreadable_files_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"^no saved plan at .*missing\.zip: make one with"):
        read_saved_plan(tmp_path / "missing.zip")
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(PlanError, match=r"text\.zip is not a readable reconciler saved plan"):
        read_saved_plan(tmp_path / "text.zip")
    path = tmp_path / "future.zip"
    write_saved_plan(path, saved(plan()))
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    _rewrite(path, "manifest.json", json.dumps({**manifest, "artifact_version": 9}))
    with pytest.raises(PlanError, match="saved plan of artifact_version 9; this reconciler"):
        read_saved_plan(path)
    _rewrite(path, "manifest.json", json.dumps({"artifact": "something else"}))
    with pytest.raises(PlanError, match="is not a reconciler saved plan"):
        read_saved_plan(path)


def test_an_unwritable_target_is_a_plan_error(tmp_path: Path) -> None:
    (tmp_path / "dir.zip").mkdir()
    with pytest.raises(PlanError, match=r"cannot write the saved plan .*dir\.zip"):
        write_saved_plan(tmp_path / "dir.zip", saved(plan()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.zip"]
