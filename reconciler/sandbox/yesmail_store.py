"""Yesmail's state in the sandbox database: subscribers, target lists, tickets, results.

Tables (prefixed ``yesmail_``): ``credentials``; ``subscribers`` (the subscriber database:
member ID and Yesmail-level status); ``lists`` (target lists and their load-table columns,
the member ID column included); ``members`` (each list's load table: member ID and the other
columns as JSON); ``tickets``; ``downloads`` (a ticket's file between download and import);
``results`` (async results); ``settings`` (seeded quirks).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.importjob import Job, execute, plain
from reconciler.sandbox.store import Database
from reconciler.sandbox.yesmail_request import ImportRequest
from reconciler.sandbox.yesmail_seed import (
    COMPLETED_KEY,
    DEFAULT_COLUMNS,
    SeedPlan,
    load_table_columns,
)

#: Yesmail's own word where it differs: a hard-bounced subscriber is marked "dead".
VENDOR_WORDS = {"bounced": "dead"}

__all__ = ["COMPLETED_KEY", "Results", "Ticket", "YesmailStore", "iter_completed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS yesmail_credentials (
    api_user TEXT NOT NULL, api_key TEXT NOT NULL, PRIMARY KEY (api_user, api_key));
CREATE TABLE IF NOT EXISTS yesmail_subscribers (
    id TEXT PRIMARY KEY, status TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS yesmail_lists (name TEXT PRIMARY KEY, columns TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS yesmail_members (
    list TEXT NOT NULL, id TEXT NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (list, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS yesmail_tickets (
    id INTEGER PRIMARY KEY, list TEXT NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL,
    events TEXT NOT NULL, polls INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 0,
    fail_job INTEGER NOT NULL, user TEXT NOT NULL, path TEXT NOT NULL, created TEXT NOT NULL,
    results_id INTEGER);
CREATE TABLE IF NOT EXISTS yesmail_downloads (ticket_id INTEGER PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS yesmail_results (
    id INTEGER PRIMARY KEY, ticket_id INTEGER NOT NULL, time TEXT NOT NULL,
    requested INTEGER NOT NULL, applied INTEGER NOT NULL, failed TEXT NOT NULL,
    ignored TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS yesmail_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Ticket(Job):
    id: int
    list_name: str
    request: ImportRequest
    state: str
    events: list[dict[str, str]]
    user: str
    path: str  # the request's path and query, made absolute when rendered
    created: str
    results_id: int | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Ticket:
        return cls(
            id=row["id"],
            list_name=row["list"],
            request=ImportRequest.from_json(json.loads(row["request"])),
            state=row["state"],
            events=json.loads(row["events"]),
            polls=row["polls"],
            steps=row["steps"],
            fail_job=bool(row["fail_job"]),
            user=row["user"],
            path=row["path"],
            created=row["created"],
            results_id=row["results_id"],
        )

    def record(self, state: str, message: str, time: str) -> None:
        self.state = state
        self.events.append({"state": state, "message": message, "time": time})


@dataclass
class Results:
    id: int
    time: str
    requested: int
    applied: bool
    failed: list[tuple[int, int, str]] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)


class YesmailStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def init_schema(self) -> None:
        self.db.executescript(SCHEMA)

    # -- credentials and lists --------------------------------------------------------------
    def credentials(self) -> set[tuple[str, str]]:
        rows = self.db.query("SELECT api_user, api_key FROM yesmail_credentials")
        return {(r["api_user"], r["api_key"]) for r in rows}

    def columns(self, list_name: str) -> tuple[str, ...]:
        """The list's whole load table (a list not yet created will get the default one)."""
        rows = self.db.query("SELECT columns FROM yesmail_lists WHERE name = ?", (list_name,))
        # Normalised on reading too: a data directory written before load tables named their
        # member ID column holds attribute columns only.
        return load_table_columns(json.loads(rows[0]["columns"])) if rows else DEFAULT_COLUMNS

    def all_columns(self) -> dict[str, tuple[str, ...]]:
        """Every known list's load table, by list name."""
        rows = self.db.query("SELECT name, columns FROM yesmail_lists ORDER BY name")
        return {r["name"]: load_table_columns(json.loads(r["columns"])) for r in rows}

    def ensure_list(self, conn: sqlite3.Connection, list_name: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO yesmail_lists(name, columns) VALUES (?, ?)",
            (list_name, json.dumps(list(DEFAULT_COLUMNS))),
        )

    def setting(self, key: str, default: str) -> str:
        rows = self.db.query("SELECT value FROM yesmail_settings WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else default

    # -- tickets ----------------------------------------------------------------------------
    def create_ticket(self, ticket: Ticket) -> int:
        with self.db.transaction() as conn:
            self.ensure_list(conn, ticket.list_name)
            cursor = conn.execute(
                "INSERT INTO yesmail_tickets(list, request, state, events, fail_job, user, path,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ticket.list_name,
                    json.dumps(ticket.request.to_json()),
                    ticket.state,
                    json.dumps(ticket.events),
                    int(ticket.fail_job),
                    ticket.user,
                    ticket.path,
                    ticket.created,
                ),
            )
            return int(cursor.lastrowid or 0)

    def ticket(self, ticket_id: int) -> Ticket | None:
        rows = self.db.query("SELECT * FROM yesmail_tickets WHERE id = ?", (ticket_id,))
        return Ticket.from_row(rows[0]) if rows else None

    def save_job(self, ticket: Ticket, conn: sqlite3.Connection | None = None) -> None:
        execute(
            self.db,
            conn,
            "UPDATE yesmail_tickets SET state = ?, events = ?, polls = ?, steps = ?,"
            " results_id = ? WHERE id = ?",
            (
                ticket.state,
                json.dumps(ticket.events),
                ticket.polls,
                ticket.steps,
                ticket.results_id,
                ticket.id,
            ),
        )

    def keep_download(self, ticket_id: int, data: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO yesmail_downloads(ticket_id, data) VALUES (?, ?)",
            (ticket_id, data),
        )

    def download(self, ticket_id: int) -> bytes:
        rows = self.db.query("SELECT data FROM yesmail_downloads WHERE ticket_id = ?", (ticket_id,))
        return bytes(rows[0]["data"]) if rows else b""

    def drop_download(self, conn: sqlite3.Connection, ticket_id: int) -> None:
        conn.execute("DELETE FROM yesmail_downloads WHERE ticket_id = ?", (ticket_id,))

    # -- the import -------------------------------------------------------------------------
    def subscriber_ids(self, conn: sqlite3.Connection) -> set[str]:
        return {r[0] for r in plain(conn).execute("SELECT id FROM yesmail_subscribers")}

    def load_table(self, conn: sqlite3.Connection, list_name: str) -> dict[str, str]:
        sql = "SELECT id, attributes FROM yesmail_members WHERE list = ?"
        return dict(plain(conn).execute(sql, (list_name,)))

    def write_members(
        self, conn: sqlite3.Connection, list_name: str, writes: Mapping[str, str]
    ) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO yesmail_members(list, id, attributes) VALUES (?, ?, ?)",
            ((list_name, member, attributes) for member, attributes in writes.items()),
        )

    def save_results(self, conn: sqlite3.Connection, ticket_id: int, results: Results) -> int:
        cursor = conn.execute(
            "INSERT INTO yesmail_results(ticket_id, time, requested, applied, failed, ignored)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                ticket_id,
                results.time,
                results.requested,
                int(results.applied),
                json.dumps(results.failed),
                json.dumps(results.ignored),
            ),
        )
        return int(cursor.lastrowid or 0)

    def results(self, results_id: int) -> Results | None:
        rows = self.db.query("SELECT * FROM yesmail_results WHERE id = ?", (results_id,))
        if not rows:
            return None
        row = rows[0]
        return Results(
            id=row["id"],
            time=row["time"],
            requested=row["requested"],
            applied=bool(row["applied"]),
            failed=[(i, s, m) for i, s, m in json.loads(row["failed"])],
            ignored=json.loads(row["ignored"]),
        )

    # -- inspection -------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        with self.db.transaction() as conn:
            cursor = plain(conn)
            statuses = dict(cursor.execute("SELECT id, status FROM yesmail_subscribers"))
            names = [r[0] for r in cursor.execute("SELECT name FROM yesmail_lists ORDER BY name")]
            # SQLite writes each list as one JSON document: a million json.loads calls, one
            # per member, would take ten times as long.
            documents = dict(
                cursor.execute(
                    "SELECT list, json_group_array(json_array(id, json(attributes))) FROM"
                    " (SELECT list, id, attributes FROM yesmail_members ORDER BY list, id)"
                    " GROUP BY list"
                )
            )
        shown = {status: _status(status) for status in set(statuses.values()) | {"active"}}
        lists: dict[str, list[dict[str, Any]]] = {}
        for name in sorted({*names, *documents}):
            members = sorted(json.loads(documents.get(name, "[]")))
            lists[name] = [
                {"email": member, **shown[statuses.get(member, "active")], "fields": fields}
                for member, fields in members
            ]
        subscribers = [{"email": s, **shown[statuses[s]]} for s in sorted(statuses)]
        return {"lists": lists, "subscribers": subscribers}

    # -- seeding ----------------------------------------------------------------------------
    def seed(self, data: Mapping[str, Any]) -> None:
        plan = SeedPlan.parse(data)
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO yesmail_credentials(api_user, api_key) VALUES (?, ?)",
                plan.credentials,
            )
            conn.executemany(
                "INSERT INTO yesmail_subscribers(id, status) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status = excluded.status",
                plan.explicit.items(),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO yesmail_subscribers(id, status) VALUES (?, 'active')",
                ((s,) for s in plan.implicit if s not in plan.explicit),
            )
            for name, columns in plan.columns.items():
                conn.execute(
                    "INSERT INTO yesmail_lists(name, columns) VALUES (?, ?)"
                    " ON CONFLICT(name) DO UPDATE SET columns = excluded.columns",
                    (name, json.dumps(list(columns))),
                )
            for name in plan.lists:
                self.ensure_list(conn, name)
            conn.executemany(
                "INSERT OR REPLACE INTO yesmail_members(list, id, attributes) VALUES (?, ?, ?)",
                plan.members,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO yesmail_settings(key, value) VALUES (?, ?)",
                plan.settings.items(),
            )


def _status(status: str) -> dict[str, str]:
    native = VENDOR_WORDS.get(status)
    return {"status": status, "vendor_status": native} if native else {"status": status}


def iter_completed(requested: int, skip: Iterable[int]) -> Iterable[int]:
    """Indexes of completed records: every record not failed nor ignored."""
    skipped = set(skip)
    return (i for i in range(requested) if i not in skipped)
