"""The conformance suite every state store passes (the local file and S3)."""

from __future__ import annotations

import abc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.errors import StateError, StateLockedError
from reconciler.state.lockwait import LockWait, acquire
from reconciler.state.model import ExportSeen, ListState, State
from reconciler.state.store import StateStore


def _die_holding_the_lock(factory: Callable[[], StateStore]) -> None:
    factory().lock("apply")
    os._exit(0)  # no cleanup: as if killed


def _list(vendor_list_id: str) -> ListState:
    return ListState(provider="og", vendor="ongage", vendor_list_id=vendor_list_id)


def _hold_lock(factory: Callable[[], StateStore], ready: object, release: object) -> None:
    store = factory()
    info = store.lock("apply")
    ready.set()  # type: ignore[attr-defined]
    release.wait(30)  # type: ignore[attr-defined]
    store.unlock(info.id)


class StateStoreConformance(abc.ABC):
    @abc.abstractmethod
    def make_store(self, tmp_path: Path) -> StateStore: ...

    @abc.abstractmethod
    def store_factory(self, tmp_path: Path) -> Callable[[], StateStore]:
        """A picklable callable (a ``functools.partial``) that builds the same store in another
        process."""

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

    def test_a_lock_timeout_waits_for_the_holder_to_release(self, tmp_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        ready, release = context.Event(), context.Event()
        holder = context.Process(
            target=_hold_lock, args=(self.store_factory(tmp_path), ready, release)
        )
        holder.start()
        try:
            assert ready.wait(30)
            told: list[str] = []
            threading.Timer(1.0, release.set).start()
            started = time.monotonic()
            info = acquire(
                self.make_store(tmp_path), "apply", wait=LockWait(30.0, notify=told.append)
            )
            assert 0.9 < time.monotonic() - started < 15
        finally:
            release.set()
            holder.join(30)
        store = self.make_store(tmp_path)
        assert store.current_lock() == info and info.pid == os.getpid()
        assert len(told) == 1
        assert told[0].startswith(
            f"Waiting up to 30s for the lock: the state at {store.location} is locked by "
        )
        assert f"(pid {holder.pid}) for 'apply'" in told[0]
        store.unlock(info.id)

    def test_a_lock_held_past_the_timeout_names_the_holder_and_the_wait(
        self, tmp_path: Path
    ) -> None:
        held = self.make_store(tmp_path).lock("apply")
        store = self.make_store(tmp_path)
        started = time.monotonic()
        with pytest.raises(StateLockedError) as exc:
            acquire(store, "refresh", wait=LockWait(0.5))
        assert time.monotonic() - started >= 0.5
        assert str(exc.value) == (
            f"waited 500ms (--lock-timeout) for the lock: the state at {store.location} is "
            f"locked by {held.describe()}; if that run is gone, run "
            f"`reconciler state unlock {held.id}`"
        )
        assert store.current_lock() == held  # the holder's lock is untouched
        store.unlock(held.id)

    def test_unlock_needs_the_holders_id(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        info = store.lock("apply")
        with pytest.raises(StateError, match="does not match the lock held by"):
            store.unlock("not-the-id")
        assert store.current_lock() == info
        store.unlock(info.id)
        assert store.current_lock() is None

    def test_unlock_of_an_unlocked_state_says_so(self, tmp_path: Path) -> None:
        with pytest.raises(StateError, match=r"is not locked$"):
            self.make_store(tmp_path).unlock("any")

    def test_stale_lock_of_a_killed_run_is_cleared_by_its_id_only(self, tmp_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        dead = context.Process(target=_die_holding_the_lock, args=(self.store_factory(tmp_path),))
        dead.start()
        dead.join(30)
        assert dead.exitcode == 0
        store = self.make_store(tmp_path)
        stale = store.current_lock()
        assert stale is not None and stale.pid == dead.pid
        with pytest.raises(StateLockedError, match=f"run `reconciler state unlock {stale.id}`"):
            store.lock("apply")
        with pytest.raises(StateError, match="nothing was unlocked"):
            store.unlock("0c5e-not-it")
        assert store.current_lock() == stale
        store.unlock(stale.id)
        assert store.current_lock() is None
        store.unlock(store.lock("apply").id)

    def test_a_write_between_read_and_write_is_a_conflict_not_an_overwrite(
        self, tmp_path: Path
    ) -> None:
        mine, theirs = self.make_store(tmp_path), self.make_store(tmp_path)
        state = mine.write(State())
        write_raw = mine._write_raw

        def racing(new: State) -> None:
            other = theirs.read()
            assert other is not None
            other.lists["theirs"] = _list("2")
            theirs.write(other)
            write_raw(new)

        mine._write_raw = racing  # type: ignore[method-assign]
        state.lists["mine"] = _list("1")
        with pytest.raises(StateError) as exc:
            mine.write(state)
        assert str(exc.value).startswith(
            f"the state at {mine.location} changed after this run read it: another process "
            "wrote it meanwhile (conditional write conflict). Nothing was overwritten;"
        )
        stored = self.make_store(tmp_path).read()
        assert stored is not None
        assert (sorted(stored.lists), stored.serial) == (["theirs"], 2)

    def test_two_first_writes_conflict_too(self, tmp_path: Path) -> None:
        mine, theirs = self.make_store(tmp_path), self.make_store(tmp_path)
        write_raw = mine._write_raw
        first = State()

        def racing(new: State) -> None:
            theirs.write(first)
            write_raw(new)

        mine._write_raw = racing  # type: ignore[method-assign]
        with pytest.raises(StateError, match="conditional write conflict"):
            mine.write(State())
        stored = self.make_store(tmp_path).read()
        assert stored is not None and (stored.lineage, stored.serial) == (first.lineage, 1)

    def test_a_newer_serial_is_kept_as_given(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        state = store.write(State())
        state.serial = 7
        state.lists["a"] = _list("1")
        assert store.write(state).serial == 7
        assert store.read().serial == 7  # type: ignore[union-attr]

    def test_an_interrupt_under_the_lock_pushes_the_state_and_releases(
        self, tmp_path: Path
    ) -> None:
        store = self.make_store(tmp_path)
        with pytest.raises(KeyboardInterrupt), store.locked("apply"):
            state = store.write(State())
            state.lists["news"] = _list("1")  # changed in memory only ...
            raise KeyboardInterrupt  # ... when the interrupt comes
        stored = self.make_store(tmp_path).read()
        assert stored is not None
        assert (list(stored.lists), stored.serial) == (["news"], 2)
        assert store.current_lock() is None
