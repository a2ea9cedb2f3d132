"""A Yesmail list whose managed field its load table cannot hold fails at plan time, naming
the list and the column, before the plan is shown and before anything is sent."""

from __future__ import annotations

from pathlib import Path

from tests.providers.test_yesmail_fidelity import project


def test_a_managed_field_that_is_not_a_column_stops_the_plan(tmp_path: Path) -> None:
    p = project(tmp_path, "email,tier\nann@example.com,gold\n", fields="tier")
    # Without the hand-kept export the plan reads the vendor, which Yesmail cannot.
    p.write(
        "reconciler.yaml",
        (tmp_path / "reconciler.yaml")
        .read_text()
        .replace("    export: {format: ongage, path: current.csv}\n", ""),
    )
    for command in (("plan",), ("apply", "--auto-approve")):
        result = p.run(*command, "-c", "reconciler.yaml")
        assert result.code == 1, result.out + result.err
        assert (
            "yesmail: target list 'vip': managed field 'tier' is not a column of its load table "
            "(columns: email, firstname, lastname); nothing was sent"
        ) in result.err
        assert "Plan:" not in result.out
    log = [r for r in p.sandbox_requests() if r["vendor"] == "yesmail"]
    # Only the schema view was read, once per command: no file import was sent.
    assert [(r["method"], r["path"], r["query"]) for r in log] == [
        ("GET", "/yesmail/v2/target-lists", "view=schema")
    ] * 2


def test_with_an_export_file_the_plan_asks_nothing_and_apply_stops_first(
    tmp_path: Path,
) -> None:
    p = project(tmp_path, "email,tier\nann@example.com,gold\n", fields="tier")
    planned = p.run("plan", "-c", "reconciler.yaml")
    assert planned.code == 0, planned.out + planned.err
    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 1, applied.out + applied.err
    assert "managed field 'tier' is not a column of its load table" in applied.err
    log = [r for r in p.sandbox_requests() if r["vendor"] == "yesmail"]
    # The plan, from the export file alone, asked nothing; apply read the schema view only.
    assert [(r["method"], r["path"]) for r in log] == [("GET", "/yesmail/v2/target-lists")]
    assert p.vendor_list("yesmail", "vip") == {
        "bo@example.com": ("active", {"firstname": "Robert", "lastname": "Smith"})
    }
