"""Emulated listmonk's subscriber tables and the queries that write them, each after its
listmonk v6.2.0 query (``queries/subscribers.sql``, ``queries/bounces.sql``).

What an import does to a subscriber already present (``upsert-subscriber``, lines 114-135)::

    name    = CASE WHEN $7 THEN $3 ELSE s.name END      -- $7: overwrite_userinfo
    attribs = CASE WHEN $7 THEN $4 ELSE s.attribs END   -- line 123: replaced, never merged

so an overwriting row's attributes *replace* the subscriber's whole ``attribs``; the emulator
does the same (``upsert_subscriber``)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.listmonk_settings import BounceOutcome
from reconciler.sandbox.store import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS listmonk_lists (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS listmonk_subscribers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT, email TEXT UNIQUE,
    name TEXT, attribs TEXT, status TEXT, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS listmonk_subscriptions (
    subscriber_id INTEGER, list_id INTEGER, status TEXT,
    PRIMARY KEY (subscriber_id, list_id));
CREATE TABLE IF NOT EXISTS listmonk_bounces (
    subscriber_id INTEGER, type TEXT, source TEXT, created REAL);
"""
SEED_STATUSES = ("active", "unsubscribed", "bounced", "complaint")


class ListmonkStore:
    """Subscribers, their list subscriptions and their bounces."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def init_schema(self) -> None:
        self.db.executescript(SCHEMA)

    # -- reading ------------------------------------------------------------------------------
    def subscriber(self, email: str) -> sqlite3.Row | None:
        rows = self.db.query("SELECT * FROM listmonk_subscribers WHERE email=?", (email,))
        return rows[0] if rows else None

    def subscriber_by_uuid(self, sub_uuid: str) -> sqlite3.Row | None:
        rows = self.db.query("SELECT * FROM listmonk_subscribers WHERE uuid=?", (sub_uuid,))
        return rows[0] if rows else None

    def list_names(self) -> dict[int, str]:
        return {r["id"]: r["name"] for r in self.db.query("SELECT id, name FROM listmonk_lists")}

    # -- the import's queries -----------------------------------------------------------------
    def _insert(self, email: str, name: str, attribs: Mapping[str, Any], status: str) -> int:
        now = time.time()
        self.db.execute(
            "INSERT INTO listmonk_subscribers (uuid, email, name, attribs, status, created, "
            "updated) VALUES (?,?,?,?,?,?,?)",
            (str(uuid.uuid4()), email, name, json.dumps(dict(attribs)), status, now, now),
        )
        return int(
            self.db.query("SELECT id FROM listmonk_subscribers WHERE email=?", (email,))[0][0]
        )

    def upsert_subscriber(
        self,
        row: Mapping[str, Any],
        lists: list[int],
        status: str,
        *,
        userinfo: bool,
        substatus: bool,
    ) -> int:
        """``upsert-subscriber`` (lines 114-135): a new subscriber is created enabled; a present
        one gets the row's name and attributes only with ``userinfo`` (overwrite_userinfo, or
        the document's overwrite), and then *replacing* them (line 123: ``attribs=(CASE WHEN $7
        THEN $4 ELSE s.attribs END)``). Each list is subscribed with ``status``, unsubscribed
        for a blocklisted subscriber (line 129); a present subscription keeps its status unless
        ``substatus`` (line 133)."""
        known = self.subscriber(row["email"])
        if known is None:
            sub_id = self._insert(row["email"], row["name"], row["attribs"], "enabled")
            blocklisted = False
        else:
            sub_id, blocklisted = int(known["id"]), known["status"] == "blocklisted"
            if userinfo:
                self.db.execute(
                    "UPDATE listmonk_subscribers SET name=?, attribs=?, updated=? WHERE id=?",
                    (row["name"], json.dumps(row["attribs"]), time.time(), sub_id),
                )
            else:
                self.db.execute(
                    "UPDATE listmonk_subscribers SET updated=? WHERE id=?", (time.time(), sub_id)
                )
        for list_id in lists:
            self.subscribe(
                sub_id, list_id, "unsubscribed" if blocklisted else status, replace=substatus
            )
        return sub_id

    def upsert_blocklisted(self, row: Mapping[str, Any]) -> int:
        """``upsert-blocklist-subscriber`` (lines 137-149): creates an unknown subscriber
        blocklisted with the row's name and attributes; a known one only becomes blocklisted
        (name and attributes untouched, whatever the overwrite flags); every subscription it
        has, on every list, becomes unsubscribed. No list is subscribed."""
        known = self.subscriber(row["email"])
        if known is None:
            return self._insert(row["email"], row["name"], row["attribs"], "blocklisted")
        self.blocklist(int(known["id"]))
        return int(known["id"])

    def subscribe(self, subscriber_id: int, list_id: int, status: str, *, replace: bool) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.db.execute(
            f"{verb} INTO listmonk_subscriptions VALUES (?,?,?)", (subscriber_id, list_id, status)
        )

    def blocklist(self, subscriber_id: int) -> None:
        self.db.execute(
            "UPDATE listmonk_subscribers SET status='blocklisted', updated=? WHERE id=?",
            (time.time(), subscriber_id),
        )
        self.db.execute(
            "UPDATE listmonk_subscriptions SET status='unsubscribed' WHERE subscriber_id=?",
            (subscriber_id,),
        )

    # -- bounces ------------------------------------------------------------------------------
    def bounces_of(self, subscriber_id: int, kind: str) -> int:
        return int(
            self.db.query(
                "SELECT count(*) FROM listmonk_bounces WHERE subscriber_id=? AND type=?",
                (subscriber_id, kind),
            )[0][0]
        )

    def record_bounce(
        self, subscriber_id: int, kind: str, source: str, outcome: BounceOutcome
    ) -> None:
        """``record-bounce`` (``queries/bounces.sql`` lines 1-30), its outcome decided by
        ``bounce_outcome``."""
        with self.db.lock:
            if outcome.record:
                self.db.execute(
                    "INSERT INTO listmonk_bounces VALUES (?,?,?,?)",
                    (subscriber_id, kind, source, time.time()),
                )
            if outcome.blocklist:
                # record-bounce's block1 sets the subscriber's status only.
                self.db.execute(
                    "UPDATE listmonk_subscribers SET status='blocklisted' WHERE id=?",
                    (subscriber_id,),
                )
            if outcome.unsubscribe:
                self.db.execute(
                    "UPDATE listmonk_subscriptions SET status='unsubscribed' WHERE subscriber_id=?",
                    (subscriber_id,),
                )
            if outcome.delete:
                for table, column in (
                    ("listmonk_subscriptions", "subscriber_id"),
                    ("listmonk_bounces", "subscriber_id"),
                    ("listmonk_subscribers", "id"),
                ):
                    self.db.execute(f"DELETE FROM {table} WHERE {column}=?", (subscriber_id,))

    # -- seed and dump ------------------------------------------------------------------------
    def seed_list(self, list_id: int, spec: Mapping[str, Any]) -> None:
        """A list and its contacts. Not an import: a seeded contact's attributes are merged
        into a present subscriber's, and a missing name is the address's local part (the
        emulator's choice)."""
        self.db.execute(
            "INSERT OR REPLACE INTO listmonk_lists VALUES (?,?)",
            (list_id, spec.get("name") or f"list-{list_id}"),
        )
        for contact in spec.get("contacts") or []:
            email = contact["email"].strip().lower()
            status = contact.get("status", "active")
            if status not in SEED_STATUSES:
                raise ValueError(f"listmonk seed: unknown status {status!r}")
            fields = dict(contact.get("fields") or {})
            name = str(fields.pop("name", "") or "")
            known = self.subscriber(email)
            if known is None:
                sub_id = self._insert(email, name or email.split("@")[0], fields, "enabled")
            else:
                sub_id = int(known["id"])
                merged = {**json.loads(known["attribs"] or "{}"), **fields}
                self.db.execute(
                    "UPDATE listmonk_subscribers SET name=?, attribs=? WHERE id=?",
                    (name or known["name"], json.dumps(merged), sub_id),
                )
            state = "unsubscribed" if status == "unsubscribed" else "confirmed"
            self.subscribe(sub_id, list_id, state, replace=True)
            if status in ("bounced", "complaint"):
                kind = "hard" if status == "bounced" else "complaint"
                self.db.execute(
                    "INSERT INTO listmonk_bounces VALUES (?,?,?,?)",
                    (sub_id, kind, "seed", time.time()),
                )
                self.blocklist(sub_id)

    def dump(self) -> dict[str, Any]:
        bounces: dict[int, set[str]] = {}
        for r in self.db.query("SELECT subscriber_id, type FROM listmonk_bounces"):
            bounces.setdefault(r["subscriber_id"], set()).add(r["type"])
        lists: dict[str, list[dict[str, Any]]] = {str(i): [] for i in self.list_names()}
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
            lists.setdefault(str(r["list_id"]), []).append(
                {
                    "email": r["email"],
                    "status": status,
                    "fields": {"name": r["name"], **json.loads(r["attribs"] or "{}")},
                    "vendor_status": f"{r['status']}/{r['sub_status']}",
                }
            )
        return {"lists": dict(sorted(lists.items()))}
