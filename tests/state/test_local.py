"""LocalStateStore: the conformance suite, plus what only a file can get wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state.local import LocalStateStore
from reconciler.state.model import FORMAT_VERSION, UPGRADES, State, parse_state
from reconciler.state.store import StateStore
from tests.state.conformance import StateStoreConformance


class TestLocalConformance(StateStoreConformance):
    def make_store(self, tmp_path: Path) -> StateStore:
        return LocalStateStore(tmp_path / "state.json")

    def store_factory(self, tmp_path: Path) -> Callable[[], StateStore]:
        return partial(LocalStateStore, tmp_path / "state.json")


def test_previous_version_is_kept_as_backup(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    state = store.write(State())
    first = (tmp_path / "state.json").read_text()
    state.runs = []
    state.lists = {}
    from reconciler.state.model import ListState

    state.lists["x"] = ListState(provider="p", vendor="ongage", vendor_list_id="1")
    store.write(state)
    assert (tmp_path / "state.json.backup").read_text() == first
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupted_state_is_a_clear_error_and_nothing_is_overwritten(
    tmp_path: Path, damage: str
) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    state = store.write(State())
    from reconciler.state.model import ListState

    state.lists["x"] = ListState(provider="p", vendor="ongage", vendor_list_id="1")
    store.write(state)
    path = tmp_path / "state.json"
    text = path.read_text()
    broken = text[: len(text) // 2] if damage == "truncate" else "\x00\x01 not json"
    path.write_text(broken)
    with pytest.raises(StateError) as exc:
        store.read()
    message = str(exc.value)
    assert message.startswith(f"{path} is not valid JSON")
    assert f"The previous version is in {path}.backup" in message
    assert message.endswith("Nothing was overwritten.")
    with pytest.raises(StateError):
        store.write(State())
    assert path.read_text() == broken


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(StateError, match="newer than this reconciler reads"):
        LocalStateStore(path).read()


def test_upgrade_chain_runs_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    def from_v0(data: dict[str, object]) -> dict[str, object]:
        return {
            **{k: v for k, v in data.items() if k != "ledger"},
            "jobs": data["ledger"],
            "format_version": 1,
        }

    monkeypatch.setitem(UPGRADES, 0, from_v0)
    state = parse_state(
        json.dumps({"format_version": 0, "lineage": "L", "serial": 3, "ledger": []}), "old.json"
    )
    assert (state.format_version, state.lineage, state.serial, state.jobs) == (
        FORMAT_VERSION,
        "L",
        3,
        [],
    )


def test_write_of_ten_thousand_jobs_stays_cheap(tmp_path: Path) -> None:
    from reconciler.state.model import JobEntry

    store = LocalStateStore(tmp_path / "state.json")
    state = State()
    state.jobs = [
        JobEntry(
            batch_key=f"l/add/{i:04d}/x",
            run_id="r",
            provider="p",
            list="l",
            vendor_list_id="1",
            action="add",
            index=i,
            rows=100,
            sha256="x",
            file="f",
        )
        for i in range(10_000)
    ]
    written = store.write(state)
    assert store.read().jobs[-1].index == 9_999  # type: ignore[union-attr]
    assert written.serial == 1
