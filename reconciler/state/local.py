"""The state as a local JSON file, written atomically, with a backup and a lock file."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

from pydantic import ValidationError

from reconciler.errors import StateError, StateLockedError
from reconciler.faultpoints import crash_point
from reconciler.private import open_private, private_dir
from reconciler.state.model import State, parse_state, state_json
from reconciler.state.store import (
    BOTH_UNREADABLE,
    LockInfo,
    StateStore,
    UnreadableState,
    conflict_error,
)


class LocalStateStore(StateStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self.backup = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        # What ``read`` saw (a digest, or None for no file): a write checks it is still there.
        self._seen: str | None = None
        self._was_read = False

    def read(self) -> State | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._seen, self._was_read = None, True
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror}") from exc
        self._seen, self._was_read = _digest(raw), True
        text = raw.decode("utf-8", errors="replace")  # undecodable bytes: reported as bad JSON
        try:
            return parse_state(text, str(self.path))
        except StateError as exc:
            raise UnreadableState(f"{exc}.{self._backup_hint()} Nothing was overwritten.") from exc

    def _backup_hint(self) -> str:
        """What to do with the backup when the state is unreadable: copy it back if it reads,
        never when it is unreadable too."""
        try:
            raw = self.backup.read_bytes()
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return f" Its previous version cannot be read either: {self.backup}: {exc.strerror}."
        try:
            parse_state(raw.decode("utf-8", errors="replace"), str(self.backup))
        except StateError as exc:
            return f" Its previous version is no better: {exc}.{BOTH_UNREADABLE}"
        return (
            f" The previous version is in {self.backup}: inspect it and copy it over "
            f"{self.path.name} if it is good."
        )

    def _write_raw(self, state: State) -> None:
        try:
            self._write_file(state_json(state))
        except OSError as exc:
            fix = (
                f"Make {self.path.parent} writable, then run the command again"
                if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                else "Run the command again once it can be written"
            )
            raise StateError(
                f"cannot write the state at {self.path}: {exc.strerror or exc}; the state there "
                "is as it was at its last write (the next apply or poll settles the jobs it "
                f"shows in flight). {fix}"
            ) from exc

    def _write_file(self, data: str) -> None:
        private_dir(self.path.parent)  # the ledger names lists, jobs and failed addresses
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open_private(tmp, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        crash_point("state-write-temp")
        if self._was_read and self._current_digest() != self._seen:
            # Not atomic like S3's conditional write: the lock is what serialises local writers.
            tmp.unlink(missing_ok=True)
            raise conflict_error(str(self.path))
        if self.path.exists():
            with self.path.open("rb") as src, open_private(self.backup) as dst:
                shutil.copyfileobj(src, dst)
        os.replace(tmp, self.path)
        crash_point("state-write-renamed")
        _fsync_dir(self.path.parent)
        self._seen = _digest(data.encode("utf-8"))

    def _current_digest(self) -> str | None:
        try:
            return _digest(self.path.read_bytes())
        except FileNotFoundError:
            return None

    # -- locking ------------------------------------------------------------------------------
    def lock(self, operation: str) -> LockInfo:
        info = LockInfo(operation=operation)
        try:
            private_dir(self.lock_path.parent)
            fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            holder = self.current_lock()
            who = holder.describe() if holder else "an unreadable lock file"
            raise StateLockedError(
                f"the state at {self.path} is locked by {who}; if that run is gone, run "
                f"`reconciler state unlock {holder.id if holder else '<LOCK_ID>'}`"
            ) from None
        except OSError as exc:
            raise StateError(
                f"cannot lock the state at {self.path}: {exc.strerror or exc}; nothing was "
                f"planned or sent. Make {self.lock_path.parent} writable, then run the command "
                "again"
            ) from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(info.model_dump_json(indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return info

    def current_lock(self) -> LockInfo | None:
        try:
            return LockInfo.model_validate(json.loads(self.lock_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, ValidationError, OSError):
            return None

    def unlock(self, lock_id: str) -> None:
        holder = self.current_lock()
        if holder is None and not self.lock_path.exists():
            raise StateError(f"the state at {self.path} is not locked")
        if holder is not None and holder.id != lock_id:
            raise StateError(
                f"lock ID {lock_id} does not match the lock held by {holder.describe()}; "
                "nothing was unlocked"
            )
        try:
            self.lock_path.unlink(missing_ok=True)
        except OSError as exc:
            raise StateError(f"cannot remove {self.lock_path}: {exc.strerror or exc}") from exc


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
