"""Batch files written where the user's own web server publishes them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from reconciler.staging.base import Stager, StagingError, unguessable_name

STAGED_FILE_MODE = 0o640


class DirectoryStager(Stager):
    def __init__(self, directory: Path, base_url: str) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")

    def publish(self, path: Path) -> str:
        name = unguessable_name(path)
        self._write(path, name)
        return f"{self.base_url}/{name}"

    def serve_again(self, url: str, path: Path) -> bool:
        """The staged copy normally outlives the run; written again under its own name if it
        went missing from the web directory while its job is in flight."""
        prefix = f"{self.base_url}/"
        name = url[len(prefix) :] if url.startswith(prefix) else ""
        if name and "/" not in name and not (self.directory / name).exists() and path.exists():
            self._write(path, name)
        return True

    def _write(self, path: Path, name: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / name
            tmp = self.directory / f".{name}.part"
            # Group-readable, not world-readable: the user's web server must read the file
            # (it runs in the owner's group, or the directory grants it by a default ACL).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STAGED_FILE_MODE)
            with path.open("rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            # Appear complete or not at all: a vendor must never fetch half a file.
            os.replace(tmp, target)
        except OSError as exc:
            raise StagingError(f"cannot write batch file into {self.directory}: {exc}") from exc

    def retire(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        (self.directory / name).unlink(missing_ok=True)
