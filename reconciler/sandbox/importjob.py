"""The import-job skeleton the Yesmail and Omnigage emulators share.

Both vendors take a file, answer with a job the client polls, advance the job one lifecycle
step per ``job_step`` of polls (a ``hold`` fault freezes it), and judge the file's rows in one
transaction on the last step. That skeleton is here: the job's poll counters, the lock that
keeps two concurrent polls from applying one import twice, the vendor's delegation to its
store, reading CSV records as a stream, the error of a file that cannot be imported, the seed
error, the building blocks of the sandbox's own address rules, and two store helpers.

What each vendor's document makes its own stays in the vendor's modules: the request payload
and its validation (Yesmail's strict JSON with mappings and thresholds; Omnigage's JSON:API
documents and upload relationship), the job's states and rendering, what a row does (Yesmail
writes a target list's load table; Omnigage creates and updates contacts), the seed's shape,
and the answers' wording.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from reconciler.sandbox.core import Sandbox, Vendor
from reconciler.sandbox.store import Database

__all__ = [
    "FINAL_STATES",
    "LABEL",
    "LOCAL_CHARACTERS",
    "MAX_ADDRESS",
    "FileError",
    "ImportJobVendor",
    "Job",
    "SeedError",
    "address_rule",
    "csv_records",
    "execute",
    "plain",
]

#: A job in one of these states advances no more.
FINAL_STATES = frozenset({"completed", "failed"})


class FileError(Exception):
    """The file cannot be imported at all (it is not text, has no header row, cannot be
    parsed): the vendor refuses the import or fails the job, with this message."""


class SeedError(ValueError):
    """A vendor's part of a seed file is malformed."""


# -- addresses ---------------------------------------------------------------------------------
# Neither document states which addresses are valid, so each vendor's rule is the sandbox's
# own, invented reading, kept apart from reconciler's rule on purpose: the emulator must judge
# what the product sends, not agree with it by construction. Both are built from the WHATWG
# HTML definition of a valid e-mail address (a public definition any web application may use)
# and RFC 5321's limit of 254 characters on a path; where they differ is the vendor's (written
# in specs/vendors/yesmail.md and omnigage.md).
LOCAL_CHARACTERS = r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]"
LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
MAX_ADDRESS = 254


def address_rule(*, max_local: int | None, dotted_domain: bool) -> Callable[[str], bool]:
    """Whether a text is an address: its local part at most ``max_local`` characters (None: no
    limit), its domain of two or more labels when ``dotted_domain``, else of one or more."""
    local = LOCAL_CHARACTERS + (f"{{1,{max_local}}}" if max_local else "+")
    labels = "+" if dotted_domain else "*"
    match = re.compile(rf"{local}@{LABEL}(?:\.{LABEL}){labels}").fullmatch

    def is_address(text: str) -> bool:
        return len(text) <= MAX_ADDRESS and match(text) is not None

    return is_address


# -- files -------------------------------------------------------------------------------------
def csv_records(text: str, separator: str = ",") -> Iterator[list[str]]:
    """The CSV records of ``text`` in file order, read as a stream (a million-row import must
    not hold every row twice); blank lines are not records."""
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            if row:
                yield row
    except csv.Error as exc:
        raise FileError(f"File cannot be parsed: {exc}.") from None


# -- jobs --------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class Job:
    """What every import job counts: status reads (``polls``), lifecycle steps taken, and
    whether a ``fail_job`` fault was taken when it was created."""

    polls: int = 0
    steps: int = 0
    fail_job: bool = False


J = TypeVar("J", bound=Job)
J_contra = TypeVar("J_contra", bound=Job, contravariant=True)


class JobStore(Protocol[J_contra]):
    def init_schema(self) -> None: ...

    def dump(self) -> dict[str, Any]: ...

    def seed(self, data: Any) -> None: ...

    def save_job(self, job: J_contra, conn: sqlite3.Connection | None = None) -> None: ...


class ImportJobVendor(Vendor, Generic[J]):
    """A vendor whose imports are jobs. Subclasses set ``store`` before calling
    ``__init__`` and implement ``routes``, ``find_job``, ``state_of`` and ``advance``."""

    store: JobStore[J]

    def __init__(self, sandbox: Sandbox) -> None:
        # Serialises job transitions, so that two concurrent polls cannot apply one import
        # twice. Not the database lock: a step may fetch a file from this very sandbox.
        self._advancing = threading.Lock()
        # Fresh Rules per instance: a werkzeug Rule binds to the first Map it joins, so rules
        # shared through the class would break a second Sandbox in the same process.
        self.rules = self.routes()
        super().__init__(sandbox)

    def routes(self) -> tuple[Rule, ...]:
        raise NotImplementedError

    def find_job(self, job_id: str) -> J | None:
        raise NotImplementedError

    def state_of(self, job: J) -> str:
        raise NotImplementedError

    def advance(self, job: J) -> None:
        """Take the job one lifecycle step further."""
        raise NotImplementedError

    def init_schema(self) -> None:
        self.store.init_schema()

    def dump(self) -> dict[str, Any]:
        return self.store.dump()

    def seed(self, data: Any) -> None:
        self.store.seed(data)

    def poll(self, request: Request, job_id: str) -> J | None:
        """The job a status read names (None if there is none), advanced as far as its polls
        take it: one more poll, unless a ``hold`` fault holds it."""
        with self._advancing:
            job = self.find_job(job_id)
            if job is None:
                return None
            if not self.held(request):
                job.polls += 1
                target = self.job_step(job.polls)
                while job.steps < target and self.state_of(job) not in FINAL_STATES:
                    self.advance(job)
                    job.steps += 1
                self.store.save_job(job)
        return job

    def base(self, request: Request) -> str:
        """The sandbox's URL, as the links in answers name it."""
        return self.sandbox.base_url or request.host_url.rstrip("/")


# -- the store ---------------------------------------------------------------------------------
def plain(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor yielding plain tuples: ``sqlite3.Row`` costs seconds over a million rows."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor


def execute(
    db: Database, conn: sqlite3.Connection | None, sql: str, params: tuple[Any, ...]
) -> None:
    """``sql`` in the caller's transaction when it is in one (``conn``), else on its own."""
    if conn is None:
        db.execute(sql, params)
    else:
        conn.execute(sql, params)
