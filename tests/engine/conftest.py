"""Helpers: build a LoadedConfig from a dict and files in a temporary directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.loader import LoadedConfig
from reconciler.config.locations import SourceMap
from reconciler.config.schema import Config
from reconciler.engine import hot
from reconciler.engine.planner import build_plan
from reconciler.model import ChangeKind
from reconciler.plan import changes as stores
from reconciler.plan.model import ListPlan, Plan

Write = Callable[[str, str], Path]


@pytest.fixture(autouse=True, params=["by-raw-key, in memory", "every-row, columnar"])
def reread(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every engine test runs with both ways of re-reading the hot members: skipping the other
    rows by their raw address first (few hot rows), or reading every row (most rows hot); and
    with both stores of a plan's rows: in memory, or in Parquet files (a large plan's). The two
    choices are independent, so pairing them covers each without running every test four
    times."""
    by_raw_key = request.param.startswith("by-raw-key")
    monkeypatch.setattr(hot, "RAW_KEY_SHARE", 2.0 if by_raw_key else 0.0)
    monkeypatch.setattr(stores, "IN_MEMORY_ROWS", 1 << 30 if by_raw_key else -1)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """Run inside tmp_path so that messages name files relative to it."""
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


@pytest.fixture
def write(workdir: Path) -> Write:
    def _write(name: str, text: str) -> Path:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def loaded(workdir: Path, data: dict[str, Any]) -> LoadedConfig:
    return LoadedConfig(Config.model_validate(data), SourceMap(), workdir / "reconciler.yaml", "c")


def plan_for(workdir: Path, data: dict[str, Any]) -> Plan:
    return build_plan(loaded(workdir, data))


def kinds(list_plan: ListPlan) -> dict[str, set[str]]:
    """{kind: {emails}} for the kinds present."""
    out: dict[str, set[str]] = {}
    for change in list_plan.changes:
        out.setdefault(change.kind.value, set()).add(change.email)
    return out


def one_list(
    *,
    members: list[dict[str, Any]],
    export: dict[str, Any],
    managed: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    list_cfg: dict[str, Any] = {
        "provider": "og",
        "list_id": "100",
        "members": members,
        "export": export,
        "managed_fields": managed or [],
    }
    top = {k: extra.pop(k) for k in ("suppressions", "resubscribe") if k in extra}
    list_cfg.update(extra)
    return {"providers": {"og": {"type": "ongage"}}, "lists": {"news": list_cfg}, **top}


__all__ = ["ChangeKind", "kinds", "loaded", "one_list", "plan_for"]
