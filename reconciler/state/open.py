"""Which state store a configuration names (``state:``), with the command line's override."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.state.local import LocalStateStore
from reconciler.state.store import StateStore

DEFAULT_PATH = ".reconciler/state.json"


def open_store(
    config_dir: Path, settings: Mapping[str, Any], *, override: str | None = None
) -> StateStore:
    if override:
        return LocalStateStore(Path(override))
    backend = settings.get("backend", "local")
    if backend != "local":
        raise StateError(f"unknown state backend {backend!r} (available: local)")
    return LocalStateStore(config_dir / str(settings.get("path", DEFAULT_PATH)))
