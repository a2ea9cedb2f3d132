"""The staging interface and the factory that picks a backend from the configuration."""

from __future__ import annotations

import abc
import secrets
from pathlib import Path
from types import TracebackType

from reconciler.config.schema import StagingConfig
from reconciler.errors import ReconcilerError


class StagingError(ReconcilerError):
    """A batch file could not be published or retired."""


class PortTaken(StagingError):
    """The fixed port of ``staging: http`` is held by another program."""


def unguessable_name(path: Path) -> str:
    """A name nobody can guess or enumerate (the vendors' own advice for import files)."""
    return f"{secrets.token_urlsafe(24)}{path.suffix}"


class Stager(abc.ABC):
    """Publishes local files at URLs a vendor can fetch, and retires them afterwards."""

    @abc.abstractmethod
    def publish(self, path: Path) -> str:
        """Make ``path`` fetchable; return its URL."""

    @abc.abstractmethod
    def retire(self, url: str) -> None:
        """The vendor has fetched the file and the job is final: remove it."""

    def serve_again(self, url: str, path: Path) -> bool:
        """A file published at ``url`` by an earlier run whose job is still in flight: make
        sure the vendor can still fetch it there (``path`` is the batch file, kept on disk until
        the job is final). False when this backend cannot serve that URL. A file in S3, a web
        directory or the sandbox's file host outlives the run that published it: nothing to
        do."""
        return True

    def start(self) -> Stager:
        return self

    def stop(self) -> None:
        return None

    def __enter__(self) -> Stager:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def open_stager(config: StagingConfig, *, config_dir: Path) -> Stager:
    if config.backend == "http":
        from reconciler.staging.http import HttpStager

        return HttpStager(config.host, config.port, public_url=config.public_url)
    if config.backend == "directory":
        from reconciler.staging.directory import DirectoryStager

        if not config.path or not config.base_url:
            raise StagingError("staging backend 'directory' needs both 'path' and 'base_url'")
        return DirectoryStager((config_dir / config.path).resolve(), config.base_url)
    from reconciler.staging.s3 import S3Stager

    if not config.bucket:
        raise StagingError("staging backend 's3' needs 'bucket'")
    return S3Stager(
        config.bucket,
        prefix=config.prefix,
        region=config.region,
        endpoint_url=config.endpoint_url,
        expiry_seconds=config.url_expiry_seconds,
    )
