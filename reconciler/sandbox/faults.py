"""Faults a test injects into the emulator (``POST /_sandbox/faults``): an error status, a
hang, a dropped connection or a job that fails midway, used up one request at a time; or a
hold, which keeps jobs where they are until it is removed.

None of them is a vendor's documented behaviour: they are what networks and servers do to any
API. Two place the vendor's act apart from its answer, where double submissions hide: ``after``
(the vendor acts on the request, then the fault answers) and ``act_after`` (the vendor takes the
request and acts on it that many seconds later, while the fault answers at once: a job that
appears in the vendor's records only after the client gave up). A delayed act is kept in the
store (:class:`Deferred`) and done by the first request the sandbox serves once it is due, even
by a sandbox started later on the same data (an embedded sandbox lives only as long as one
command, and the vendor goes on committing after the client died)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from reconciler.sandbox.store import Database


@dataclass
class Fault:
    path: str  # prefix of the request path
    kind: str  # status | hang | drop | fail_job | hold
    count: int = 1
    method: str | None = None
    status: int = 503
    retry_after: float | None = None
    seconds: float = 30.0
    vendor: str | None = None
    # The vendor acts on the request (and it is logged with the vendor's status) before the
    # fault answers: a job accepted whose answer never arrives, or arrives as a 502.
    after: bool = False
    # The vendor acts on the request this many seconds after it came, whatever the fault
    # answers meanwhile (status, hang or drop); kept in the store until it is done.
    act_after: float | None = None
    # status: this body (with this content type) instead of the JSON error, e.g. an HTML page
    # or truncated JSON.
    body: str | None = None
    content_type: str = "application/json"


class Faults:
    """Injected faults, kept in the store: an embedded sandbox lives only as long as one
    command, and a test prepares the faults of the next command in its data directory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE IF NOT EXISTS faults ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT, remaining INTEGER)"
        )

    def add(self, fault: Fault) -> None:
        self.db.execute(
            "INSERT INTO faults(spec, remaining) VALUES (?, ?)",
            (json.dumps(asdict(fault)), fault.count),
        )

    def clear(self, kind: str | None = None) -> None:
        """Remove every fault, or only those of ``kind`` (e.g. release the holds)."""
        if kind is None:
            self.db.execute("DELETE FROM faults")
            return
        for row in self.db.query("SELECT id, spec FROM faults"):
            if json.loads(row["spec"])["kind"] == kind:
                self.db.execute("DELETE FROM faults WHERE id = ?", (row["id"],))

    def _take(self, matches: Callable[[Fault], bool]) -> Fault | None:
        """The first fault that ``matches``, with one use of it consumed."""
        if not self.db.query("SELECT 1 FROM faults LIMIT 1"):
            return None  # the common case: no transaction on every request
        with self.db.transaction() as conn:
            # fetchall: a statement still reading would keep the COMMIT from taking effect.
            for row in conn.execute(
                "SELECT id, spec, remaining FROM faults ORDER BY id"
            ).fetchall():
                fault = Fault(**json.loads(row["spec"]))
                if not matches(fault):
                    continue
                if row["remaining"] <= 1:
                    conn.execute("DELETE FROM faults WHERE id = ?", (row["id"],))
                else:
                    conn.execute(
                        "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (row["id"],)
                    )
                return fault
        return None

    def take_request_fault(self, method: str, path: str) -> Fault | None:
        def matches(fault: Fault) -> bool:
            return fault.kind not in JOB_KINDS and _matches(fault, method, path)

        return self._take(matches)

    def holds(self, method: str, path: str) -> bool:
        """True while a ``hold`` fault matches this status read: the job must not advance.

        Never used up, whatever its ``count``: the job stays held, however often and for
        however long it is polled, until the test removes the fault (``clear``)."""
        faults = (Fault(**json.loads(r["spec"])) for r in self.db.query("SELECT spec FROM faults"))
        return any(f.kind == "hold" and _matches(f, method, path) for f in faults)

    def take_job_failure(self, vendor: str) -> bool:
        """True when the next job created at ``vendor`` must fail midway."""
        return self._take(lambda f: f.kind == "fail_job" and f.vendor == vendor) is not None


#: The kinds that act on jobs; the others answer a request in the vendor's place.
JOB_KINDS = frozenset({"fail_job", "hold"})


@dataclass(frozen=True)
class DeferredRequest:
    """A request the vendor took and acts on later (an ``act_after`` fault)."""

    vendor: str
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


class Deferred:
    """Requests whose act is due at a time, kept in the store; each is taken exactly once."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE IF NOT EXISTS deferred ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, due REAL, vendor TEXT, method TEXT, "
            "path TEXT, query TEXT, headers TEXT, body BLOB)"
        )

    def add(self, due: float, request: DeferredRequest) -> None:
        self.db.execute(
            "INSERT INTO deferred(due, vendor, method, path, query, headers, body) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                due,
                request.vendor,
                request.method,
                request.path,
                request.query,
                json.dumps(request.headers),
                request.body,
            ),
        )

    def take_due(self, now: float) -> list[DeferredRequest]:
        """The requests due by ``now``, oldest first, removed from the store: two requests
        served at once never both act on one."""
        if not self.db.query("SELECT 1 FROM deferred WHERE due <= ? LIMIT 1", (now,)):
            return []
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM deferred WHERE due <= ? ORDER BY due, id", (now,)
            ).fetchall()
            conn.execute("DELETE FROM deferred WHERE due <= ?", (now,))
        return [
            DeferredRequest(
                r["vendor"],
                r["method"],
                r["path"],
                r["query"],
                [(k, v) for k, v in json.loads(r["headers"])],
                bytes(r["body"]),
            )
            for r in rows
        ]

    def pending(self) -> int:
        return int(self.db.query("SELECT count(*) AS n FROM deferred")[0]["n"])


def _matches(fault: Fault, method: str, path: str) -> bool:
    return path.startswith(fault.path) and (
        not fault.method or fault.method.upper() == method.upper()
    )
