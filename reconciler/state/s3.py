"""The state as an S3 object, locked with a conditional write, with no other service.

- The lock is an object next to the state (``KEY.lock``) created with ``If-None-Match: *``:
  S3 creates it only if it does not exist, so exactly one of two racing runs gets it. It holds
  the lock info; releasing deletes it.
- The state is written with ``If-Match`` on the ETag that was read (``If-None-Match: *`` when
  there was none): a concurrent writer makes the write fail instead of being overwritten. S3
  replaces an object whole, so a reader never sees a partial state.
- The previous version is kept by the bucket's versioning when it is enabled, otherwise as
  ``KEY.backup``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from reconciler.errors import StateError, StateLockedError
from reconciler.state.model import State, parse_state, state_json
from reconciler.state.store import (
    BOTH_UNREADABLE,
    LockInfo,
    StateStore,
    UnreadableState,
    conflict_error,
)

#: What S3 answers when a conditional write's condition does not hold (412), or when another
#: conditional write on the same key is in progress (409).
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3StateStore(StateStore):
    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.lock_key = f"{key}.lock"
        self.backup_key = f"{key}.backup"
        self.location = f"s3://{bucket}/{key}"
        self._settings = (region, endpoint_url, profile)
        self._client = client
        self._versioned: bool | None = None
        # What ``read`` saw: the ETag and bytes of the state, or None when there was none.
        self._etag: str | None = None
        self._body: bytes | None = None

    # -- the client and its errors --------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _make_client(*self._settings)
        return self._client

    def _error(self, action: str, exc: Exception, key: str | None = None) -> StateError:
        where = f"s3://{self.bucket}/{key or self.key}"
        code = _code(exc)
        if type(exc).__name__ == "NoCredentialsError":
            reason = (
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE or the state's `profile`, or run with a role (CI OIDC, instance)"
            )
        elif code == "NoSuchBucket":
            reason = f"the bucket {self.bucket!r} does not exist"
        elif code in ("AccessDenied", "403", "Forbidden"):
            reason = (
                f"access denied: the credentials need s3:GetObject, s3:PutObject and "
                f"s3:DeleteObject on {self.key}, {self.lock_key} and {self.backup_key}"
            )
        else:
            reason = str(exc)
        return StateError(f"cannot {action} {where}: {reason}")

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """An object's bytes and ETag, or None when there is no such object."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), str(response["ETag"])
        except Exception as exc:  # botocore's error tree is wide; sorted by code
            if _code(exc) in _MISSING_CODES:
                return None
            raise self._error("read", exc, key) from exc

    # -- the state ------------------------------------------------------------------------
    def read(self) -> State | None:
        found = self._get(self.key)
        self._body, self._etag = found if found else (None, None)
        if self._body is None:
            return None
        try:
            return parse_state(self._body.decode("utf-8", errors="replace"), self.location)
        except StateError as exc:
            raise UnreadableState(f"{exc}.{self._backup_hint()} Nothing was overwritten.") from exc

    def _backup_hint(self) -> str:
        """Where the previous version is, and whether it reads: never advise pushing a
        backup that is unreadable too."""
        backup = f"s3://{self.bucket}/{self.backup_key}"
        try:
            found = self._get(self.backup_key)
            versioned = self._versioning_enabled()
        except StateError:  # not allowed to look: say where to look
            return (
                f" The previous version is in the bucket's object versions or in {backup}: "
                "inspect it and `reconciler state push --force` it if it is good."
            )
        versions = (
            f" The previous versions are in the bucket's object versions of {self.key}: "
            "inspect them and `reconciler state push --force` one that is good."
        )
        if found is None:
            none = f" There is no previous version: no {backup}, and the bucket keeps no versions."
            return versions if versioned else none
        try:
            parse_state(found[0].decode("utf-8", errors="replace"), backup)
        except StateError as exc:
            return f" Its previous version is no better: {exc}." + (
                versions if versioned else BOTH_UNREADABLE
            )
        return (
            f" The previous version is in {backup}: inspect it and `reconciler state push "
            "--force` it if it is good."
        )

    def _write_raw(self, state: State) -> None:
        body = state_json(state).encode("utf-8")
        self._keep_previous()
        condition = {"IfMatch": self._etag} if self._etag else {"IfNoneMatch": "*"}
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except Exception as exc:
            if _code(exc) not in _CONFLICT_CODES:
                raise self._error("write", exc) from exc
            landed = self._get(self.key)
            if landed is None or landed[0] != body:
                raise conflict_error(self.location) from exc
            # The SDK retried a request whose first attempt had already succeeded.
            response = {"ETag": landed[1]}
        self._body, self._etag = body, str(response["ETag"])

    def _keep_previous(self) -> None:
        if self._body is None or self._versioning_enabled():
            return
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.backup_key,
                Body=self._body,
                ContentType="application/json",
            )
        except Exception as exc:
            raise self._error("keep the previous state in", exc, self.backup_key) from exc

    def _versioning_enabled(self) -> bool:
        if self._versioned is None:
            try:
                status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            except Exception as exc:
                if _code(exc) not in ("AccessDenied", "403"):
                    raise self._error("read the versioning of", exc) from exc
                status = None  # not allowed to ask: keep a backup object to be safe
            self._versioned = status == "Enabled"
        return self._versioned

    # -- locking --------------------------------------------------------------------------
    def lock(self, operation: str) -> LockInfo:
        info = LockInfo(operation=operation)
        body = (info.model_dump_json(indent=2) + "\n").encode("utf-8")
        for _ in range(3):
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.lock_key,
                    Body=body,
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
                return info
            except Exception as exc:
                if _code(exc) not in _CONFLICT_CODES:
                    raise self._error("create the lock", exc, self.lock_key) from exc
            found = self._get(self.lock_key)
            if found is None:
                continue  # released in between: try again
            holder = _lock_info(found[0])
            if holder is not None and holder.id == info.id:
                return info  # the SDK retried a request that had already succeeded
            who = holder.describe() if holder else "an unreadable lock object"
            raise StateLockedError(
                f"the state at {self.location} is locked by {who}; if that run is gone, run "
                f"`reconciler state unlock {holder.id if holder else '<LOCK_ID>'}`"
            )
        raise StateLockedError(
            f"the state at {self.location} is being locked and unlocked by other runs: try again"
        )

    def current_lock(self) -> LockInfo | None:
        found = self._get(self.lock_key)
        return _lock_info(found[0]) if found else None

    def unlock(self, lock_id: str) -> None:
        found = self._get(self.lock_key)
        if found is None:
            raise StateError(f"the state at {self.location} is not locked")
        holder = _lock_info(found[0])
        if holder is not None and holder.id != lock_id:
            raise StateError(
                f"lock ID {lock_id} does not match the lock held by {holder.describe()}; "
                "nothing was unlocked"
            )
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.lock_key)
        except Exception as exc:
            raise self._error("delete the lock", exc, self.lock_key) from exc


def _lock_info(body: bytes) -> LockInfo | None:
    try:
        return LockInfo.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        return None


def _make_client(region: str | None, endpoint_url: str | None, profile: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - depends on the installation
        raise StateError(
            "the s3 state backend needs boto3: pip install 'audience-reconciler[s3]'"
        ) from None
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        return session.client(
            "s3", endpoint_url=endpoint_url, config=Config(retries={"mode": "standard"})
        )
    except BotoCoreError as exc:  # an unknown profile, a malformed endpoint
        raise StateError(f"cannot set up the S3 client for the state: {exc}") from exc


__all__ = ["S3StateStore"]
