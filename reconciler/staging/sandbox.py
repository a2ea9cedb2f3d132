"""Staging on the embedded sandbox's own file host, for providers with ``base_url: sandbox``.

The sandbox keeps staged files in its store, so a job accepted before a crash still finds its
file after the restart (an embedded sandbox listens on a new port on every run)."""

from __future__ import annotations

from pathlib import Path

import httpx

from reconciler.staging.base import Stager, StagingError, unguessable_name


class SandboxStager(Stager):
    def __init__(self, sandbox_url: str) -> None:
        self.sandbox_url = sandbox_url.rstrip("/")
        # One client for the run: a new one per file costs a TLS context and a connection.
        self._client = httpx.Client(timeout=120)

    def stop(self) -> None:
        self._client.close()

    def publish(self, path: Path) -> str:
        name = unguessable_name(path)
        try:
            response = self._client.put(
                f"{self.sandbox_url}/_sandbox/files/{name}", content=path.read_bytes()
            )
            response.raise_for_status()
        except (httpx.HTTPError, OSError) as exc:
            raise StagingError(f"cannot stage {path.name} on the sandbox: {exc}") from None
        url: str = response.json()["url"]
        return url

    def retire(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        try:
            self._client.delete(f"{self.sandbox_url}/_sandbox/files/{name}", timeout=30)
        except httpx.HTTPError as exc:
            raise StagingError(f"cannot remove a staged batch from the sandbox: {exc}") from None
