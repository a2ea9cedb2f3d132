"""Storage and locking of the state, behind one small interface."""

from __future__ import annotations

import abc
import getpass
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from pydantic import BaseModel, Field

from reconciler import __version__
from reconciler.errors import ReconcilerError, StateError
from reconciler.state.lockwait import acquire
from reconciler.state.model import State, now


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class LockInfo(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    operation: str
    who: str = Field(default_factory=_user)
    host: str = Field(default_factory=socket.gethostname)
    pid: int = Field(default_factory=os.getpid)
    created: datetime = Field(default_factory=now)
    version: str = __version__

    def describe(self) -> str:
        return (
            f"{self.who}@{self.host} (pid {self.pid}) for {self.operation!r} since "
            f"{self.created.isoformat()}, lock ID {self.id}"
        )


#: What to do when neither the state nor its previous version can be read.
BOTH_UNREADABLE = (
    " Neither can be used: restore the state from a copy of your own (a backup or snapshot)."
    " Without one, move both aside: the next command starts a new, empty state, which knows of"
    " no job a previous run left in flight, so check the vendors' jobs and lists before you"
    " apply."
)


class UnreadableState(StateError):
    """The stored state is there but cannot be parsed (a ``read`` has seen its version, so a
    conditional write over it stays conditional)."""


class WriteRefused(StateError):
    """A write the rules refuse (``rule``: ``lineage``, another state; ``serial``, an older
    serial than the stored one). ``stored`` is what the store holds: a command that wrote on
    purpose (``state push``, ``state migrate``) says what happened in its own words."""

    def __init__(self, message: str, *, rule: str, stored: State) -> None:
        super().__init__(message)
        self.rule = rule
        self.stored = stored


def conflict_error(location: str) -> StateError:
    """A conditional write found the state changed since it was read."""
    return StateError(
        f"the state at {location} changed after this run read it: another process wrote it "
        "meanwhile (conditional write conflict). Nothing was overwritten; check that no other "
        "run is using this state (a lock cleared by `reconciler state unlock` while its run "
        "was alive?) and look at it with `reconciler state pull`"
    )


class StateStore(abc.ABC):
    """Where the state lives. ``write`` bumps the serial only when the content changed and
    refuses a different lineage or an older serial than the stored one.

    Implementations make ``_write_raw`` conditional on the version ``read`` saw last (and on
    there being none when it found none), raising :func:`conflict_error` otherwise; ``write``
    always reads right before it writes."""

    location: str
    #: The state last handed to ``write``: pushed again if the holder of the lock is interrupted.
    _last_written: State | None = None

    @abc.abstractmethod
    def read(self) -> State | None: ...

    @abc.abstractmethod
    def _write_raw(self, state: State) -> None: ...

    @abc.abstractmethod
    def lock(self, operation: str) -> LockInfo:
        """Take the lock or raise StateLockedError naming the holder."""

    @abc.abstractmethod
    def unlock(self, lock_id: str) -> None:
        """Release the lock; refuses a lock ID that is not the holder's."""

    @abc.abstractmethod
    def current_lock(self) -> LockInfo | None: ...

    def write(self, state: State, *, force: bool = False) -> State:
        """Persist ``state``; returns it with its serial as stored. ``force`` (``state push
        --force``) writes over another lineage, an older serial or an unreadable state."""
        try:
            stored = self.read()
        except UnreadableState:
            if not force:
                raise
            stored = None  # replaced on purpose; the unreadable one becomes the previous version
        if stored is not None and not force:
            if stored.lineage != state.lineage:
                raise WriteRefused(
                    f"refusing to write state of lineage {state.lineage} over {self.location}, "
                    f"which has lineage {stored.lineage}: they are different states",
                    rule="lineage",
                    stored=stored,
                )
            if state.serial < stored.serial:
                # A run's own writes start from what it read under the lock: an older serial
                # means another writer came in between.
                raise WriteRefused(
                    f"refusing to write serial {state.serial} over serial {stored.serial} at "
                    f"{self.location}: someone else wrote the state meanwhile",
                    rule="serial",
                    stored=stored,
                )
            if stored.content_key() == state.content_key():
                self._last_written = stored  # callers go on with the object returned
                return stored  # nothing changed: no new serial, no write
            state.serial = max(state.serial, stored.serial + 1)  # a pushed newer serial stays
        elif stored is not None:  # forced: still never behind what was stored
            state.serial = max(state.serial, stored.serial) + 1
        elif state.serial == 0:
            state.serial = 1
        self._last_written = state
        state.updated_at = now()
        self._write_raw(state)
        return state

    @contextmanager
    def locked(self, operation: str) -> Iterator[LockInfo]:
        """Hold the lock for the block. An interrupt (Ctrl-C, or SIGTERM turned into one by the
        CLI) may have cut a write short or come between two: the state last handed to ``write``
        is pushed again before the lock is released. A lock that cannot be released (the
        state's directory became read-only) is named, with how to clear it, in the error the
        block ended with."""
        info = acquire(self, operation)  # waits as the command's --lock-timeout says
        try:
            try:
                yield info
            except KeyboardInterrupt:
                if self._last_written is not None:
                    self.write(self._last_written)
                raise
        except BaseException as exc:
            self._release(info, exc)
            raise
        self._release(info, None)

    def _release(self, info: LockInfo, pending: BaseException | None) -> None:
        try:
            self.unlock(info.id)
        except StateError as exc:
            left = (
                f"the lock was left behind ({exc}): once it can be removed, run "
                f"`reconciler state unlock {info.id}`"
            )
            if pending is None:
                raise StateError(left[0].upper() + left[1:]) from None
            if isinstance(pending, ReconcilerError):
                both = StateError(f"{pending}; {left}")
                both.exit_code = pending.exit_code
                raise both from pending
            pending.add_note(left)  # a bug's traceback, or an interrupt: kept as it is
