"""The file and parameters of a listmonk subscriber import (``listmonk-import-api.txt``).

An update overwrites name and attributes (``overwrite_userinfo``), and listmonk *replaces* them
with the row's: v6.2.0 ``queries/subscribers.sql`` line 123, ``attribs=(CASE WHEN $7 THEN $4
ELSE s.attribs END)``, and line 122 the same for ``name`` (an empty one becomes the address's
local part, ``internal/subimporter/importer.go`` lines 654-665). So an update row carries the
subscriber's present name and attributes, as listmonk showed them just before the import, with
the managed changes laid over them: an attribute reconciler does not manage goes back as it
was. ``specs/vendors/listmonk.md`` has the request table."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from reconciler.model import Action
from reconciler.providers.base import Batch


class Present(NamedTuple):
    """A subscriber's name and attributes at listmonk."""

    name: str
    attribs: dict[str, Any]


class Written(NamedTuple):
    """What an import file holds: rows written, and the batch's rows left out (an update of a
    subscriber no longer on the list)."""

    rows: int
    missing: int


def import_name(batch: Batch) -> str:
    """The import's file name, the only name listmonk gives an import: the batch file's and the
    start of its sha256, so that a batch's own import is recognised again."""
    return f"{batch.path.stem}-{batch.sha256[:12]}.csv"


def import_params(action: Action, list_id: int, subscription_status: str) -> dict[str, Any]:
    """The import's params, each one the document's, except overwrite_userinfo."""
    if action in (Action.BOUNCE, Action.COMPLAINT):
        # Blocklist mode blocklists the subscriber and unsubscribes every subscription it has,
        # on every list (upsert-blocklist-subscriber, listmonk v6.2.0 queries/subscribers.sql
        # lines 137-149); listmonk keeps no bounce record of it.
        return {"mode": "blocklist", "delim": ",", "lists": [list_id], "overwrite": False}
    params: dict[str, Any] = {
        "mode": "subscribe",
        "delim": ",",
        "lists": [list_id],
        "subscription_status": subscription_status,
        # The document's overwrite also overwrites subscriptions ("the subscriber parameters
        # including subscriptions"): an update would confirm an unconfirmed subscription or
        # re-subscribe one unsubscribed since the plan. listmonk >= 6.0.0 overwrites name and
        # attributes alone with overwrite_userinfo (v6.2.0 internal/subimporter/importer.go
        # lines 91-100).
        "overwrite": False,
    }
    if action is Action.UPDATE:
        params["overwrite_userinfo"] = True
    return params


def batch_emails(path: Path) -> set[str]:
    """The addresses of a batch file (lower-cased, as listmonk keeps them)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["email"].lower() for row in csv.DictReader(fh)}


def present_of(subscribers: Iterable[Mapping[str, Any]], emails: set[str]) -> dict[str, Present]:
    """The present name and attributes of the subscribers in ``emails``, and of no other: a
    large list's other subscribers are not kept."""
    present: dict[str, Present] = {}
    for sub in subscribers:
        email = str(sub.get("email") or "").lower()
        if email in emails:
            attribs = sub.get("attribs")
            present[email] = Present(
                str(sub.get("name") or ""), dict(attribs) if isinstance(attribs, dict) else {}
            )
    return present


def write_import_file(
    batch_path: Path,
    out: IO[str],
    managed: Sequence[str],
    present: Mapping[str, Present] | None = None,
) -> Written:
    """listmonk's import columns (email, name, attributes as a JSON object), row by row from the
    batch file. With ``present`` (an update): each row is the subscriber's present name and
    attributes with the batch's values over them (an empty value is no change); a row whose
    subscriber is not in ``present`` is left out, as an import would subscribe it again."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "attributes"])
    rows = missing = 0
    with batch_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            changes = {f: row[f] for f in managed if f != "name" and row.get(f)}
            name = row.get("name") or ""
            if present is not None:
                now = present.get(row["email"].lower())
                if now is None:
                    missing += 1
                    continue
                changes = {**now.attribs, **changes}
                name = name or now.name
            writer.writerow([row["email"], name, json.dumps(changes)])
            rows += 1
    return Written(rows, missing)


__all__ = [
    "Present",
    "Written",
    "batch_emails",
    "import_name",
    "import_params",
    "present_of",
    "write_import_file",
]
