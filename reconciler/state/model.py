"""The state as data, and its file format (``specs/state.md``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import StateError
from reconciler.redact import scrub_json

#: 2: ``jobs[].unknown_since`` (version 1 files read as having none; ``specs/state.md``).
#: 3: ``lists.NAME.applied``, the applied membership (version 2 files read as having none).
FORMAT_VERSION = 4

JobStatusName = Literal["submitting", "submitted", "succeeded", "failed", "unknown", "unsent"]
IN_FLIGHT: frozenset[str] = frozenset({"submitting", "submitted", "unknown"})


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportSeen(_Model):
    kind: str
    location: str
    rows: int
    sha256: str
    read_at: datetime | None = None


class AppliedRef(_Model):
    """A list's applied membership file beside the state (``reconciler/state/applied.py``)."""

    file: str  # its name in the state's blob store, e.g. lists/vip-0123456789abcdef.parquet
    sha256: str
    rows: int
    merged_at: datetime
    #: ``email`` (addresses and values) or ``keyed`` (keyed hashes): reconciler/state/membership.py
    form: str = "email"


class ListState(_Model):
    provider: str
    vendor: str
    vendor_list_id: str
    last_export: ExportSeen | None = None
    last_applied_at: datetime | None = None
    applied: AppliedRef | None = None


class JobEntry(_Model):
    """One batch's life at a vendor."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    batch_key: str
    run_id: str
    provider: str
    list: str
    vendor_list_id: str
    action: str
    index: int
    rows: int
    sha256: str
    file: str
    url: str | None = None  # never with a query string (pre-signed URLs carry signatures)
    status: JobStatusName = "submitting"
    vendor_job_id: str | None = None
    job_detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=now)
    submitted_at: datetime | None = None
    # When the submission became ambiguous (``unknown``): the settle window is measured from it.
    unknown_since: datetime | None = None
    finished_at: datetime | None = None
    vendor_status: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    message: str = ""
    failures_file: str | None = None


class RunEntry(_Model):
    run_id: str
    operation: str
    started_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None
    plan_checksum: str = ""
    outcome: str = "running"


class State(_Model):
    format_version: int = FORMAT_VERSION
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    updated_at: datetime | None = None
    lists: dict[str, ListState] = Field(default_factory=dict)
    jobs: list[JobEntry] = Field(default_factory=list)
    runs: list[RunEntry] = Field(default_factory=list)

    def content_key(self) -> str:
        """The content that counts for the serial: everything but serial and updated_at, as
        stored (scrubbed), so a state read back compares equal to the one written."""
        return scrub_json(self.model_dump_json(exclude=_NOT_CONTENT), _content_json)


def state_json(state: State) -> str:
    """The state file's text. Every known secret is masked in it, whichever field it got
    into: the last line of defence of the ledger, which keeps vendors' messages."""
    return scrub_json(state.model_dump_json(indent=2) + "\n", _dump)


def _dump(data: Any) -> str:
    return State.model_validate(data).model_dump_json(indent=2) + "\n"


_NOT_CONTENT = {"serial", "updated_at"}


def _content_json(data: Any) -> str:
    return State.model_validate(data).model_dump_json(exclude=_NOT_CONTENT)


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no ``unknown_since``: an ``unknown`` entry's window is then measured from
    its ``created_at`` (the ledger's ``in_flight``)."""
    return {**data, "format_version": 2}


def _from_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 had no applied membership: its lists are read as having recorded none."""
    return {**data, "format_version": 3}


def _from_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 recorded applied membership only for lists whose vendor cannot be read,
    by address (``form`` email), and its files had no ``added``: all they hold was sent."""
    return {**data, "format_version": 4}


#: Upgrade chain: a function from version N's dict to version N+1's.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _from_v1,
    2: _from_v2,
    3: _from_v3,
}


def parse_state(text: str, where: str) -> State:
    """Read any known format version, upgrading step by step to the current one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateError(
            f"{where} is not valid JSON ({exc}); it may be truncated or corrupted"
        ) from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise StateError(f"{where} is not a reconciler state file (no format_version)")
    version = data["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StateError(
            f"{where} has format_version {version!r}, newer than this "
            f"reconciler reads ({FORMAT_VERSION}): upgrade reconciler"
        )
    while version < FORMAT_VERSION:
        if version not in UPGRADES:
            raise StateError(f"{where}: no upgrade from format_version {version}")
        data = UPGRADES[version](data)
        version = data["format_version"]
    try:
        return State.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise StateError(
            f"{where} does not match the state format: {path}: {first['msg']}"
        ) from exc
