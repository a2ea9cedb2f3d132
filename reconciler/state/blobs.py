"""Files that belong to the state but are not the state file: the applied membership
(``reconciler/state/applied.py``), kept beside the state in the same backend.

A local state ``DIR/state.json`` keeps them under ``DIR/state.json.applied/``; an S3 state
``s3://BUCKET/KEY`` under ``KEY.applied/``. Every name is written whole (a temporary file
renamed into place, or one S3 put) and never changed afterwards except by deletion: what the
state points at is immutable, so the state file stays the one commit point."""

from __future__ import annotations

import abc
import contextlib
import os
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.private import open_private, private_dir
from reconciler.state.store import StateStore


class Blobs(abc.ABC):
    location: str

    @abc.abstractmethod
    def put(self, name: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def get(self, name: str) -> bytes | None: ...

    @abc.abstractmethod
    def names(self, prefix: str) -> list[str]:
        """The names under ``prefix``, sorted."""

    @abc.abstractmethod
    def delete(self, name: str) -> None: ...

    def local_path(self, name: str) -> Path | None:
        """Where ``name`` can be read in place, if it is a local file (else None: copy it)."""
        return None


class LocalBlobs(Blobs):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        private_dir(path.parent)  # addresses and field values: readable by their owner only
        temporary = path.with_name(path.name + ".tmp")
        try:
            with open_private(temporary, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            raise StateError(f"cannot write {path}: {exc.strerror}") from exc

    def local_path(self, name: str) -> Path | None:
        path = self.root / name
        return path if path.is_file() else None

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.root / name}: {exc.strerror}") from exc

    def names(self, prefix: str) -> list[str]:
        directory = self.root / prefix
        if not directory.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in directory.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )

    def delete(self, name: str) -> None:
        path = self.root / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # Empty directories left by it (a list's journal directory), up to the root.
        for directory in path.parents:
            if directory == self.root or self.root not in directory.parents:
                break
            with contextlib.suppress(OSError):  # not empty
                directory.rmdir()


class S3Blobs(Blobs):
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.location = f"s3://{bucket}/{prefix}"

    def put(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + name, Body=data)
        except Exception as exc:  # botocore's errors, without importing botocore here
            raise StateError(f"cannot write {self.location}{name}: {exc}") from exc

    def get(self, name: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StateError(f"cannot read {self.location}{name}: {exc}") from exc
        body: bytes = response["Body"].read()
        return body

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        for page in pages:
            found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(found)

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)


def blobs_for(store: StateStore) -> Blobs:
    """The blob store beside ``store``'s state, in the same backend."""
    from reconciler.state.local import LocalStateStore

    if isinstance(store, LocalStateStore):
        return LocalBlobs(store.path.with_name(store.path.name + ".applied"))
    from reconciler.state.s3 import S3StateStore

    if isinstance(store, S3StateStore):
        return S3Blobs(store.client, store.bucket, f"{store.key}.applied/")
    raise TypeError(f"no blob store beside {type(store).__name__}")
