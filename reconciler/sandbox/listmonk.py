"""Emulated listmonk: the subscriber import, and the endpoints a sync client needs that real
listmonk has (lists, subscribers, list subscriptions, the bounce webhook, off by default as in a
fresh listmonk). ``specs/vendors/listmonk.md`` says what is emulated, where each behaviour comes
from (the document, or listmonk v6.2.0's source) and which ones are invented.

It is the vendor: it imports nothing of the product (only the sandbox's own modules)."""

from __future__ import annotations

import base64
import json
import time
import uuid
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
        self.db.executescript(
            """CREATE TABLE IF NOT EXISTS listmonk_lists (id INTEGER PRIMARY KEY, name TEXT);
               CREATE TABLE IF NOT EXISTS listmonk_subscribers (
                   id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT, email TEXT UNIQUE,
                   name TEXT, attribs TEXT, status TEXT, created REAL, updated REAL);
               CREATE TABLE IF NOT EXISTS listmonk_subscriptions (
                   subscriber_id INTEGER, list_id INTEGER, status TEXT,
                   PRIMARY KEY (subscriber_id, list_id));
               CREATE TABLE IF NOT EXISTS listmonk_bounces (
                   subscriber_id INTEGER, type TEXT, source TEXT, created REAL);
               CREATE TABLE IF NOT EXISTS listmonk_import (
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

    # -- helpers ------------------------------------------------------------------------------
    def _subscriber(self, email: str) -> Any:
        rows = self.db.query("SELECT * FROM listmonk_subscribers WHERE email=?", (email,))
        return rows[0] if rows else None

    def _upsert(
        self,
        email: str,
        name: str,
        attribs: dict[str, Any],
        *,
        overwrite: bool,
        status: str = "enabled",
    ) -> tuple[int, bool]:
        """The subscriber's ID, and whether it was created."""
        now = time.time()
        known = self._subscriber(email)
        if known is None:
            self.db.execute(
                "INSERT INTO listmonk_subscribers (uuid, email, name, attribs, status, created, "
                "updated) VALUES (?,?,?,?,?,?,?)",
                (
                    str(uuid.uuid4()),
                    email,
                    name or email.split("@")[0],
                    json.dumps(attribs),
                    status,
                    now,
                    now,
                ),
            )
            return int(self._subscriber(email)["id"]), True
        if overwrite:
            merged = {**json.loads(known["attribs"] or "{}"), **attribs}
            self.db.execute(
                "UPDATE listmonk_subscribers SET name=?, attribs=?, updated=? WHERE id=?",
                (name or known["name"], json.dumps(merged), now, known["id"]),
            )
        return int(known["id"]), False

    def _subscribe(self, subscriber_id: int, list_id: int, status: str, *, replace: bool) -> None:
        if replace:
            self.db.execute(
                "INSERT OR REPLACE INTO listmonk_subscriptions VALUES (?,?,?)",
                (subscriber_id, list_id, status),
            )
        else:
            # An existing subscription keeps its status: importing never re-subscribes.
            self.db.execute(
                "INSERT OR IGNORE INTO listmonk_subscriptions VALUES (?,?,?)",
                (subscriber_id, list_id, status),
            )

    def _list_ids(self) -> dict[int, str]:
        return {r["id"]: r["name"] for r in self.db.query("SELECT id, name FROM listmonk_lists")}

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
        names = self._list_ids()
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
                        self._subscribe(sub_id, list_id, status, replace=True)
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
        if sub_uuid:  # record-bounce looks the subscriber up by UUID when one is given
            found = self.db.query("SELECT * FROM listmonk_subscribers WHERE uuid=?", (sub_uuid,))
            row = found[0] if found else None
        else:
            row = self._subscriber(email)
        # An unknown subscriber is only logged by listmonk: the webhook still answers true.
        if row is not None:
            self._record_bounce(row, str(kind), str(body.get("source") or "api"))
        return data(True)

    def _record_bounce(self, row: Any, kind: str, source: str) -> None:
        """listmonk queues the bounce and records it a moment later; the emulator records it
        before answering, so that a test reads the outcome right after the request."""
        earlier = self.db.query(
            "SELECT count(*) AS n FROM listmonk_bounces WHERE subscriber_id=? AND type=?",
            (row["id"], kind),
        )[0]["n"]
        outcome = bounce_outcome(
            self._setting("bounce.actions"),
            kind,
            int(earlier),
            blocklisted=row["status"] == "blocklisted",
        )
        with self.db.lock:
            if outcome.record:
                self.db.execute(
                    "INSERT INTO listmonk_bounces VALUES (?,?,?,?)",
                    (row["id"], kind, source, time.time()),
                )
            if outcome.blocklist:
                # record-bounce's block1 sets the subscriber's status only.
                self.db.execute(
                    "UPDATE listmonk_subscribers SET status='blocklisted' WHERE id=?",
                    (row["id"],),
                )
            if outcome.unsubscribe:
                self.db.execute(
                    "UPDATE listmonk_subscriptions SET status='unsubscribed' WHERE subscriber_id=?",
                    (row["id"],),
                )
            if outcome.delete:
                for table, column in (
                    ("listmonk_subscriptions", "subscriber_id"),
                    ("listmonk_bounces", "subscriber_id"),
                    ("listmonk_subscribers", "id"),
                ):
                    self.db.execute(f"DELETE FROM {table} WHERE {column}=?", (row["id"],))

    def _blocklist(self, subscriber_id: int) -> None:
        self.db.execute(
            "UPDATE listmonk_subscribers SET status='blocklisted' WHERE id=?", (subscriber_id,)
        )
        self.db.execute(
            "UPDATE listmonk_subscriptions SET status='unsubscribed' WHERE subscriber_id=?",
            (subscriber_id,),
        )

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
        imported = 0
        with self.db.lock:
            for row in rows:
                email = row["email"]
                if params["mode"] == "blocklist":
                    # upsert-blocklist-subscriber (listmonk v6.2.0 queries/subscribers.sql
                    # lines 137-149): creates an unknown subscriber, never changes a known one's
                    # name or attributes, whatever overwrite says.
                    sub_id, _ = self._upsert(email, row["name"], row["attribs"], overwrite=False)
                    self._blocklist(sub_id)
                    imported += 1
                    continue
                # upsert-subscriber (listmonk v6.2.0 queries/subscribers.sql lines 114-135):
                # a blocklisted subscriber is still written, its new subscriptions unsubscribed.
                known = self._subscriber(email)
                blocklisted = known is not None and known["status"] == "blocklisted"
                userinfo, substatus = overwrites(params)
                sub_id, _ = self._upsert(email, row["name"], row["attribs"], overwrite=userinfo)
                status = (
                    "unsubscribed"
                    if blocklisted
                    else params.get("subscription_status") or "unconfirmed"
                )
                for list_id in params.get("lists") or []:
                    self._subscribe(sub_id, list_id, status, replace=substatus)
                imported += 1
        return imported

    def delete_import(self, request: Request) -> Response:
        self.db.execute("DELETE FROM listmonk_import")
        return data(self._import_status(None))

    def get_import_logs(self, request: Request) -> Response:
        row = self._import_row()
        return data(row["log"] if row else "")

    # -- inspection ---------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        bounces: dict[int, set[str]] = {}
        for r in self.db.query("SELECT subscriber_id, type FROM listmonk_bounces"):
            bounces.setdefault(r["subscriber_id"], set()).add(r["type"])
        lists: dict[str, list[dict[str, Any]]] = {str(i): [] for i in self._list_ids()}
        for r in self.db.query(
            "SELECT s.*, l.list_id, l.status AS sub_status FROM listmonk_subscriptions l "
            "JOIN listmonk_subscribers s ON s.id = l.subscriber_id ORDER BY l.list_id, s.email"
        ):
            kinds = bounces.get(r["id"], set())
            if "complaint" in kinds:
                status = "complaint"
            elif "hard" in kinds:
                status = "bounced"
            elif r["status"] == "blocklisted" or r["sub_status"] == "unsubscribed":
                status = "unsubscribed"
            else:
                status = "active"
            fields = {"name": r["name"], **json.loads(r["attribs"] or "{}")}
            lists.setdefault(str(r["list_id"]), []).append(
                {
                    "email": r["email"],
                    "status": status,
                    "fields": fields,
                    "vendor_status": f"{r['status']}/{r['sub_status']}",
                }
            )
        return {"lists": dict(sorted(lists.items()))}

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
            spec = spec or {}
            lid = int(list_id)
            self.db.execute(
                "INSERT OR REPLACE INTO listmonk_lists VALUES (?,?)",
                (lid, spec.get("name") or f"list-{lid}"),
            )
            for contact in spec.get("contacts") or []:
                email = contact["email"].strip().lower()
                fields = dict(contact.get("fields") or {})
                name = str(fields.pop("name", "") or "")
                sub_id, _ = self._upsert(email, name, fields, overwrite=True)
                status = contact.get("status", "active")
                if status not in ("active", "unsubscribed", "bounced", "complaint"):
                    raise ValueError(f"listmonk seed: unknown status {status!r}")
                self._subscribe(
                    sub_id,
                    lid,
                    "unsubscribed" if status == "unsubscribed" else "confirmed",
                    replace=True,
                )
                if status in ("bounced", "complaint"):
                    self.db.execute(
                        "INSERT INTO listmonk_bounces VALUES (?,?,?,?)",
                        (
                            sub_id,
                            "hard" if status == "bounced" else "complaint",
                            "seed",
                            time.time(),
                        ),
                    )
                    self._blocklist(sub_id)
