"""Omnigage's state in the sandbox database.

Tables (prefixed ``omnigage_``): ``credentials`` (account key + API token pairs); ``settings``
(S3 keys and limits a seed set); ``lists``; ``contacts`` (the account's contacts: address,
status, fields as JSON; several may share an address, as imports without
``unique-primary-email`` make them); ``members`` (list ↔ contact); ``uploads``; ``objects`` (the
S3 bucket); ``imports`` (import-contacts jobs).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.importjob import Job, execute, plain
from reconciler.sandbox.omnigage_import import Counts, Outcome
from reconciler.sandbox.omnigage_s3 import DEFAULT_CREDENTIALS, S3Credentials, StoredObject
from reconciler.sandbox.omnigage_seed import SETTINGS, SeedPlan
from reconciler.sandbox.store import Database

__all__ = ["ImportJob", "OmnigageStore", "Upload"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS omnigage_credentials (
    account_key TEXT NOT NULL, token_key TEXT NOT NULL, token_secret TEXT NOT NULL,
    PRIMARY KEY (account_key, token_key, token_secret)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS omnigage_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS omnigage_lists (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS omnigage_contacts (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, status TEXT NOT NULL, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS omnigage_members (
    list_id TEXT NOT NULL, contact_id INTEGER NOT NULL,
    PRIMARY KEY (list_id, contact_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS omnigage_uploads (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, size INTEGER NOT NULL,
    key_prefix TEXT NOT NULL UNIQUE, expires_at TEXT NOT NULL, created_at TEXT NOT NULL,
    object_key TEXT);
CREATE TABLE IF NOT EXISTS omnigage_objects (
    key TEXT PRIMARY KEY, data BLOB NOT NULL, content_type TEXT NOT NULL, etag TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS omnigage_imports (
    id TEXT PRIMARY KEY, upload_id TEXT NOT NULL, list_id TEXT, file_id TEXT NOT NULL,
    membership_id TEXT NOT NULL, flags TEXT NOT NULL, header TEXT NOT NULL,
    mapping TEXT NOT NULL, sample TEXT NOT NULL, status TEXT NOT NULL, counts TEXT NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 0,
    fail_job INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
"""


@dataclass
class Upload:
    id: str
    name: str
    type: str
    size: int
    key_prefix: str
    expires_at: str
    created_at: str
    object_key: str | None = None


@dataclass
class ImportJob(Job):
    id: str
    upload_id: str
    list_id: str | None
    file_id: str
    membership_id: str
    flags: dict[str, bool]
    header: list[str]
    mapping: list[str | None]
    sample: list[str]
    status: str
    created_at: str
    updated_at: str
    counts: Counts = field(default_factory=Counts)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ImportJob:
        return cls(
            id=row["id"],
            upload_id=row["upload_id"],
            list_id=row["list_id"],
            file_id=row["file_id"],
            membership_id=row["membership_id"],
            flags=json.loads(row["flags"]),
            header=json.loads(row["header"]),
            mapping=json.loads(row["mapping"]),
            sample=json.loads(row["sample"]),
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            fail_job=bool(row["fail_job"]),
            counts=Counts(**json.loads(row["counts"])),
            polls=row["polls"],
            steps=row["steps"],
        )


class OmnigageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def init_schema(self) -> None:
        self.db.executescript(SCHEMA)

    # -- credentials, settings, lists -------------------------------------------------------
    def credentials(self) -> set[tuple[str, str, str]]:
        rows = self.db.query(
            "SELECT account_key, token_key, token_secret FROM omnigage_credentials"
        )
        return {(r[0], r[1], r[2]) for r in rows}

    def setting(self, key: str) -> int:
        rows = self.db.query("SELECT value FROM omnigage_settings WHERE key = ?", (key,))
        return int(rows[0][0]) if rows else SETTINGS[key]

    def s3_credentials(self) -> S3Credentials:
        rows = self.db.query("SELECT key, value FROM omnigage_settings WHERE key LIKE 's3.%'")
        seeded = {r[0].removeprefix("s3."): r[1] for r in rows}
        return S3Credentials(
            access_key_id=seeded.get("access_key_id", DEFAULT_CREDENTIALS.access_key_id),
            secret_access_key=seeded.get(
                "secret_access_key", DEFAULT_CREDENTIALS.secret_access_key
            ),
            bucket=seeded.get("bucket", DEFAULT_CREDENTIALS.bucket),
        )

    def has_list(self, list_id: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM omnigage_lists WHERE id = ?", (list_id,)))

    # -- uploads and the bucket -------------------------------------------------------------
    def create_upload(self, upload: Upload) -> None:
        self.db.execute(
            "INSERT INTO omnigage_uploads(id, name, type, size, key_prefix, expires_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                upload.id,
                upload.name,
                upload.type,
                upload.size,
                upload.key_prefix,
                upload.expires_at,
                upload.created_at,
            ),
        )

    def upload(self, upload_id: str) -> Upload | None:
        rows = self.db.query("SELECT * FROM omnigage_uploads WHERE id = ?", (upload_id,))
        return Upload(**dict(rows[0])) if rows else None

    def put_object(self, stored: StoredObject) -> None:
        """Store an object; it completes the upload whose key prefix it falls under."""
        prefix = "/".join(stored.key.split("/")[:2]) + "/"
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO omnigage_objects(key, data, content_type, etag)"
                " VALUES (?, ?, ?, ?)",
                (stored.key, stored.data, stored.content_type, stored.etag),
            )
            conn.execute(
                "UPDATE omnigage_uploads SET object_key = ? WHERE key_prefix = ?",
                (stored.key, prefix),
            )

    def object_data(self, key: str) -> bytes:
        rows = self.db.query("SELECT data FROM omnigage_objects WHERE key = ?", (key,))
        return bytes(rows[0][0]) if rows else b""

    # -- imports ----------------------------------------------------------------------------
    def create_job(self, job: ImportJob) -> None:
        self.db.execute(
            "INSERT INTO omnigage_imports(id, upload_id, list_id, file_id, membership_id, flags,"
            " header, mapping, sample, status, counts, fail_job, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.upload_id,
                job.list_id,
                job.file_id,
                job.membership_id,
                json.dumps(job.flags),
                json.dumps(job.header),
                json.dumps(job.mapping),
                json.dumps(job.sample),
                job.status,
                json.dumps(job.counts.__dict__),
                int(job.fail_job),
                job.created_at,
                job.updated_at,
            ),
        )

    def job(self, job_id: str) -> ImportJob | None:
        rows = self.db.query("SELECT * FROM omnigage_imports WHERE id = ?", (job_id,))
        return ImportJob.from_row(rows[0]) if rows else None

    def save_job(self, job: ImportJob, conn: sqlite3.Connection | None = None) -> None:
        execute(
            self.db,
            conn,
            "UPDATE omnigage_imports SET status = ?, counts = ?, polls = ?, steps = ?,"
            " updated_at = ? WHERE id = ?",
            (
                job.status,
                json.dumps(job.counts.__dict__),
                job.polls,
                job.steps,
                job.updated_at,
                job.id,
            ),
        )

    def contacts_by_email(self, conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
        """Address → (id, fields JSON) of the oldest contact holding it."""
        cursor = plain(conn)
        rows = cursor.execute("SELECT email, id, fields FROM omnigage_contacts ORDER BY id DESC")
        return {email: (contact_id, fields) for email, contact_id, fields in rows}

    def apply(self, conn: sqlite3.Connection, outcome: Outcome, list_id: str | None) -> None:
        """Write an import's outcome: new contacts, updated fields, and list membership."""
        first = plain(conn).execute("SELECT COALESCE(MAX(id), 0) + 1 FROM omnigage_contacts")
        next_id = int(first.fetchone()[0])
        created = range(next_id, next_id + len(outcome.creates))
        conn.executemany(
            "INSERT INTO omnigage_contacts(id, email, status, fields) VALUES (?, ?, 'active', ?)",
            (
                (i, email, fields)
                for i, (email, fields) in zip(created, outcome.creates, strict=True)
            ),
        )
        conn.executemany(
            "UPDATE omnigage_contacts SET fields = ? WHERE id = ?",
            ((fields, contact_id) for contact_id, fields in outcome.updates),
        )
        if list_id is not None:
            ids = [*created, *(contact_id for contact_id, _ in outcome.updates)]
            conn.executemany(
                "INSERT OR IGNORE INTO omnigage_members(list_id, contact_id) VALUES (?, ?)",
                ((list_id, i) for i in ids),
            )

    # -- inspection -------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        with self.db.transaction() as conn:
            cursor = plain(conn)
            names = dict(cursor.execute("SELECT id, name FROM omnigage_lists"))
            # SQLite writes each list as one JSON document: a million json.loads calls, one
            # per contact, would take several times as long.
            documents = dict(
                cursor.execute(
                    "SELECT list_id, json_group_array(json_object('email', email, 'status',"
                    " status, 'fields', json(fields))) FROM (SELECT m.list_id, c.email,"
                    " c.status, c.fields FROM omnigage_members m JOIN omnigage_contacts c"
                    " ON c.id = m.contact_id ORDER BY m.list_id, c.id) GROUP BY list_id"
                )
            )
            unlisted = cursor.execute(
                "SELECT json_group_array(json_object('email', email, 'status', status,"
                " 'fields', json(fields))) FROM (SELECT * FROM omnigage_contacts WHERE id NOT IN"
                " (SELECT contact_id FROM omnigage_members) ORDER BY id)"
            ).fetchone()[0]
        lists = {
            list_id: _sorted(json.loads(documents.get(list_id, "[]")))
            for list_id in sorted({*names, *documents})
        }
        return {
            "lists": lists,
            "list_names": {list_id: names[list_id] for list_id in sorted(names)},
            "unlisted": _sorted(json.loads(unlisted or "[]")),
        }

    # -- seeding ----------------------------------------------------------------------------
    def seed(self, data: Any) -> None:
        plan = SeedPlan.parse(data)
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO omnigage_credentials VALUES (?, ?, ?)", plan.credentials
            )
            settings = [*((f"s3.{k}", v) for k, v in plan.s3.items()), *plan.settings.items()]
            conn.executemany(
                "INSERT OR REPLACE INTO omnigage_settings(key, value) VALUES (?, ?)", settings
            )
            conn.executemany(
                "INSERT OR REPLACE INTO omnigage_lists(id, name) VALUES (?, ?)",
                plan.lists.items(),
            )
            ids = self._seed_contacts(conn, plan.contacts)
            conn.executemany(
                "INSERT OR IGNORE INTO omnigage_members(list_id, contact_id) VALUES (?, ?)",
                ((list_id, ids[email]) for list_id, email in plan.members),
            )

    def _seed_contacts(
        self, conn: sqlite3.Connection, contacts: Mapping[str, tuple[str, str]]
    ) -> dict[str, int]:
        """Create or overwrite the seeded contacts; return address → contact id."""
        known = {
            email: contact_id for email, (contact_id, _) in self.contacts_by_email(conn).items()
        }
        fresh = [email for email in contacts if email not in known]
        first = plain(conn).execute("SELECT COALESCE(MAX(id), 0) + 1 FROM omnigage_contacts")
        next_id = int(first.fetchone()[0])
        known.update(zip(fresh, range(next_id, next_id + len(fresh)), strict=True))
        conn.executemany(
            "INSERT OR REPLACE INTO omnigage_contacts(id, email, status, fields)"
            " VALUES (?, ?, ?, ?)",
            ((known[e], e, status, fields) for e, (status, fields) in contacts.items()),
        )
        return known


def _sorted(contacts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # Stable: contacts sharing an address keep their creation order.
    return sorted(contacts, key=lambda contact: str(contact["email"]))
