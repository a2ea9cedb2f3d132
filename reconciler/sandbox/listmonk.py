"""Emulated listmonk: the subscriber import, and the endpoints a sync client needs that real
listmonk has (lists, subscribers, list subscriptions, the bounce webhook, off by default as in a
fresh listmonk). ``specs/vendors/listmonk.md`` says what is emulated, where each behaviour comes
from (the document, or listmonk v6.2.0's source) and which ones are invented. The subscriber
tables and the queries an import runs are in ``listmonk_store``; the import's parameters and file
in ``listmonk_files``; the settings and bounce rules in ``listmonk_settings``.

It is the vendor: it imports nothing of the product (only the sandbox's own modules)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Vendor, json_response
from reconciler.sandbox.listmonk_files import (
    SUBSCRIPTION_STATUSES,
    check_params,
    iso,
    overwrites,
    read_csv,
    stamp,
)
from reconciler.sandbox.listmonk_settings import (
    BOUNCE_TYPES,
    DEFAULTS,
    bounce_outcome,
    check_settings,
    encode,
)
from reconciler.sandbox.listmonk_store import ListmonkStore

ALREADY_RUNNING = (
    "An import is already running. Wait for it to finish or stop it before trying again."
)
IMPORT_STEPS = 2  # polls (per polls_per_step) from importing to finished
# echo's answer for a route that is not registered (listmonk v6.2.0 registers the bounce webhook
# only when bounce.webhooks_enabled is on: cmd/handlers.go lines 222-225).
NOT_FOUND = "Not Found"
# cmd/bounce.go lines 127-130: webhooks on, bounce processing off (no bounce manager).
BOUNCE_OFF = "Internal server error"


def error(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


def data(value: Any, status: int = 200) -> Response:
    return json_response({"data": value}, status)


class ListmonkVendor(Vendor):
    name = "listmonk"
    secret_headers = frozenset({"authorization"})
    rules = (
        Rule("/api/lists", endpoint="get_lists", methods=["GET"]),
        Rule("/api/subscribers", endpoint="get_subscribers", methods=["GET"]),
        Rule("/api/subscribers/lists", endpoint="put_subscriber_lists", methods=["PUT"]),
        Rule("/api/import/subscribers", endpoint="post_import", methods=["POST"]),
        Rule("/api/import/subscribers", endpoint="get_import", methods=["GET"]),
        Rule("/api/import/subscribers", endpoint="delete_import", methods=["DELETE"]),
        Rule("/api/import/subscribers/logs", endpoint="get_import_logs", methods=["GET"]),
        Rule("/webhooks/bounce", endpoint="post_bounce", methods=["POST"]),
    )

    def init_schema(self) -> None:
        self.store = ListmonkStore(self.db)
        self.store.init_schema()
        self.db.executescript(
            """CREATE TABLE IF NOT EXISTS listmonk_import (
                   one INTEGER PRIMARY KEY CHECK (one = 1), name TEXT, total INTEGER,
                   imported INTEGER, status TEXT, polls INTEGER, params TEXT, rows TEXT,
                   log TEXT, fail INTEGER);
               CREATE TABLE IF NOT EXISTS listmonk_credentials (username TEXT, token TEXT);
               CREATE TABLE IF NOT EXISTS listmonk_settings (key TEXT PRIMARY KEY, value TEXT);"""
        )

    # -- auth -------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        user = token = ""
        if header.startswith("Basic "):
            try:
                user, _, token = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = token = ""
        if not user or not token:
            return error(401, "invalid API credentials")
        seeded = self.db.query("SELECT username, token FROM listmonk_credentials")
        if seeded and (user, token) not in {(r["username"], r["token"]) for r in seeded}:
            return error(401, "invalid API credentials")
        return None

    # -- lists and subscribers ----------------------------------------------------------------
    def get_lists(self, request: Request) -> Response:
        results = [
            {
                "id": r["id"],
                "name": r["name"],
                "type": "private",
                "optin": "single",
                "subscriber_count": r["n"],
            }
            for r in self.db.query(
                "SELECT l.id, l.name, count(s.subscriber_id) AS n FROM listmonk_lists l "
                "LEFT JOIN listmonk_subscriptions s ON s.list_id = l.id GROUP BY l.id "
                "ORDER BY l.id"
            )
        ]
        return data(
            {"results": results, "total": len(results), "per_page": len(results), "page": 1}
        )

    def get_subscribers(self, request: Request) -> Response:
        args = request.args
        where: list[str] = []
        params: list[Any] = []
        if "list_id" in args:
            where.append(
                "s.id IN (SELECT subscriber_id FROM listmonk_subscriptions "
                "WHERE list_id=?" + (" AND status=?" if "subscription_status" in args else "") + ")"
            )
            params.append(args.get("list_id", type=int))
            if "subscription_status" in args:
                params.append(args["subscription_status"])
        sql = "SELECT * FROM listmonk_subscribers s"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.query(sql + " ORDER BY s.id", tuple(params))
        per_page_text = args.get("per_page", "20")
        page = max(1, args.get("page", 1, type=int) or 1)
        if per_page_text == "all":
            chosen, per_page = rows, len(rows)
        else:
            try:
                per_page = max(1, int(per_page_text))
            except ValueError:
                return error(400, "invalid per_page")
            chosen = rows[(page - 1) * per_page : page * per_page]
        names = self.store.list_names()
        subs: dict[int, list[dict[str, Any]]] = {}
        for r in self.db.query("SELECT * FROM listmonk_subscriptions ORDER BY list_id"):
            subs.setdefault(r["subscriber_id"], []).append(
                {
                    "id": r["list_id"],
                    "name": names.get(r["list_id"], ""),
                    "subscription_status": r["status"],
                }
            )
        results = [
            {
                "id": r["id"],
                "uuid": r["uuid"],
                "email": r["email"],
                "name": r["name"],
                "attribs": json.loads(r["attribs"] or "{}"),
                "status": r["status"],
                "lists": subs.get(r["id"], []),
                "created_at": iso(r["created"]),
                "updated_at": iso(r["updated"]),
            }
            for r in chosen
        ]
        return data(
            {
                "results": results,
                "query": "",
                "total": len(rows),
                "per_page": per_page,
                "page": page,
            }
        )

    def put_subscriber_lists(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "invalid JSON")
        ids, action, targets = body.get("ids"), body.get("action"), body.get("target_list_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            return error(400, "invalid ids")
        if action not in ("add", "remove", "unsubscribe"):
            return error(400, "invalid action")
        if (
            not isinstance(targets, list)
            or not targets
            or not all(isinstance(t, int) for t in targets)
        ):
            return error(400, "invalid target_list_ids")
        status = body.get("status", "confirmed")
        if action == "add" and status not in SUBSCRIPTION_STATUSES:
            return error(400, "invalid status")
        with self.db.lock:
            for sub_id in ids:
                for list_id in targets:
                    if action == "add":
                        # Explicitly adding a subscription (with its status) re-subscribes.
                        self.store.subscribe(sub_id, list_id, status, replace=True)
                    elif action == "remove":
                        self.db.execute(
                            "DELETE FROM listmonk_subscriptions WHERE "
                            "subscriber_id=? AND list_id=?",
                            (sub_id, list_id),
                        )
                    else:
                        self.db.execute(
                            "UPDATE listmonk_subscriptions SET status="
                            "'unsubscribed' WHERE subscriber_id=? AND list_id=?",
                            (sub_id, list_id),
                        )
        return data(True)

    def _setting(self, key: str) -> Any:
        rows = self.db.query("SELECT value FROM listmonk_settings WHERE key=?", (key,))
        return json.loads(rows[0]["value"]) if rows else DEFAULTS[key]

    def post_bounce(self, request: Request) -> Response:
        """listmonk v6.2.0 ``cmd/bounce.go`` ``BounceWebhook`` and ``validateBounceFields``
        (lines 124-166, 290-312), then ``core.RecordBounce`` (``internal/core/bounces.go``
        lines 60-85) with the ``record-bounce`` query."""
        if not self._setting("bounce.webhooks_enabled"):
            return error(404, NOT_FOUND)
        if not self._setting("bounce.enabled"):
            return error(503, BOUNCE_OFF)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(400, "Invalid data")
        email = str(body.get("email") or "").strip().lower()
        sub_uuid = str(body.get("subscriber_uuid") or "")
        if not email and not sub_uuid:
            return error(400, "Invalid fields: email / subscriber_uuid")
        kind = body.get("type")
        if kind not in BOUNCE_TYPES:
            return error(400, "Invalid fields: type")
        # record-bounce looks the subscriber up by UUID when one is given
        row = self.store.subscriber_by_uuid(sub_uuid) if sub_uuid else self.store.subscriber(email)
        # An unknown subscriber is only logged by listmonk: the webhook still answers true.
        if row is not None:
            self._record_bounce(row, str(kind), str(body.get("source") or "api"))
        return data(True)

    def _record_bounce(self, row: Any, kind: str, source: str) -> None:
        """listmonk queues the bounce and records it a moment later; the emulator records it
        before answering, so that a test reads the outcome right after the request."""
        outcome = bounce_outcome(
            self._setting("bounce.actions"),
            kind,
            self.store.bounces_of(int(row["id"]), kind),
            blocklisted=row["status"] == "blocklisted",
        )
        self.store.record_bounce(int(row["id"]), kind, source, outcome)

    # -- import -------------------------------------------------------------------------------
    def _import_row(self) -> Any:
        rows = self.db.query("SELECT * FROM listmonk_import WHERE one=1")
        return rows[0] if rows else None

    def _import_status(self, row: Any) -> dict[str, Any]:
        if row is None:
            return {"name": "", "total": 0, "imported": 0, "status": "none"}
        return {
            "name": row["name"],
            "total": row["total"],
            "imported": row["imported"],
            "status": row["status"],
        }

    def post_import(self, request: Request) -> Response:
        current = self._import_row()
        if current is not None and current["status"] in ("importing", "stopping"):
            return error(400, ALREADY_RUNNING)
        try:
            params = json.loads(request.form.get("params", ""))
        except ValueError:
            return error(400, "Invalid params: not JSON")
        problem = check_params(params)
        if problem:
            return error(400, problem)
        upload = request.files.get("file")
        if upload is None:
            return error(400, "Invalid file: no file uploaded")
        try:
            rows = read_csv(upload.read(), params["delim"])
        except ValueError as exc:
            return error(400, f"Invalid file: {exc}")
        fail = self.sandbox.faults.take_job_failure(self.name)
        self.db.execute(
            "INSERT OR REPLACE INTO listmonk_import VALUES (1,?,?,?,?,?,?,?,?,?)",
            (
                upload.filename or "import.csv",
                len(rows),
                0,
                "importing",
                0,
                json.dumps(params),
                json.dumps(rows),
                f"{stamp()} processing '{upload.filename}'\n",
                int(fail),
            ),
        )
        return data(self._import_status(self._import_row()))

    def get_import(self, request: Request) -> Response:
        row = self._import_row()
        if row is not None and row["status"] == "importing" and not self.held(request):
            row = self._advance(row)
        return data(self._import_status(row))

    def _advance(self, row: Any) -> Any:
        polls = row["polls"] + 1
        if self.job_step(polls) < IMPORT_STEPS:
            self.db.execute("UPDATE listmonk_import SET polls=? WHERE one=1", (polls,))
            return self._import_row()
        rows = json.loads(row["rows"])
        params = json.loads(row["params"])
        if row["fail"]:
            imported = self._apply(rows[: len(rows) // 2], params)
            status, log = "failed", f"{stamp()} import failed: the import broke midway\n"
        else:
            imported = self._apply(rows, params)
            status, log = "finished", f"{stamp()} imported finished\n"
        self.db.execute(
            "UPDATE listmonk_import SET polls=?, imported=?, status=?, log=log || ? WHERE one=1",
            (polls, imported, status, log),
        )
        return self._import_row()

    def _apply(self, rows: list[dict[str, Any]], params: Mapping[str, Any]) -> int:
        """Each row through the importer's query for the mode (``importer.go`` lines 295-313);
        ``listmonk_store`` has what each query does."""
        userinfo, substatus = overwrites(params)
        status = params.get("subscription_status") or "unconfirmed"  # cmd/import.go 46-52
        with self.db.lock:
            for row in rows:
                if params["mode"] == "blocklist":
                    self.store.upsert_blocklisted(row)
                else:
                    self.store.upsert_subscriber(
                        row,
                        list(params.get("lists") or []),
                        status,
                        userinfo=userinfo,
                        substatus=substatus,
                    )
        return len(rows)

    def delete_import(self, request: Request) -> Response:
        self.db.execute("DELETE FROM listmonk_import")
        return data(self._import_status(None))

    def get_import_logs(self, request: Request) -> Response:
        row = self._import_row()
        return data(row["log"] if row else "")

    # -- inspection ---------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return self.store.dump()

    def seed(self, seed: Mapping[str, Any]) -> None:
        if not isinstance(seed, Mapping):
            raise ValueError("listmonk seed: expected a mapping with 'lists'")
        for key, value in check_settings(seed.get("settings") or {}).items():
            self.db.execute(
                "INSERT OR REPLACE INTO listmonk_settings VALUES (?,?)", (key, encode(value))
            )
        for cred in seed.get("credentials") or []:
            self.db.execute(
                "INSERT INTO listmonk_credentials VALUES (?,?)", (cred["username"], cred["token"])
            )
        for list_id, spec in (seed.get("lists") or {}).items():
            self.store.seed_list(int(list_id), spec or {})
