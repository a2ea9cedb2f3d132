"""Emulated Ongage's lists and its import API: ``/{list_id}/api/import`` (create, list) and
``/{list_id}/api/import/{id}`` (one status read), the jobs' lifecycle and its seedable settings
(``specs/vendors/ongage.md``, "Imports"). The export API, authentication, seeds and the dump
are in ``ongage.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import Vendor, json_response
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
#: Seedable settings, both invented and off by default. ``max_imports_in_progress``: how many
#: imports of one list may be not yet final before the next is refused (Ongage's documents state
#: no such limit; a seed sets one to exercise a client's handling of the refusal).
#: ``import_seconds``: every import takes this long from its creation to its end, however often
#: it is read (by default an import moves on with its status reads, ``polls_per_step``): a
#: vendor whose jobs run in time, for measuring what overlapping them gains.
SETTINGS: dict[str, float | None] = {"max_imports_in_progress": None, "import_seconds": None}


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


class OngageImports(Vendor):
    """Lists, contacts and import jobs of the emulated Ongage (its tables are created by
    ``OngageVendor.init_schema``)."""

    def _setting(self, name: str) -> Any:
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
            self._catch_up(list_id)
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
        self._catch_up(list_id)
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

    def _catch_up(self, list_id: str) -> None:
        """Imports that run in time (``import_seconds``) move on whether or not they are read:
        before the list's imports are counted or listed, each is brought to where its age puts
        it (a held one stays where it is)."""
        if self._setting("import_seconds") is None:
            return
        for row in self.db.query(
            "SELECT * FROM ongage_imports WHERE list_id=? AND status < 90000 AND status <> 40003",
            (list_id,),
        ):
            if not self.sandbox.faults.holds("GET", f"/ongage/{list_id}/api/import/{row['id']}"):
                self._advance(row)

    def _target_step(self, row: Any, polls: int) -> int:
        """The step of IMPORT_STEPS a job has reached after ``polls`` status reads, or by its
        age when imports run in time: each of its four moves takes a quarter of the time."""
        seconds = self._setting("import_seconds")
        last = len(IMPORT_STEPS) - 1
        if seconds is None:
            return min(self.job_step(polls), last)
        return min(int((time.time() - row["created"]) / seconds * last), last)

    def _advance(self, row: Any) -> Any:
        """One status read: move the job on by the configured pace; apply it exactly once."""
        if row["status"] >= 90000 or row["status"] == 40003:
            return row
        polls = row["polls"] + 1
        target = self._target_step(row, polls)
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
