"""The ``yesmail`` part of a seed file, checked and turned into rows (pure, no I/O).

Shape (every key optional)::

    credentials: {api_user, api_key} | [{api_user, api_key}, ...]
    subscribers: ["a@example.com", {email: b@example.com, status: bounced}, ...]
    lists:
      NAME: {columns: [email, firstname], contacts: [{email, status, fields}, ...]}
    quirks: {completed_key: "completed ", schema_view: false}

``columns`` is the list's whole load table: exactly those columns. Its member ID column is
``id`` when named, else ``email``; columns naming neither (seeds written when ``id`` was always
added) get ``id`` in front, so that every load table has a member ID column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox import importjob
from reconciler.sandbox.yesmail_import import is_address
from reconciler.sandbox.yesmail_request import EMAIL_ID, MEMBER_ID, member_id_column

#: The load table of a target list that was not seeded with its own: the columns of the
#: document's example payload (``{"id": 0}, {"firstname": 1}, {"lastname": 2}``).
DEFAULT_COLUMNS: tuple[str, ...] = (MEMBER_ID, "firstname", "lastname")
#: Subscriber status, in reconciler's vocabulary.
STATUSES = ("active", "unsubscribed", "bounced", "complaint")
COMPLETED_KEY = "completed"
_SEED_KEYS = ("credentials", "lists", "quirks", "subscribers")


class SeedError(importjob.SeedError):
    """The ``yesmail`` part of a seed file is malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(f"yesmail seed: {message}")


@dataclass
class SeedPlan:
    credentials: list[tuple[str, str]] = field(default_factory=list)
    explicit: dict[str, str] = field(default_factory=dict)  # member -> seeded status
    implicit: list[str] = field(default_factory=list)  # members seeded without a status
    lists: list[str] = field(default_factory=list)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    members: list[tuple[str, str, str]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> SeedPlan:
        if not isinstance(data, Mapping):
            raise SeedError("expected a mapping")
        unknown = sorted(set(data) - set(_SEED_KEYS))
        if unknown:
            raise SeedError(f"unknown key(s) {unknown}; allowed: {list(_SEED_KEYS)}")
        plan = cls()
        plan._credentials(data.get("credentials") or [])
        for entry in data.get("subscribers") or []:
            if isinstance(entry, str):
                plan._subscriber(entry, None, "subscribers")
            elif isinstance(entry, Mapping) and set(entry) <= {"email", "status"}:
                plan._subscriber(entry.get("email"), entry.get("status"), "subscribers")
            else:
                raise SeedError(f"subscribers: expected an address or {{email, status}}: {entry!r}")
        lists = data.get("lists") or {}
        if not isinstance(lists, Mapping):
            raise SeedError("lists must map a target list name to {columns, contacts}")
        for name, spec in lists.items():
            plan._list(str(name), spec or {})
        plan._quirks(data.get("quirks") or {})
        return plan

    def _credentials(self, value: Any) -> None:
        entries = [value] if isinstance(value, Mapping) else value
        for entry in entries:
            user, key = (
                (entry.get("api_user"), entry.get("api_key"))
                if isinstance(entry, Mapping)
                else (None, None)
            )
            if not (isinstance(user, str) and user and isinstance(key, str) and key):
                raise SeedError("credentials need a non-empty api_user and api_key")
            self.credentials.append((user, key))

    def _subscriber(self, email: Any, status: Any, where: str) -> str:
        if not isinstance(email, str) or not is_address(email):
            raise SeedError(f"{where}: invalid e-mail address {email!r}")
        if email != email.lower():
            raise SeedError(f"{where}: {email!r} must be lower case (Yesmail IDs are)")
        if status is None:
            self.implicit.append(email)
            return email
        if status not in STATUSES:
            raise SeedError(f"{where}: status of {email} must be one of {list(STATUSES)}")
        if self.explicit.get(email, status) != status:
            raise SeedError(
                f"{where}: {email} is seeded both {self.explicit[email]!r} and {status!r};"
                " a Yesmail subscriber has one status for every list"
            )
        self.explicit[email] = status
        return email

    def _list(self, name: str, spec: Any) -> None:
        if not isinstance(spec, Mapping) or not set(spec) <= {"columns", "contacts"}:
            raise SeedError(f"lists.{name}: expected {{columns, contacts}}")
        self.lists.append(name)
        columns = DEFAULT_COLUMNS
        if "columns" in spec:
            columns = _columns(name, spec["columns"])
            self.columns[name] = columns
        for contact in spec.get("contacts") or []:
            self._contact(name, columns, contact)

    def _contact(self, name: str, columns: Sequence[str], contact: Any) -> None:
        where = f"lists.{name}.contacts"
        if not isinstance(contact, Mapping) or not set(contact) <= {"email", "status", "fields"}:
            raise SeedError(f"{where}: expected {{email, status, fields}}: {contact!r}")
        email = self._subscriber(contact.get("email"), contact.get("status"), where)
        fields = contact.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise SeedError(f"{where}: fields of {email} must be a mapping")
        attributes = [c for c in columns if c != member_id_column(columns)]
        unknown = sorted(set(fields) - set(attributes))
        if unknown:
            raise SeedError(
                f"{where}: {email} has field(s) {unknown} that are not load-table columns"
                f" {attributes} (set lists.{name}.columns)"
            )
        values = {k: str(v) for k, v in fields.items() if v is not None and v != ""}
        self.members.append(
            (name, email, json.dumps(values, sort_keys=True, separators=(",", ":")))
        )

    def _quirks(self, quirks: Any) -> None:
        if not isinstance(quirks, Mapping) or not set(quirks) <= {"completed_key", "schema_view"}:
            raise SeedError("quirks: only 'completed_key' and 'schema_view' are known")
        if "schema_view" in quirks:
            if not isinstance(quirks["schema_view"], bool):
                raise SeedError("quirks.schema_view must be true or false")
            # false: GET /v2/target-lists?view=schema answers 404, as an account without it
            self.settings["schema_view"] = "on" if quirks["schema_view"] else "off"
        if "completed_key" in quirks:
            key = quirks["completed_key"]
            if key not in (COMPLETED_KEY, COMPLETED_KEY + " "):
                raise SeedError("quirks.completed_key must be 'completed' or 'completed '")
            self.settings["completed_key"] = key


def _columns(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise SeedError(f"lists.{name}.columns must be a list of column names")
    if len(set(value)) != len(value):
        raise SeedError(f"lists.{name}.columns must not repeat a name")
    return load_table_columns(value)


def load_table_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """A load table's columns: as given when they name a member ID column (``id`` or
    ``email``), else with ``id`` in front (the reading of seeds that listed attributes only)."""
    if MEMBER_ID in columns or EMAIL_ID in columns:
        return tuple(columns)
    return (MEMBER_ID, *columns)
