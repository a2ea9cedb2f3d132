"""The conformance suite every state store passes (local file now, S3 later)."""

from __future__ import annotations

import abc
import multiprocessing
import time
from pathlib import Path

import pytest

from reconciler.errors import StateError, StateLockedError
from reconciler.state.model import ExportSeen, ListState, State
from reconciler.state.store import StateStore


def _hold_lock(
    factory_args: tuple[type, tuple[object, ...]], ready: object, release: object
) -> None:
    cls, args = factory_args
    store = cls(*args)
    info = store.lock("apply")
    ready.set()  # type: ignore[attr-defined]
    release.wait(30)  # type: ignore[attr-defined]
    store.unlock(info.id)


class StateStoreConformance(abc.ABC):
    @abc.abstractmethod
    def make_store(self, tmp_path: Path) -> StateStore: ...

    @abc.abstractmethod
    def store_factory(self, tmp_path: Path) -> tuple[type, tuple[object, ...]]:
        """A picklable (class, args) that builds the same store in another process."""

    def test_read_of_nothing_is_none(self, tmp_path: Path) -> None:
        assert self.make_store(tmp_path).read() is None

    def test_round_trip_keeps_everything(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        state = State()
        state.lists["news"] = ListState(
            provider="og",
            vendor="ongage",
            vendor_list_id="1",
            last_export=ExportSeen(kind="vendor", location="x", rows=3, sha256="ab"),
        )
        written = store.write(state)
        read = store.read()
        assert read is not None
        assert read.model_dump() == written.model_dump()
        assert (read.serial, read.lineage) == (1, state.lineage)

    def test_serial_bumps_on_change_only(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        state = store.write(State())
        assert store.write(state).serial == 1  # no-op: same serial
        state.lists["news"] = ListState(provider="og", vendor="ongage", vendor_list_id="1")
        assert store.write(state).serial == 2
        assert store.read().serial == 2  # type: ignore[union-attr]

    def test_other_lineage_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        store.write(State())
        with pytest.raises(StateError, match="they are different states"):
            store.write(State())
        assert store.write(State(), force=True).serial == 2

    def test_older_serial_is_refused(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        state = store.write(State())
        stale = state.model_copy(deep=True)
        state.lists["a"] = ListState(provider="og", vendor="ongage", vendor_list_id="1")
        store.write(state)
        state.lists["b"] = ListState(provider="og", vendor="ongage", vendor_list_id="2")
        store.write(state)
        stale.serial = 1
        stale.lists["c"] = ListState(provider="og", vendor="ongage", vendor_list_id="3")
        with pytest.raises(StateError, match="someone else wrote the state meanwhile"):
            store.write(stale)

    def test_lock_excludes_another_process_and_names_the_holder(self, tmp_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        ready, release = context.Event(), context.Event()
        holder = context.Process(
            target=_hold_lock, args=(self.store_factory(tmp_path), ready, release)
        )
        holder.start()
        try:
            assert ready.wait(30)
            store = self.make_store(tmp_path)
            with pytest.raises(StateLockedError) as exc:
                store.lock("apply")
            held = store.current_lock()
            assert held is not None and held.pid == holder.pid
            assert f"(pid {holder.pid}) for 'apply'" in str(exc.value)
            assert f"reconciler state unlock {held.id}" in str(exc.value)
        finally:
            release.set()
            holder.join(30)
        deadline = time.monotonic() + 10
        while self.make_store(tmp_path).current_lock() is not None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        info = self.make_store(tmp_path).lock("apply")  # free again
        self.make_store(tmp_path).unlock(info.id)

    def test_unlock_needs_the_holders_id(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        info = store.lock("apply")
        with pytest.raises(StateError, match="does not match the lock held by"):
            store.unlock("not-the-id")
        assert store.current_lock() == info
        store.unlock(info.id)
        assert store.current_lock() is None
