"""Emulated Ongage: the import API and the export API (``specs/vendors/ongage.md``).

Paths are relative to the ``/ongage`` prefix, which stands for ``https://api.ongage.net``:
``/{list_id}/api/import``, ``/{list_id}/api/import/{id}``, ``/{list_id}/api/export``,
``/{list_id}/api/export/{id}`` and ``/{list_id}/api/export/{id}/retrieve``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Vendor, json_response
from reconciler.sandbox.ongage_export import (
    DATE_FORMATS,
    check_fields,
    check_statuses,
    export_zip,
)
from reconciler.sandbox.ongage_rows import (
    COUNT_KEYS,
    Contact,
    ImportFileError,
    ImportOptions,
    apply_rows,
    decode_file,
    parse_rows,
)

IMPORT_STEPS = (40001, 40010, 40002, 40004, 40003)
STATUS_DESC = {
    40001: "Queued",
    40010: "Validating",
    40002: "Processing",
    40003: "Completed",
    40004: "Updating list stats",
    90001: "Error",
    90008: "Invalid",
}
ACTIONS = ("add", "remove", "unsubscribe", "resubscribe", "bounce", "complaint")
DELIMITERS = {",": ",", "|": "|", "t": "\t", "\t": "\t", ";": ";"}
DEFAULT_FIELDS = ["first_name", "last_name"]
#: Seedable settings. ``max_imports_in_progress``: how many imports of one list may be not yet
#: final before the next is refused. Invented: Ongage's documents state no such limit, so by
#: default there is none; a seed sets one to exercise a client's handling of the refusal.
SETTINGS: dict[str, int | None] = {"max_imports_in_progress": None}
# Retrieve calls before an export is ready. Not scaled by polls_per_step, which paces import
# jobs: tests slow imports down without making every plan wait on exports.
EXPORT_STEPS = 2


def envelope(payload: Any, status: int = 200) -> Response:
    return json_response({"metadata": {"error": status >= 400}, "payload": payload}, status)


def error(status: int, message: str) -> Response:
    return envelope({"code": status, "message": message}, status)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false"):
        return value in (1, "1", "true")
    return None


class OngageVendor(Vendor):
    name = "ongage"
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

    def _setting(self, name: str) -> int | None:
        rows = self.db.query("SELECT value FROM ongage_settings WHERE name=?", (name,))
        return json.loads(rows[0]["value"]) if rows else SETTINGS[name]

    # -- lists --------------------------------------------------------------------------------
    def _list(self, list_id: str) -> tuple[str, list[str], int]:
        rows = self.db.query(
            "SELECT type, fields, segment_id FROM ongage_lists WHERE list_id=?", (list_id,)
        )
        if rows:
            return rows[0]["type"], json.loads(rows[0]["fields"]), rows[0]["segment_id"]
        segment = int(list_id) if list_id.isdigit() else 1
        self.db.execute(
            "INSERT INTO ongage_lists VALUES (?, 'sending', ?, ?)",
            (list_id, json.dumps(DEFAULT_FIELDS), segment),
        )
        return "sending", list(DEFAULT_FIELDS), segment

    def _contacts(self, list_id: str) -> dict[str, Contact]:
        return {
            r["email"]: Contact(r["status"], json.loads(r["fields"]))
            for r in self.db.query(
                "SELECT email, status, fields FROM ongage_contacts WHERE list_id=?", (list_id,)
            )
        }

    def _save(self, list_id: str, contacts: Mapping[str, Contact]) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM ongage_contacts WHERE list_id=?", (list_id,))
            conn.executemany(
                "INSERT INTO ongage_contacts VALUES (?, ?, ?, ?, ?)",
                [(list_id, e, c.status, json.dumps(c.fields), now) for e, c in contacts.items()],
            )

    # -- imports ------------------------------------------------------------------------------
    def create_import(self, request: Request, list_id: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return error(500, "Validation error: the request body must be a JSON object")
        problem = self._validate_import(body, list_id)
        if problem:
            return error(500, f"Validation error: {problem}")
        limit = self._setting("max_imports_in_progress")
        if limit is not None:
            running = self.db.query(
                "SELECT count(*) AS n FROM ongage_imports WHERE list_id=? AND status < 90000 "
                "AND status <> 40003",
                (list_id,),
            )[0]["n"]
            if running >= limit:
                # The invented limit's refusal: a 500 like the documented validation errors.
                return error(
                    500,
                    f"Validation error: list {list_id} already has "
                    f"{limit} imports in progress; wait for one to end",
                )
        fail = self.sandbox.faults.take_job_failure(self.name)
        now = time.time()
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO ongage_imports (list_id, request, status, polls, counts, "
                "status_info, fail, rows, created, modified) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    list_id,
                    json.dumps(body),
                    40001,
                    0,
                    json.dumps(dict.fromkeys(COUNT_KEYS, 0)),
                    "",
                    int(fail),
                    None,
                    now,
                    now,
                ),
            )
            import_id = cursor.lastrowid
        return envelope({"id": import_id})

    def _validate_import(self, body: dict[str, Any], list_id: str) -> str | None:
        list_type, _, _ = self._list(list_id)
        url = body.get("file_url")
        if not isinstance(url, str) or not url:
            return "file_url is required"
        if not url.lower().startswith(("http://", "https://")):
            return "file_url must be an http or https URL"
        if str(body.get("csv_delimiter", ",")) not in DELIMITERS:
            return "csv_delimiter must be one of ',', '|', 't' (tab) or ';'"
        if "list_id" in body and str(body["list_id"]) != list_id:
            return f"list_id {body['list_id']} does not match the list in the URL ({list_id})"
        action = body.get("import_action", "add")
        if action not in ACTIONS:
            return f"import_action must be one of {', '.join(ACTIONS)}"
        import_type = body.get("import_type", "sending")
        if import_type not in ("sending", "suppression"):
            return "import_type must be sending or suppression"
        if import_type != list_type:
            return f"import_type {import_type} does not match list {list_id} ({list_type} list)"
        if action in ("unsubscribe", "resubscribe") and list_type != "sending":
            return f"import_action {action} is only for sending lists"
        for flag in ("overwrite", "ignore_empty", "overwrite_only_nulls", "send_welcome_message"):
            if flag in body and _bool(body[flag]) is None:
                return f"{flag} must be a boolean"
        encoding = str(body.get("encoding", "UTF-8")).upper().replace("_", "-")
        if encoding not in ("UTF-8", "UTF8"):
            return "encoding: the sandbox reads UTF-8 files only"
        return None

    def _payload(self, row: Any) -> dict[str, Any]:
        request = json.loads(row["request"])
        counts = json.loads(row["counts"])
        status = row["status"]
        progress = 100 if status in (40003, 40004) else (50 if status == 40002 else 0)
        return {
            "id": row["id"],
            "list_id": int(row["list_id"]) if str(row["list_id"]).isdigit() else row["list_id"],
            "type": request.get("import_type", "sending"),
            "action": request.get("import_action", "add"),
            "name": request["file_url"].rsplit("/", 1)[-1].split("?", 1)[0],
            "file_url": request["file_url"],
            "is_override": bool(_bool(request.get("overwrite", False))),
            "csv_delimiter": request.get("csv_delimiter", ","),
            "encoding": request.get("encoding", "UTF-8"),
            "progress": str(progress),
            **{key: str(counts[key]) for key in COUNT_KEYS},
            "status": status,
            "status_desc": STATUS_DESC[status],
            "status_info": row["status_info"],
            "created": int(row["created"]),
            "modified": int(row["modified"]),
        }

    def get_import(self, request: Request, list_id: str, import_id: str) -> Response:
        row = self._import(list_id, import_id)
        if row is None:
            return error(404, f"Import not found: {import_id}")
        if not self.held(request):
            row = self._advance(row)
        return envelope(self._payload(row))

    def list_imports(self, request: Request, list_id: str) -> Response:
        rows = self.db.query(
            "SELECT * FROM ongage_imports WHERE list_id=? ORDER BY id DESC", (list_id,)
        )
        return envelope([self._payload(r) for r in rows])

    def _import(self, list_id: str, import_id: str) -> Any:
        if not import_id.isdigit():
            return None
        rows = self.db.query(
            "SELECT * FROM ongage_imports WHERE id=? AND list_id=?", (int(import_id), list_id)
        )
        return rows[0] if rows else None

    def _advance(self, row: Any) -> Any:
        """One status read: move the job on by the configured pace; apply it exactly once."""
        if row["status"] >= 90000 or row["status"] == 40003:
            return row
        polls = row["polls"] + 1
        target = min(self.job_step(polls), len(IMPORT_STEPS) - 1)
        current = IMPORT_STEPS.index(row["status"])
        status, info, counts = row["status"], row["status_info"], json.loads(row["counts"])
        request = json.loads(row["request"])
        for step in range(current + 1, target + 1):
            status = IMPORT_STEPS[step]
            if status == 40002:  # validated: fetch and parse the file
                try:
                    rows = self._read_file(row["list_id"], request)
                except ImportFileError as exc:
                    status, info = 90008, str(exc)
                    break
                except Exception as exc:  # the vendor could not download the file
                    status, info = 90008, f"the file could not be downloaded: {exc}"
                    break
                self.db.execute(
                    "UPDATE ongage_imports SET rows=? WHERE id=?", (json.dumps(rows), row["id"])
                )
                counts["total"] = len(rows)
            if status == 40004:  # processed: the contacts change now
                rows = json.loads(
                    self.db.query("SELECT rows FROM ongage_imports WHERE id=?", (row["id"],))[0][
                        "rows"
                    ]
                )
                if row["fail"]:
                    counts = self._apply(row["list_id"], request, rows[: len(rows) // 2])
                    counts["failed"] = len(rows) - len(rows) // 2
                    counts["total"] = len(rows)
                    status, info = 90001, "Error: the import failed while processing"
                    break
                counts = self._apply(row["list_id"], request, rows)
        self.db.execute(
            "UPDATE ongage_imports SET status=?, polls=?, counts=?, status_info=?, modified=? "
            "WHERE id=?",
            (status, polls, json.dumps(counts), info, time.time(), row["id"]),
        )
        return self.db.query("SELECT * FROM ongage_imports WHERE id=?", (row["id"],))[0]

    def _read_file(self, list_id: str, request: Mapping[str, Any]) -> list[dict[str, str]]:
        data = self.fetch(request["file_url"])
        _, fields, _ = self._list(list_id)
        delimiter = DELIMITERS[str(request.get("csv_delimiter", ","))]
        _, rows = parse_rows(decode_file(data), delimiter, fields)
        return rows

    def _apply(
        self, list_id: str, request: Mapping[str, Any], rows: list[dict[str, str]]
    ) -> dict[str, int]:
        contacts = self._contacts(list_id)
        options = ImportOptions(
            action=request.get("import_action", "add"),
            overwrite=bool(_bool(request.get("overwrite", False))),
            ignore_empty=bool(_bool(request.get("ignore_empty", False))),
            overwrite_only_nulls=bool(_bool(request.get("overwrite_only_nulls", False))),
        )
        counts = apply_rows(contacts, rows, options)
        self._save(list_id, contacts)
        return counts

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
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"ongage seed: {name} must be a whole number of at least 1")
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
