"""What every emulated vendor shares: the request log, the vendor base and the WSGI app (the store
is in ``store.py``, injected faults in ``faults.py``).

Routes owned by the sandbox itself live under ``/_sandbox``:

- ``GET  /_sandbox/state``     every vendor's lists and contacts (sorted, stable JSON)
- ``GET  /_sandbox/requests``  the log of requests received, secrets masked
- ``POST /_sandbox/faults``    inject faults: ``{"path": "/ongage/", "method": "POST",
  "count": 2, "kind": "status", "status": 429, "retry_after": 1}``; kinds: ``status``
  (optionally with a raw ``body`` and ``content_type``), ``hang`` (``seconds``), ``drop`` (the
  connection is closed without an answer), ``fail_job`` (``vendor``: the next N jobs fail
  midway), ``hold`` (status reads whose path starts with ``path`` answer as usual but the job
  does not advance, until the hold is removed); ``after: true`` lets the vendor act on the
  request first (a job is created) and then answers with the fault; ``act_after: S`` lets it
  act S seconds later (kept in the store, done by the first request served once due) while the
  fault answers now. Faults are kept in the store, so faults put into an embedded sandbox's data
  directory hold for the next command that starts it
- ``DELETE /_sandbox/faults``  clear faults (``?kind=hold``: only those of one kind, e.g. release
  the held jobs)
- ``POST /_sandbox/settings``  ``{"polls_per_step": N}``: how many polls a job needs per state
- ``POST /_sandbox/seed``      load seed data (same shape as ``--seed`` files)
- ``POST /_sandbox/reset``     forget everything (contacts, jobs, request log, faults)
- ``PUT|GET /_sandbox/files/NAME``  a tiny file host, so tests can hand vendors a ``file_url``
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.faults import Deferred, DeferredRequest, Fault, Faults
from reconciler.sandbox.store import Database


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(data, sort_keys=False),
        status=status,
        headers=dict(headers or {}),
        mimetype="application/json",
    )


@dataclass
class Settings:
    polls_per_step: int = 1
    # Hard ceiling on fault "hang" so a forgotten fault cannot wedge a test run forever.
    max_hang_seconds: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict)


class Vendor:
    """Base of an emulated vendor. Subclasses set ``name`` (also the URL prefix) and ``rules``
    (werkzeug Rules whose endpoint is a method name), create their tables in ``init_schema``
    and implement ``dump`` and ``seed``.

    ``dump`` returns ``{"lists": {list_id: [{"email", "status", "fields"}, ...]}, ...}`` with
    ``status`` in reconciler's vocabulary (active, unsubscribed, bounced, complaint) plus any
    vendor-native detail under other keys; contacts sorted by email.
    """

    name: str = ""
    rules: tuple[Rule, ...] = ()
    #: Request headers that carry the vendor's credentials (lower case): masked in the log.
    secret_headers: frozenset[str] = frozenset()

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.db = sandbox.db
        self.init_schema()

    @property
    def settings(self) -> Settings:
        return self.sandbox.settings

    def init_schema(self) -> None:
        raise NotImplementedError

    def dump(self) -> dict[str, Any]:
        raise NotImplementedError

    def seed(self, data: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """Return an error response when the request's credentials are missing."""
        return None

    def held(self, request: Request) -> bool:
        """True when this status read must leave its job where it is (a ``hold`` fault): it
        then counts as no poll at all, so the job resumes its pace once released."""
        return self.sandbox.faults.holds(request.method, request.path)

    def job_step(self, polls: int) -> int:
        """How many lifecycle steps a job has advanced after ``polls`` status reads."""
        return polls // max(1, self.settings.polls_per_step)

    def fetch(self, url: str) -> bytes:
        return self.sandbox.fetch(url)


class Dropped(Response):
    """Never sent: the connection is closed instead (a ``drop`` fault); logged as status 0."""


def _answered(response: Response) -> int:
    """The status the request log records: 0 for a connection closed without an answer."""
    return 0 if isinstance(response, Dropped) else response.status_code


class Sandbox:
    """The WSGI application serving every vendor under its prefix."""

    def __init__(self, data_dir: Path | None = None, *, settings: Settings | None = None) -> None:
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(data_dir / "sandbox.sqlite3" if data_dir else None)
        self.db.executescript(
            """CREATE TABLE IF NOT EXISTS requests (
                   seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, vendor TEXT,
                   method TEXT, path TEXT, query TEXT, status INTEGER, headers TEXT, body TEXT);
               CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, data BLOB);"""
        )
        self.settings = settings or Settings()
        self.faults = Faults(self.db)
        self.deferred = Deferred(self.db)
        # Set when the server stops: injected hangs end, and nothing more is logged.
        self.stopping = threading.Event()
        self.base_url = ""  # set by the server once the port is known
        from reconciler.sandbox.vendors import VENDOR_CLASSES

        self.vendors: dict[str, Vendor] = {cls.name: cls(self) for cls in VENDOR_CLASSES}
        # Rule.empty(): a werkzeug Rule binds to the first Map it joins, and several sandboxes
        # may live in one process (tests).
        # Masked whichever vendor a request is for: a client may send another vendor's secret.
        self._secret_headers = frozenset().union(*(v.secret_headers for v in self.vendors.values()))
        self._maps = {name: Map([r.empty() for r in v.rules]) for name, v in self.vendors.items()}

    # -- plumbing ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        if isinstance(response, Dropped):
            # Closed without a byte of an answer: the client reads "Server disconnected".
            connection = environ.get("werkzeug.socket")
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("connection dropped by an injected fault")
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        self._act_on_due()
        path = request.path
        admin = path.startswith("/_sandbox/")
        fault = None
        # The file host stands in for the web server or bucket a vendor fetches from, which
        # fails too (and is logged when it does); the sandbox's own routes never fail.
        if not admin or path.startswith("/_sandbox/files/"):
            fault = self.faults.take_request_fault(request.method, path)
        if admin and fault is None:
            return self._admin(request)
        vendor_name = path.strip("/").split("/", 1)[0]
        if fault is not None and fault.act_after is not None:
            # Taken now, acted on later (logged then, with the vendor's answer).
            kept = DeferredRequest(
                vendor_name,
                request.method,
                path,
                request.query_string.decode("latin-1"),
                list(request.headers.items()),
                request.get_data(),
            )
            self.deferred.add(time.time() + fault.act_after, kept)
        if fault is not None and (not fault.after or fault.act_after is not None):
            response = self._fault_response(fault)
            self._log(vendor_name, request, _answered(response))
            return response
        response = self._serve(vendor_name, request)
        self._log(vendor_name, request, response.status_code)
        if fault is not None:
            # Acted on and logged with the vendor's answer; the client sees the fault's.
            faulty = self._fault_response(fault)
            return response if fault.kind == "hang" else faulty
        return response

    def _act_on_due(self) -> None:
        """The vendor's delayed acts whose time has come (``act_after`` faults), before the
        request that finds them due is served: what it reads includes them."""
        for kept in self.deferred.take_due(time.time()):
            builder = EnvironBuilder(
                path=kept.path,
                method=kept.method,
                query_string=kept.query,
                headers=kept.headers,
                data=kept.body,
            )
            try:
                request = Request(builder.get_environ())
            finally:
                builder.close()
            self._log(kept.vendor, request, self._serve(kept.vendor, request).status_code)

    def _serve(self, vendor_name: str, request: Request) -> Response:
        path = request.path
        if vendor_name == "_sandbox":
            return self._admin(request)
        vendor = self.vendors.get(vendor_name)
        if vendor is None:
            return json_response({"error": f"no vendor at {path}"}, 404)
        sub_path = path[len(vendor_name) + 1 :] or "/"
        try:
            adapter = self._maps[vendor_name].bind("sandbox", path_info=sub_path)
            endpoint, values = adapter.match(sub_path, method=request.method)
            response = vendor.authenticate(request) or getattr(vendor, str(endpoint))(
                request, **values
            )
        except NotFound:
            response = json_response(
                {"error": f"{vendor_name}: no route {request.method} {sub_path}"}, 404
            )
        except HTTPException as exc:
            response = json_response({"error": exc.description}, exc.code or 500)
        return response

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "drop":
            return Dropped()
        if fault.kind == "hang":
            self.stopping.wait(min(fault.seconds, self.settings.max_hang_seconds))
            return json_response({"error": "injected hang"}, 504)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.body is not None:
            return Response(
                fault.body, status=fault.status, headers=headers, content_type=fault.content_type
            )
        return json_response({"error": f"injected {fault.status}"}, fault.status, headers)

    def _log(self, vendor: str, request: Request, status: int) -> None:
        if self.stopping.is_set():
            return  # a hang that outlived the server: its store is closing
        headers = {
            k: ("***" if k.lower() in self._secret_headers else v)
            for k, v in request.headers.items()
        }
        body = ""
        if request.mimetype in ("application/json", "application/vnd.api+json"):
            body = request.get_data(as_text=True)[:4000]
        elif request.mimetype == "multipart/form-data":
            # The form's fields, never its files: e.g. listmonk's import parameters.
            body = json.dumps(request.form.to_dict())[:4000]
        self.db.execute(
            "INSERT INTO requests(time, vendor, method, path, query, status, headers, body)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                time.time(),
                vendor,
                request.method,
                request.path,
                request.query_string.decode("latin-1"),
                status,
                json.dumps(headers),
                body,
            ),
        )

    def fetch(self, url: str) -> bytes:
        """Fetch a file the way a vendor does: over HTTP from wherever the URL points.

        A URL of the sandbox's own file host is read from its store whatever host and port it
        names: an embedded sandbox gets a new port on every run, and a job accepted before a
        crash must still find its file after the restart."""
        from urllib.parse import urlsplit

        import httpx

        path = urlsplit(url).path
        if path.startswith("/_sandbox/files/"):
            rows = self.db.query(
                "SELECT data FROM files WHERE name = ?", (path[len("/_sandbox/files/") :],)
            )
            if rows:
                return bytes(rows[0]["data"])

        with httpx.Client(timeout=60.0, follow_redirects=True) as client:
            response = client.get(url)
            response.raise_for_status()
            return response.content

    # -- inspection and control ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"vendors": {name: v.dump() for name, v in sorted(self.vendors.items())}}

    def request_log(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM requests ORDER BY seq")
        return [
            {
                "seq": r["seq"],
                "time": r["time"],
                "vendor": r["vendor"],
                "method": r["method"],
                "path": r["path"],
                "query": r["query"],
                "status": r["status"],
                "headers": json.loads(r["headers"]),
                "body": r["body"],
            }
            for r in rows
        ]

    def seed(self, data: Mapping[str, Any]) -> None:
        for name, vendor_data in data.items():
            if name not in self.vendors:
                raise ValueError(f"seed names unknown vendor {name!r}")
            self.vendors[name].seed(vendor_data)

    def reset(self) -> None:
        """Forget everything: every vendor's tables, the request log, files, faults and
        settings."""
        self.faults.clear()
        self.settings.polls_per_step = Settings().polls_per_step
        with self.db.transaction() as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                if not table.startswith("sqlite_"):
                    conn.execute(f'DELETE FROM "{table}"')

    def _files(self, request: Request, name: str) -> Response:
        if request.method == "DELETE":
            self.db.execute("DELETE FROM files WHERE name = ?", (name,))
            return json_response({"ok": True})
        if request.method == "PUT":
            self.db.execute(
                "INSERT OR REPLACE INTO files(name, data) VALUES (?, ?)", (name, request.get_data())
            )
            return json_response({"url": f"{self.base_url}/_sandbox/files/{name}"}, 201)
        rows = self.db.query("SELECT data FROM files WHERE name = ?", (name,))
        if not rows:
            return json_response({"error": f"no file {name}"}, 404)
        return Response(bytes(rows[0]["data"]), mimetype="application/octet-stream")

    def _admin(self, request: Request) -> Response:
        action = request.path[len("/_sandbox/") :].strip("/")
        method = request.method
        if action == "state" and method == "GET":
            return json_response(self.state())
        if action == "requests" and method == "GET":
            return json_response({"requests": self.request_log()})
        if action == "faults" and method == "POST":
            self.faults.add(Fault(**request.get_json()))
            return json_response({"ok": True})
        if action == "faults" and method == "DELETE":
            self.faults.clear(request.args.get("kind"))
            return json_response({"ok": True})
        if action == "settings" and method == "POST":
            for key, value in request.get_json().items():
                setattr(self.settings, key, value)
            return json_response({"ok": True})
        if action.startswith("files/"):
            return self._files(request, action[len("files/") :])
        if action == "reset" and method == "POST":
            self.reset()
            return json_response({"ok": True})
        if action == "seed" and method == "POST":
            try:
                self.seed(request.get_json())
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"ok": True})
        return json_response({"error": f"unknown sandbox action {method} {action}"}, 404)
