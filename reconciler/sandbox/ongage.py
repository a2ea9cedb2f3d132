"""Emulated Ongage: the import API and the export API (``specs/vendors/ongage.md``).

Paths are relative to the ``/ongage`` prefix, which stands for ``https://api.ongage.net``:
``/{list_id}/api/import``, ``/{list_id}/api/import/{id}``, ``/{list_id}/api/export``,
``/{list_id}/api/export/{id}`` and ``/{list_id}/api/export/{id}/retrieve``. The lists and the
import API are in ``ongage_imports.py``; this module adds the export API, authentication,
seeds and the dump.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.ongage_export import (
    DATE_FORMATS,
    check_fields,
    check_statuses,
    export_zip,
)
from reconciler.sandbox.ongage_imports import (
    DEFAULT_FIELDS,
    SETTINGS,
    OngageImports,
    envelope,
    error,
)
from reconciler.sandbox.ongage_rows import Contact

# Retrieve calls before an export is ready. Not scaled by polls_per_step, which paces import
# jobs: tests slow imports down without making every plan wait on exports.
EXPORT_STEPS = 2


class OngageVendor(OngageImports):
    name = "ongage"
    secret_headers = frozenset(
        {"x_username", "x-username", "x_password", "x-password", "x_account_code", "x-account-code"}
    )
    rules = (
        Rule("/<list_id>/api/import", endpoint="create_import", methods=["POST"]),
        Rule("/<list_id>/api/import", endpoint="list_imports", methods=["GET"]),
        Rule("/<list_id>/api/import/<import_id>", endpoint="get_import", methods=["GET"]),
        Rule("/<list_id>/api/export", endpoint="create_export", methods=["POST"]),
        Rule("/<list_id>/api/export/<export_id>", endpoint="get_export", methods=["GET"]),
        Rule(
            "/<list_id>/api/export/<export_id>/retrieve",
            endpoint="retrieve_export",
            methods=["GET"],
        ),
    )

    def init_schema(self) -> None:
        self.db.executescript(
            """CREATE TABLE IF NOT EXISTS ongage_lists (
                   list_id TEXT PRIMARY KEY, type TEXT, fields TEXT, segment_id INTEGER);
               CREATE TABLE IF NOT EXISTS ongage_contacts (
                   list_id TEXT, email TEXT, status TEXT, fields TEXT, created REAL,
                   PRIMARY KEY (list_id, email));
               CREATE TABLE IF NOT EXISTS ongage_imports (
                   id INTEGER PRIMARY KEY AUTOINCREMENT, list_id TEXT, request TEXT,
                   status INTEGER, polls INTEGER, counts TEXT, status_info TEXT,
                   fail INTEGER, rows TEXT, created REAL, modified REAL);
               CREATE TABLE IF NOT EXISTS ongage_exports (
                   id INTEGER PRIMARY KEY AUTOINCREMENT, list_id TEXT, request TEXT,
                   polls INTEGER, created REAL);
               CREATE TABLE IF NOT EXISTS ongage_credentials (
                   username TEXT, password TEXT, account_code TEXT);
               CREATE TABLE IF NOT EXISTS ongage_settings (name TEXT PRIMARY KEY, value TEXT);"""
        )

    # -- auth -------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Response | None:
        given = (
            request.headers.get("X_USERNAME") or request.headers.get("X-USERNAME"),
            request.headers.get("X_PASSWORD") or request.headers.get("X-PASSWORD"),
            request.headers.get("X_ACCOUNT_CODE") or request.headers.get("X-ACCOUNT-CODE"),
        )
        if not all(given):
            return error(
                403,
                "Permission error: X_USERNAME, X_PASSWORD and X_ACCOUNT_CODE headers are required",
            )
        seeded = self.db.query("SELECT username, password, account_code FROM ongage_credentials")
        if seeded and tuple(given) not in {tuple(r) for r in seeded}:
            return error(403, "Permission error: invalid credentials")
        return None

    # -- exports ------------------------------------------------------------------------------
    def create_export(self, request: Request, list_id: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(412, "Invalid data: the request body must be a JSON object")
        problem = self._validate_export(body, list_id)
        if problem:
            return error(412, f"Invalid data: {problem}")
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO ongage_exports (list_id, request, polls, created) VALUES (?,?,0,?)",
                (list_id, json.dumps(body), time.time()),
            )
            export_id = cursor.lastrowid
        return envelope({"id": export_id, "name": body["name"], "status": "pending"})

    def _validate_export(self, body: dict[str, Any], list_id: str) -> str | None:
        list_type, fields, segment = self._list(list_id)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            return "name is required"
        if body.get("date_format") not in DATE_FORMATS:
            return f"date_format must be one of {', '.join(DATE_FORMATS)}"
        if body.get("file_format") != "csv":
            return "file_format must be 'csv'"
        segments, mailings = body.get("segment_id"), body.get("mailing_id")
        if list_type == "sending" and not segments and not mailings:
            return "segment_id or mailing_id is required"
        for key, value in (("segment_id", segments), ("mailing_id", mailings)):
            if value is not None and (
                not isinstance(value, list)
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                return f"{key} must be an array of integers"
        if segments and any(s != segment for s in segments):
            return f"unknown segment_id; list {list_id} has segment {segment} (All members)"
        return check_statuses(body.get("status"), bool(segments)) or check_fields(
            body.get("fields_selected"), fields
        )

    def _export(self, list_id: str, export_id: str) -> Any:
        if not export_id.isdigit():
            return None
        rows = self.db.query(
            "SELECT * FROM ongage_exports WHERE id=? AND list_id=?", (int(export_id), list_id)
        )
        return rows[0] if rows else None

    def get_export(self, request: Request, list_id: str, export_id: str) -> Response:
        row = self._export(list_id, export_id)
        if row is None:
            return error(404, f"Export not found: {export_id}")
        ready = row["polls"] >= EXPORT_STEPS
        return envelope(
            {
                "id": row["id"],
                "name": json.loads(row["request"])["name"],
                "status": "completed" if ready else "pending",
            }
        )

    def retrieve_export(self, request: Request, list_id: str, export_id: str) -> Response:
        row = self._export(list_id, export_id)
        if row is None:
            return error(412, f"Invalid data: no export {export_id}")
        polls = row["polls"] + 1
        self.db.execute("UPDATE ongage_exports SET polls=? WHERE id=?", (polls, row["id"]))
        if polls < EXPORT_STEPS:
            return error(412, "Invalid data: the export is not finished yet")
        body = json.loads(row["request"])
        _, fields, _ = self._list(list_id)
        contacts = self.db.query(
            "SELECT email, status, fields, created FROM ongage_contacts WHERE list_id=? "
            "ORDER BY email",
            (list_id,),
        )
        archive = export_zip(body, fields, contacts, row["id"])
        return Response(archive, mimetype="application/zip")

    # -- inspection ---------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        lists: dict[str, list[dict[str, Any]]] = {}
        for r in self.db.query(
            "SELECT list_id, email, status, fields FROM ongage_contacts ORDER BY list_id, email"
        ):
            lists.setdefault(r["list_id"], []).append(
                {"email": r["email"], "status": r["status"], "fields": json.loads(r["fields"])}
            )
        for r in self.db.query("SELECT list_id FROM ongage_lists ORDER BY list_id"):
            lists.setdefault(r["list_id"], [])
        return {"lists": dict(sorted(lists.items()))}

    def seed(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise ValueError(
                "ongage seed: expected a mapping with 'lists' (and 'credentials', 'settings')"
            )
        for cred in data.get("credentials") or []:
            self.db.execute(
                "INSERT INTO ongage_credentials VALUES (?, ?, ?)",
                (cred["username"], cred["password"], cred["account_code"]),
            )
        for name, value in (data.get("settings") or {}).items():
            if name not in SETTINGS:
                raise ValueError(
                    f"ongage seed: unknown setting {name!r} (known: {', '.join(SETTINGS)})"
                )
            problem = _setting_problem(name, value)
            if problem:
                raise ValueError(f"ongage seed: {name} {problem}")
            self.db.execute(
                "INSERT OR REPLACE INTO ongage_settings VALUES (?, ?)", (name, json.dumps(value))
            )
        for list_id, spec in (data.get("lists") or {}).items():
            list_id = str(list_id)
            spec = spec or {}
            fields = list(spec.get("fields") or DEFAULT_FIELDS)
            segment = int(spec.get("segment_id", int(list_id) if list_id.isdigit() else 1))
            list_type = spec.get("type", "sending")
            if list_type not in ("sending", "suppression"):
                raise ValueError(f"ongage seed: list {list_id} type must be sending or suppression")
            self.db.execute(
                "INSERT OR REPLACE INTO ongage_lists VALUES (?, ?, ?, ?)",
                (list_id, list_type, json.dumps(fields), segment),
            )
            contacts = self._contacts(list_id)
            for contact in spec.get("contacts") or []:
                status = contact.get("status", "active")
                if status not in ("active", "unsubscribed", "bounced", "complaint"):
                    raise ValueError(f"ongage seed: unknown status {status!r}")
                contacts[contact["email"].strip().lower()] = Contact(
                    status, dict(contact.get("fields") or {})
                )
            self._save(list_id, contacts)


def _setting_problem(name: str, value: Any) -> str | None:
    if value is None:
        return None  # the default: no limit, no timed pace
    if name == "import_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
            return "must be a number of seconds from 0 to 3600"
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a whole number of at least 1"
    return None
