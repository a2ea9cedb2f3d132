"""Which state store a configuration names (``state:``), with the command line's override."""

from __future__ import annotations

from pathlib import Path

from reconciler.config.schema import LocalStateConfig, S3StateConfig, StateConfig
from reconciler.state.local import LocalStateStore
from reconciler.state.store import StateStore

DEFAULT_PATH = LocalStateConfig().path


def open_store(
    config_dir: Path, settings: StateConfig | None = None, *, override: str | None = None
) -> StateStore:
    """The store ``settings`` describes; ``override`` (``--state FILE``) is always a local file."""
    if override:
        return LocalStateStore(Path(override))
    if isinstance(settings, S3StateConfig):
        from reconciler.state.s3 import S3StateStore  # boto3 only when asked for

        return S3StateStore(
            settings.bucket,
            settings.key,
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            profile=settings.profile,
        )
    path = Path(settings.path if settings is not None else DEFAULT_PATH)
    return LocalStateStore(path if path.is_absolute() else config_dir / path)
