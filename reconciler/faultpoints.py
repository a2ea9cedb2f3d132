"""Crash points: where the reliability tests kill a run from the inside.

Most kill tests observe a run from the outside (a batch file appears, the sandbox logs a
request) and send SIGKILL. A state write is too short to hit that way, so the state store calls
:func:`crash_point` between its steps. With ``RECONCILER_CRASH_AT=NAME`` (or ``NAME:N``: the
N-th time that point is reached, counting from 1) set, the process ends there at once, exactly
as ``kill -9`` would leave it: no cleanup, no flush, exit status 137. Without it, a crash point
does nothing.

Points (``specs/reliability.md``):

- ``state-write-temp``: the new state is in its temporary file (fsynced), not yet renamed
  over the state;
- ``state-write-renamed``: the new state is renamed into place, the directory not yet fsynced.
"""

from __future__ import annotations

import os

ENV = "RECONCILER_CRASH_AT"
KILLED_EXIT = 137  # what a shell reports for SIGKILL

_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == (int(nth) if nth.isdigit() else 1):
        os._exit(KILLED_EXIT)


__all__ = ["ENV", "KILLED_EXIT", "crash_point"]
