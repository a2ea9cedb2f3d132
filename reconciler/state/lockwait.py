"""Waiting for the state lock (``--lock-timeout``), as Terraform's ``-lock-timeout``.

The default is not to wait: a held lock is an error at once, naming its holder. With a timeout
the lock is tried again, with backoff, until it is free or the time is up; then the same error
says how long it waited. The command line sets the wait for the whole command
(:func:`lock_wait`), so every command that takes the lock honours it without passing it down.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import StateLockedError

if TYPE_CHECKING:
    from reconciler.state.store import LockInfo, StateStore

#: The first pause between two tries, and the longest: an S3 try is a request or two, and a
#: run that held the lock for minutes need not be noticed within the second.
FIRST_PAUSE = 0.1
LONGEST_PAUSE = 2.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a duration written as Terraform (and Go) write it: ``30s``, ``2m``,
    ``1m30s``, ``500ms``, ``1h``; a bare ``0`` is no wait. Raises ValueError otherwise."""
    text = text.strip()
    if text == "0":
        return 0.0
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 30s, 2m or 1m30s")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """``90`` → ``1m30s``, ``0.5`` → ``500ms``: the duration as the flag takes it."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{rest}s" if rest or not text else "")


@dataclass(frozen=True)
class LockWait:
    timeout: float = 0.0
    #: Told once, when the lock is found held and waiting begins (the CLI: a line on stderr).
    notify: Callable[[str], None] | None = None


_WAIT: ContextVar[LockWait | None] = ContextVar("lock_wait", default=None)  # None: no wait


@contextmanager
def lock_wait(timeout: float, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Wait up to ``timeout`` seconds for the state lock in every ``locked`` of the block."""
    token = _WAIT.set(LockWait(timeout, notify))
    try:
        yield
    finally:
        _WAIT.reset(token)


def acquire(
    store: StateStore,
    operation: str,
    *,
    wait: LockWait | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LockInfo:
    """Take ``store``'s lock, waiting as ``wait`` (else the command's) says."""
    wait = wait or _WAIT.get() or LockWait()
    deadline = clock() + wait.timeout
    pause = FIRST_PAUSE
    told = False
    while True:
        try:
            return store.lock(operation)
        except StateLockedError as exc:
            left = deadline - clock()
            if left <= 0:
                if wait.timeout <= 0:
                    raise
                raise StateLockedError(
                    f"waited {format_duration(wait.timeout)} (--lock-timeout) for the lock: {exc}"
                ) from None
            if not told and wait.notify is not None:
                wait.notify(f"Waiting up to {format_duration(wait.timeout)} for the lock: {exc}")
                told = True
            sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_PAUSE)
