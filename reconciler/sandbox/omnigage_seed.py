"""The Omnigage part of a seed file, checked and flattened before anything is written.

Shape (every key optional)::

    credentials: [{account_key: firstbank, token_key: KEY, token_secret: SECRET}]
    s3: {access_key_id: AKIA..., secret_access_key: ..., bucket: ...}
    settings: {max-length-in-bytes: 5368724480, upload-expires-in: 3600}
    lists:
      LIST_ID: {name: Newsletter, contacts: [{email, status, fields}]}
    contacts: [{email, status, fields}]      # contacts on no list

A contact is its address (trimmed, lower case): one that appears in several places is one
contact, and must carry the same status and fields everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.importjob import SeedError
from reconciler.sandbox.omnigage_import import EMAIL_FIELD, FIELDS, dump_fields

__all__ = ["SETTINGS", "SeedError", "SeedPlan"]

#: Seedable settings and their defaults (the real values: a one-hour form, a 5 GB limit).
SETTINGS: dict[str, int] = {"max-length-in-bytes": 5368724480, "upload-expires-in": 3600}
CONTACT_FIELDS = tuple(name for name in FIELDS if name != EMAIL_FIELD)
#: A seeded contact's status. Omnigage's own words are not public; these are the sandbox's, written
#: out here rather than taken from reconciler's model, so the emulator depends on nothing of the
#: product it tests.
STATUSES = frozenset({"active", "unsubscribed", "bounced", "complaint"})


@dataclass
class SeedPlan:
    credentials: list[tuple[str, str, str]] = field(default_factory=list)
    s3: dict[str, str] = field(default_factory=dict)
    settings: dict[str, int] = field(default_factory=dict)
    lists: dict[str, str] = field(default_factory=dict)  # id -> name
    contacts: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> status, fields
    members: list[tuple[str, str]] = field(default_factory=list)  # list id, email

    @classmethod
    def parse(cls, data: Any) -> SeedPlan:
        if not isinstance(data, Mapping):
            raise SeedError("omnigage: the seed must be a mapping")
        unknown = set(data) - {"credentials", "s3", "settings", "lists", "contacts"}
        if unknown:
            raise SeedError(f"omnigage: unknown seed keys {sorted(unknown)}")
        plan = cls()
        plan._credentials(data.get("credentials") or [])
        plan._s3(data.get("s3") or {})
        plan._settings(data.get("settings") or {})
        lists = data.get("lists") or {}
        if not isinstance(lists, Mapping):
            raise SeedError("omnigage.lists: must map list IDs to lists")
        for list_id, spec in lists.items():
            plan._list(str(list_id), spec or {})
        for index, contact in enumerate(_sequence(data.get("contacts"), "omnigage.contacts")):
            plan._contact(contact, f"omnigage.contacts[{index}]")
        return plan

    def _credentials(self, items: Any) -> None:
        for index, item in enumerate(_sequence(items, "omnigage.credentials")):
            where = f"omnigage.credentials[{index}]"
            values = [
                _text(item, name, where) for name in ("account_key", "token_key", "token_secret")
            ]
            self.credentials.append((values[0], values[1], values[2]))

    def _s3(self, spec: Any) -> None:
        if not isinstance(spec, Mapping) or set(spec) - {
            "access_key_id",
            "secret_access_key",
            "bucket",
        }:
            raise SeedError(
                "omnigage.s3: allowed keys are access_key_id, secret_access_key, bucket"
            )
        self.s3 = {name: _text(spec, name, "omnigage.s3") for name in spec}

    def _settings(self, spec: Any) -> None:
        if not isinstance(spec, Mapping) or set(spec) - set(SETTINGS):
            raise SeedError(f"omnigage.settings: allowed keys are {', '.join(SETTINGS)}")
        for name, value in spec.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise SeedError(f"omnigage.settings.{name}: must be a positive integer")
            self.settings[name] = value

    def _list(self, list_id: str, spec: Any) -> None:
        where = f"omnigage.lists.{list_id}"
        if not list_id or not isinstance(spec, Mapping) or set(spec) - {"name", "contacts"}:
            raise SeedError(f"{where}: a list is {{name, contacts}} under a non-empty ID")
        self.lists[list_id] = _text(spec, "name", where) if "name" in spec else list_id
        for index, contact in enumerate(_sequence(spec.get("contacts"), f"{where}.contacts")):
            email = self._contact(contact, f"{where}.contacts[{index}]")
            self.members.append((list_id, email))

    def _contact(self, contact: Any, where: str) -> str:
        if not isinstance(contact, Mapping) or set(contact) - {"email", "status", "fields"}:
            raise SeedError(f"{where}: a contact is {{email, status, fields}}")
        email = _text(contact, "email", where).strip().lower()
        status = contact.get("status", "active")
        if status not in STATUSES:
            raise SeedError(f"{where}: status must be one of {', '.join(sorted(STATUSES))}")
        fields = contact.get("fields") or {}
        if not isinstance(fields, Mapping) or not all(
            name in CONTACT_FIELDS and isinstance(value, str) for name, value in fields.items()
        ):
            raise SeedError(
                f"{where}: fields map Omnigage field names ({', '.join(CONTACT_FIELDS)}) to text"
            )
        value = (status, dump_fields(fields))
        if self.contacts.setdefault(email, value) != value:
            raise SeedError(f"{where}: {email} is seeded twice with different status or fields")
        return email


def _sequence(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where}: must be a list")
    return value


def _text(spec: Any, name: str, where: str) -> str:
    value = spec.get(name) if isinstance(spec, Mapping) else None
    if not isinstance(value, str) or not value:
        raise SeedError(f"{where}.{name}: must be a non-empty string")
    return value
