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
from reconciler.errors import StateError
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
        """Persist ``state``; returns it with its serial as stored."""
        stored = self.read()
        if stored is not None and not force:
            if stored.lineage != state.lineage:
                raise StateError(
                    f"refusing to write state of lineage {state.lineage} over {self.location}, "
                    f"which has lineage {stored.lineage}: they are different states"
                )
            if state.serial < stored.serial:
                raise StateError(
                    f"refusing to write serial {state.serial} over serial {stored.serial} at "
                    f"{self.location}: someone else wrote the state meanwhile"
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
        is pushed again before the lock is released."""
        info = self.lock(operation)
        try:
            yield info
        except KeyboardInterrupt:
            if self._last_written is not None:
                self.write(self._last_written)
            raise
        finally:
            self.unlock(info.id)
