"""examples/warehouse works as its README says: the schema loaded into a real PostgreSQL, the
plan shown there, and the vendor's list after apply."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.project import Project
from tests.warehouse.pgserver import Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "warehouse"


def test_the_example_plans_as_its_readme_shows_and_applies(
    database: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "warehouse"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".sandbox", ".reconciler"))
    monkeypatch.setenv("RECONCILER_PATHS_ROOT", str(copy))
    database.psql_file(copy / "schema.sql")
    p = Project(copy / "config")
    planned = p.run("plan", "-c", ".")
    assert planned.code == 0, planned.err
    shown = [
        line.replace("examples/warehouse/config/", "")
        for line in (EXAMPLE / "README.md").read_text().splitlines()
        if line.startswith("      ") or line.startswith("Plan: ")
    ]
    assert shown == [line for line in planned.out.splitlines() if line in shown]
    assert len(shown) == 5
    applied = p.run("apply", "-c", ".", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert p.vendor_list("listmonk", "3") == {
        "ann.archer@example.com": ("active", {"name": "Ann"}),
        "bob.baker@example.com": ("active", {"name": "Bob"}),
        "carl.cole@example.com": ("active", {"name": "Carl"}),
        "eve.evans@example.com": ("active", {"name": "Eve"}),
    }
