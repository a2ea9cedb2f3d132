"""The interface every vendor provider implements, and the data it exchanges with apply.

A provider says what it can do (``capabilities``), reads a list's current membership,
submits one batch file for one action, polls a job, and looks up a job it may have submitted
(a crash, or an answer that never came: ``find_submitted``, a :class:`Lookup`). It never
decides *what* to change (that is the plan) nor *when* (that is apply): it only speaks its
vendor's API.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from reconciler.config.schema import ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.exports.files import ExportLayout
from reconciler.exports.snapshot import CurrentSnapshot
from reconciler.model import Action
from reconciler.providers.http import RetryPolicy


class JobState(StrEnum):
    PENDING = "pending"  # accepted by the vendor, not finished
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class BatchFormat:
    """How a vendor wants a batch file: CSV dialect and columns (``email`` plus fields)."""

    delimiter: str = ","
    header: bool = True
    email_column: str = "email"
    # managed field name -> column name in the file
    field_columns: Mapping[str, str] = field(default_factory=dict)
    lowercase: bool = True
    max_rows: int = 100_000
    # vendors that pull a file by URL need it staged; others upload it in the request
    needs_url: bool = False


@dataclass(frozen=True)
class Batch:
    """One file of rows for one list and one action, as written to disk."""

    list_name: str
    vendor_list_id: str
    action: Action
    index: int  # 1-based within (list, action)
    path: Path
    rows: int
    sha256: str
    url: str | None = None  # where the vendor fetches it (staged), when it pulls by URL

    @property
    def key(self) -> str:
        """Stable identity of the batch across runs: the ledger is keyed by it."""
        return f"{self.list_name}/{self.action.value}/{self.index:04d}/{self.sha256[:16]}"


@dataclass(frozen=True)
class JobRef:
    """What identifies a submitted job at the vendor (Ongage import ID, Yesmail ticket, ...;
    for listmonk, which has no job ID, the run identity: file name and start time)."""

    vendor_job_id: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    vendor_status: str  # the vendor's own word or code, e.g. "40002" or "processing"
    counts: Mapping[str, int] = field(default_factory=dict)
    message: str = ""
    failures: Sequence[Mapping[str, Any]] = ()  # per-row failures (row index, address, error)
    #: The status in the vendor's words where its status is a code (Ongage's ``status_desc``
    #: "Processing" for 40002); progress output shows these, the ledger keeps the code.
    words: str = ""
    #: How much of the job the vendor reports done, 0 to 1, from its own counters.
    done: float | None = None


class Seen(StrEnum):
    """What a vendor's own records say of a batch that may have become a job there."""

    FOUND = "found"  # a job of this batch exists: it is adopted
    ABSENT = "absent"  # the records hold no job of it (now: a later look may find one)
    CANNOT_TELL = "cannot tell"  # the vendor documents no records to ask


@dataclass(frozen=True)
class Lookup:
    """The answer of ``Provider.find_submitted``. ``basis`` says, in words for the ledger and
    apply's output, what was asked ("ongage's import listing of list 1001") or why nothing
    could be ("yesmail documents no listing of its tickets"): a message never claims a lookup
    that did not happen."""

    seen: Seen
    basis: str
    job: JobRef | None = None

    @classmethod
    def found(cls, job: JobRef, basis: str) -> Lookup:
        return cls(Seen.FOUND, basis, job)

    @classmethod
    def absent(cls, basis: str) -> Lookup:
        return cls(Seen.ABSENT, basis)

    @classmethod
    def cannot_tell(cls, basis: str) -> Lookup:
        return cls(Seen.CANNOT_TELL, basis)


#: How long a vendor may take to commit a job after it took the request (seconds): an
#: ambiguous submission is proven absent only by a lookup after that (the option
#: ``settle_seconds``; ``reconciler/apply/settle.py``).
DEFAULT_SETTLE_SECONDS = 120.0


class SubmissionRefused(ProviderError):
    """The vendor refused to create a job for now (a rate limit, or a limit on the jobs it runs
    at once) and certainly created none, so the batch may be sent again: apply does so once one
    of its own jobs of the list has ended, and with none running leaves the batch unsent."""


#: The choices of the provider option ``resend_unknown`` (``reconciler/apply/settle.py``).
RESEND_UNKNOWN = ("ask", "if_harmless")


class Provider(abc.ABC):
    """Base of a vendor provider. A subclass describes its vendor in the class attributes below
    (the registry, the config schema and the capability matrix read them) and speaks its API."""

    #: The ``type:`` name in the configuration, e.g. ``ongage``.
    vendor: ClassVar[str]
    #: The vendor's public API root, used when a provider gives no ``base_url``.
    default_base_url: ClassVar[str]
    #: Actions the vendor's documented API can perform.
    capabilities: ClassVar[frozenset[Action]] = frozenset()
    #: The vendor's words for a contact's status (in exports and listings) → reconciler's
    #: (``active``, ``unsubscribed``, ``bounced``, ``complaint``), commonest first: the SQL
    #: that maps them tries them in this order. reconciler's own words map to themselves.
    status_words: ClassVar[Mapping[str, str]] = {}
    #: The ``export: format:`` names this vendor's export files are read under, and their layout.
    export_formats: ClassVar[Mapping[str, ExportLayout]] = {}
    #: Whether the documented API can read a list's current membership.
    can_read_current: bool = False
    #: Whether the vendor fetches each batch file by URL (apply stages it first, so the
    #: provider needs ``staging:``; see ``runtime.staging_problems``).
    fetches_by_url: bool = False
    #: Seconds before the first status read of a job (apply backs off from there); the
    #: ``poll_interval_seconds`` option overrides it.
    poll_interval: float = 2.0

    def __init__(
        self, name: str, config: ProviderConfig, *, base_url: str | None = None, workdir: Path
    ) -> None:
        self.name = name
        self.config = config
        self.base_url = (base_url or config.base_url or self.default_base_url).rstrip("/")
        self.workdir = workdir
        self.poll_interval = self.seconds_option("poll_interval_seconds", self.poll_interval)
        # How long one vendor request may take to answer (connecting takes at most 10 s).
        timeout = self.seconds_option("timeout_seconds", RetryPolicy.read_timeout)
        # How long after an ambiguous submission the vendor's records must still lack the job
        # before the batch counts as never received.
        self.settle_seconds = self.seconds_option("settle_seconds", DEFAULT_SETTLE_SECONDS)
        # What to do with a batch whose fate the vendor cannot tell once the window has passed:
        # ask the user (`reconciler state resolve`), or send it again where the provider
        # declares a second send harmless (resend_is_harmless). Asking is the default: only
        # the vendor's own records may prove a job absent.
        resend = self.config.options.get("resend_unknown", "ask")
        if resend not in RESEND_UNKNOWN:
            raise ProviderError(
                f"option resend_unknown must be one of {', '.join(RESEND_UNKNOWN)}, got {resend!r}",
                vendor=self.vendor,
            )
        self.resend_unknown = str(resend)
        self.http_policy = RetryPolicy(
            read_timeout=timeout, connect_timeout=min(timeout, RetryPolicy.connect_timeout)
        )

    def seconds_option(self, name: str, default: float) -> float:
        """A duration option (seconds, more than 0 and at most an hour), validated."""
        value = self.config.options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
            raise ProviderError(
                f"option {name} must be a number of seconds from 0 to 3600, got {value!r}",
                vendor=self.vendor,
            )
        return float(value)

    def int_option(self, name: str, default: int, *, low: int, high: int) -> int:
        """A whole-number vendor option, validated with a message naming it."""
        value = self.config.options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ProviderError(
                f"option {name} must be a whole number from {low} to {high}, got {value!r}",
                vendor=self.vendor,
            )
        return value

    # -- what it can do ------------------------------------------------------------------------
    def cannot(self, action: Action) -> str | None:
        """Why ``action`` is impossible through the documented API, or None if it is possible."""
        if action in self.capabilities:
            return None
        return f"{self.vendor}'s documented API cannot {action.value}"

    @abc.abstractmethod
    def batch_format(self, list_config: ListConfig, action: Action) -> BatchFormat: ...

    # -- reading -------------------------------------------------------------------------------
    def check_list(self, list_name: str, list_config: ListConfig) -> None:
        """At plan time, before the plan is shown: raise a ProviderError for what would stop
        this list's apply at this vendor (e.g. a managed field the list has no column for).
        Reads only; the default has nothing to check."""
        return None

    def read_current(self, list_name: str, list_config: ListConfig) -> CurrentSnapshot:
        raise NotImplementedError(f"{self.vendor} cannot read current membership")

    # -- writing -------------------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, list_config: ListConfig, batch: Batch) -> JobRef:
        """Send one batch. Return as soon as the vendor has accepted it (do not wait)."""

    @abc.abstractmethod
    def poll(self, list_config: ListConfig, job: JobRef) -> JobStatus:
        """One status read of a submitted job."""

    def find_submitted(self, list_config: ListConfig, batch: Batch) -> Lookup:
        """A batch whose submission may have reached the vendor (a crash between sending it and
        recording its job ID, or an ambiguous answer): the job the vendor's records hold for it
        (e.g. its import listing), their proof that none exists yet, or that there are no such
        records. Apply asks again until the settle window has passed before it trusts an
        absence (``reconciler/apply/settle.py``)."""
        return Lookup.cannot_tell(f"{self.vendor} documents no listing of its jobs")

    def resend_is_harmless(self, action: Action) -> str | None:
        """Why sending one batch of ``action`` twice leaves the vendor as sending it once does
        (an upsert, setting a membership), in words for the ledger; None when it may not (a
        bounce counted twice). Asked only when ``find_submitted`` cannot tell: the batch is
        then sent again after the settle window when the provider option ``resend_unknown`` is
        ``if_harmless``; otherwise (the default ``ask``), and always with None, left for the
        user to settle (``reconciler state resolve``). The default: None."""
        return None

    def imports_in_flight(self) -> int:
        """How many of one list's batches (of one action) apply may keep submitted and not yet
        ended at once. One: each batch waits for the one before it. A vendor that runs several
        of a list's jobs at a time overrides it (Ongage: the option max_imports_in_flight)."""
        return 1

    def close(self) -> None:
        return None
