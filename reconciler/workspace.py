"""Where reconciler keeps its own files beside the configuration: ``.reconciler/`` (the local
state by default, batch files, failures files, each command's scratch). One place names it."""

from __future__ import annotations

from pathlib import Path

HOME = ".reconciler"


def home(base: Path) -> Path:
    """``.reconciler/`` of the configuration directory ``base``."""
    return base / HOME


def work_dir(base: Path) -> Path:
    """Scratch: each command's own directory under it, removed when it ends."""
    return home(base) / "work"


def failures_dir(base: Path) -> Path:
    """The rows each vendor refused, one file per job (``specs/state.md``)."""
    return home(base) / "failures"


def batches_dir(base: Path, run_id: str) -> Path:
    """The batch files of one apply run."""
    return home(base) / "batches" / run_id
