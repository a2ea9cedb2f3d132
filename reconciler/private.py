"""Files and directories that hold personal data (batch files, the state, failures, vendor
exports), created readable by their owner only.

Created with the mode from the start (``os.open`` with 0600, ``mkdir`` with 0700), never
``chmod``-ed afterwards: a file that was 0644 for an instant could have been opened by anyone
in that instant. The process umask can only take permissions away, so these stay private
whatever it is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` and every missing parent, each created 0700 (an existing one is left as is: it
    may be the user's repository)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            directory.mkdir(mode=DIR_MODE)
    return path


def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing, the file created 0600 (or truncated if it exists).
    ``mode`` is one of "w", "wb", "x", "xb"."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_EXCL if mode.startswith("x") else os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    try:
        return os.fdopen(fd, mode.replace("x", "w"), **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    with open_private(path, "wb") as fh:
        fh.write(data)


__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "write_private"]
