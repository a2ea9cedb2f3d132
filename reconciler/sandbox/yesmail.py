"""Emulated Yesmail API v2: target-list file import, tickets and async results.

Follows /work/shared/vendor-docs/yesmail-target-list-file-import.txt; every choice made where
that document is silent is written in specs/vendors/yesmail.md. A ticket advances one
transition per lifecycle step (``job_step``)::

    accepted --download--> processing --import--> completed | failed
        |  (transient download failure, first time)
        +--> retrying --download--> processing | failed

The file is downloaded on entering ``processing``; records are judged and the load table is
written in one transaction on the final transition, so an import is applied whole or not at all.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Sandbox, json_response
from reconciler.sandbox.importjob import FileError, ImportJobVendor
from reconciler.sandbox.yesmail_import import count_records, evaluate, read_records
from reconciler.sandbox.yesmail_request import InvalidRequest, parse_import_request
from reconciler.sandbox.yesmail_store import (
    COMPLETED_KEY,
    Results,
    Ticket,
    YesmailStore,
    iter_completed,
)

UNAUTHORIZED = "Invalid Api-User and/or Api-Key header value."
NOTHING_APPLIED = "No records were updated or added."


class DownloadFailed(Exception):
    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.transient = transient


class YesmailVendor(ImportJobVendor[Ticket]):
    name = "yesmail"
    secret_headers = frozenset({"api-user", "api-key"})
    store: YesmailStore

    def __init__(self, sandbox: Sandbox) -> None:
        self.store = YesmailStore(sandbox.db)
        super().__init__(sandbox)

    def routes(self) -> tuple[Rule, ...]:
        return (
            Rule("/v2/target-lists", endpoint="target_lists", methods=["GET"]),
            Rule(
                "/v2/target-lists/<listname>/members/file-import",
                endpoint="file_import",
                methods=["POST"],
            ),
            Rule("/v2/tickets/<ticket_id>", endpoint="get_ticket", methods=["GET"]),
            Rule("/v2/async-results/<results_id>", endpoint="get_async_results", methods=["GET"]),
        )

    def authenticate(self, request: Request) -> Response | None:
        user = request.headers.get("Api-User", "")
        key = request.headers.get("Api-Key", "")
        if user and key:
            seeded = self.store.credentials()
            if not seeded or (user, key) in seeded:
                return None
        return _error(401, UNAUTHORIZED)

    # -- endpoints --------------------------------------------------------------------------
    def target_lists(self, request: Request) -> Response:
        """``GET /v2/target-lists?view=schema``: the document's way to "determine which
        attributes are supported". Its answer's shape is the sandbox's (the document shows
        none): ``{"targetList": [{"name": LIST, "attributes": [{"name": COLUMN}, ...]}]}``."""
        if self.store.setting("schema_view", "on") == "off":
            return _error(404, "Not Found")
        if request.args.get("view") != "schema":
            # The list summary (GET /v2/target-lists without view) is not in the document.
            return _error(404, "GET /v2/target-lists is emulated with view=schema only.")
        return json_response(
            {
                "targetList": [
                    {"name": name, "attributes": [{"name": c} for c in columns]}
                    for name, columns in self.store.all_columns().items()
                ]
            }
        )

    def file_import(self, request: Request, listname: str) -> Response:
        try:
            import_request = parse_import_request(
                request.get_json(force=True, silent=True),
                columns=self.store.columns(listname),
                list_name=listname,
                query=request.args,
            )
        except InvalidRequest as exc:
            return _error(400, str(exc))
        now = _now()
        query = request.query_string.decode("latin-1")
        ticket = Ticket(
            id=0,
            list_name=listname,
            request=import_request,
            state="accepted",
            events=[],
            polls=0,
            steps=0,
            fail_job=self.sandbox.faults.take_job_failure(self.name),
            user=request.headers["Api-User"],
            path=request.path + (f"?{query}" if query else ""),
            created=now,
        )
        ticket.record("accepted", "File import to target list accepted.", now)
        ticket.id = self.store.create_ticket(ticket)
        base = self.base(request)
        return json_response(
            self._ticket_body(ticket, base),
            202,
            {"Content-Location": f"{base}/{self.name}/v2/tickets/{ticket.id}"},
        )

    def get_ticket(self, request: Request, ticket_id: str) -> Response:
        ticket = self.poll(request, ticket_id)
        if ticket is None:
            return _error(404, f"Ticket {ticket_id} does not exist.")
        return json_response(self._ticket_body(ticket, self.base(request)))

    def get_async_results(self, request: Request, results_id: str) -> Response:
        results = self.store.results(number) if (number := _number(results_id)) else None
        if results is None:
            return _error(404, f"Async results {results_id} do not exist.")
        return json_response(self._results_body(results))

    # -- the lifecycle ----------------------------------------------------------------------
    def find_job(self, job_id: str) -> Ticket | None:
        return self.store.ticket(number) if (number := _number(job_id)) else None

    def state_of(self, job: Ticket) -> str:
        return job.state

    def advance(self, job: Ticket) -> None:
        if job.state in ("accepted", "retrying"):
            self._download(job)
        elif job.state == "processing":
            self._import(job)

    def _download(self, ticket: Ticket) -> None:
        try:
            data = self._fetch(ticket.request.uri)
        except DownloadFailed as exc:
            if exc.transient and ticket.state == "accepted":
                ticket.record("retrying", f"File download failed: {exc}. Retrying.", _now())
            else:
                ticket.record("failed", f"File download failed: {exc}.", _now())
            return
        ticket.record("processing", "File downloaded.", _now())
        try:
            count = count_records(data, ticket.request)
        except FileError as exc:
            ticket.record("failed", f"File pre-parse failed: {exc}", _now())
            return
        self.store.keep_download(ticket.id, data)
        ticket.record("processing", f"File pre-parsed, importing {count} records.", _now())

    def _fetch(self, uri: str) -> bytes:
        shown = _redact(uri)
        if urlsplit(uri).scheme.lower() == "ftp":
            raise DownloadFailed(f"the sandbox cannot fetch ftp URIs ({shown})", transient=False)
        try:
            return self.fetch(uri)
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            transient = code >= 500 or code in (408, 429)
            raise DownloadFailed(f"HTTP {code} from {shown}", transient=transient) from None
        except httpx.UnsupportedProtocol:
            raise DownloadFailed(f"unsupported URI {shown}", transient=False) from None
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__} fetching {shown}"
            raise DownloadFailed(reason, transient=True) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = f"{type(exc).__name__} fetching {shown}"
            raise DownloadFailed(reason, transient=False) from None

    def _import(self, ticket: Ticket) -> None:
        data = self.store.download(ticket.id)
        now = _now()
        with self.db.transaction() as conn:
            if ticket.fail_job:
                ticket.record(
                    "failed", f"File import failed: internal error. {NOTHING_APPLIED}", now
                )
            else:
                results = self._apply(conn, ticket, data, now)
                ticket.results_id = self.store.save_results(conn, ticket.id, results)
                ticket.record(*_verdict(ticket, results), now)
            self.store.drop_download(conn, ticket.id)
            self.store.save_job(ticket, conn)

    def _apply(self, conn: sqlite3.Connection, ticket: Ticket, data: bytes, now: str) -> Results:
        """Judge every record; write the load table unless the error threshold is exceeded."""
        request = ticket.request
        layout, records = read_records(data, request)
        outcome = evaluate(
            records,
            layout,
            request.import_type,
            self.store.subscriber_ids(conn),
            self.store.load_table(conn, ticket.list_name),
        )
        stopped = request.threshold.exceeded(len(outcome.failed), outcome.requested)
        if not stopped:
            self.store.write_members(conn, ticket.list_name, outcome.writes)
        return Results(
            id=0,
            time=now,
            requested=outcome.requested,
            applied=not stopped,
            failed=outcome.failed,
            ignored=[] if stopped else outcome.ignored,
        )

    # -- rendering --------------------------------------------------------------------------
    def _ticket_body(self, ticket: Ticket, base: str) -> dict[str, Any]:
        response: dict[str, str] = {}
        if ticket.request.response_uri is not None:
            response["uri"] = ticket.request.response_uri
        if ticket.request.response_ref is not None:
            response["ref"] = ticket.request.response_ref
        if ticket.results_id is not None:
            response["location"] = f"{base}/{self.name}/v2/async-results/{ticket.results_id}"
        last = ticket.events[-1]
        return {
            "id": str(ticket.id),
            "state": ticket.state,
            "message": last["message"],
            "lastUpdate": last["time"],
            "events": ticket.events,
            "request": {
                "id": str(uuid.UUID(int=ticket.id)),
                "user": ticket.user,
                "time": ticket.created,
                "uri": base + ticket.path,
            },
            "response": response,
        }

    def _results_body(self, results: Results) -> dict[str, Any]:
        time = results.time
        skipped = [i for i, _, _ in results.failed] + results.ignored
        completed = (
            [{"index": i, "time": time} for i in iter_completed(results.requested, skipped)]
            if results.applied
            else []
        )
        return {
            "id": str(results.id),
            "lastUpdate": time,
            "counts": {
                "completed": len(completed),
                "failed": len(results.failed),
                "ignored": len(results.ignored),
                "total": results.requested,
                "requested": results.requested,
            },
            self.store.setting("completed_key", COMPLETED_KEY): completed,
            "failed": [
                {"index": i, "time": time, "error": {"status": status, "message": message}}
                for i, status, message in results.failed
            ],
            "ignored": [{"index": i} for i in results.ignored],
        }


def _verdict(ticket: Ticket, results: Results) -> tuple[str, str]:
    if results.applied:
        return "completed", "File imported successfully."
    return "failed", (
        f"Error threshold exceeded: {len(results.failed)} of {results.requested} records failed"
        f" (errorThreshold {ticket.request.threshold.raw!r}). {NOTHING_APPLIED}"
    )


def _number(text: str) -> int | None:
    """A resource id from a URL segment; None for anything SQLite could not hold."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _error(status: int, message: str) -> Response:
    return json_response({"status": status, "message": message}, status)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _redact(uri: str) -> str:
    """``uri`` without the password of embedded basic authentication."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
