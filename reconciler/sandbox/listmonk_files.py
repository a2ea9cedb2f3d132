"""listmonk's import request: parameter checks and the CSV (or ZIP) it uploads."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Mapping
from typing import Any

SUBSCRIPTION_STATUSES = ("unconfirmed", "confirmed", "unsubscribed")


def check_params(params: Any) -> str | None:
    if not isinstance(params, dict):
        return "Invalid params: expected a JSON object"
    if params.get("mode") not in ("subscribe", "blocklist"):
        return "Invalid mode: expected subscribe or blocklist"
    delim = params.get("delim")
    if not isinstance(delim, str) or len(delim) != 1:
        return "Invalid delimiter: expected a single character"
    lists = params.get("lists") or []
    if not isinstance(lists, list) or not all(isinstance(i, int) for i in lists):
        return "Invalid lists: expected an array of list IDs"
    if params["mode"] == "subscribe" and not lists:
        return "Invalid lists: at least one list is needed in subscribe mode"
    status = params.get("subscription_status")
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        return "Invalid subscription_status"
    for flag in ("overwrite", "overwrite_userinfo", "overwrite_subscription_status"):
        if not isinstance(params.get(flag, False), bool):
            return f"Invalid {flag}: expected true or false"
    params.setdefault("overwrite", False)
    return None


def overwrites(params: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether an import overwrites (name and attributes, subscription status) of subscribers
    already present. listmonk v6.2.0 ``internal/subimporter/importer.go`` lines 91-100 and
    173-177: ``overwrite`` (the document's flag: "the subscriber parameters including
    subscriptions") sets both; ``overwrite_userinfo`` and ``overwrite_subscription_status``
    (since v6.0.0, beyond the document) set one each."""
    both = bool(params.get("overwrite"))
    return (
        both or bool(params.get("overwrite_userinfo")),
        both or bool(params.get("overwrite_subscription_status")),
    )


def read_csv(raw: bytes, delim: str) -> list[dict[str, Any]]:
    if raw[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise ValueError("the ZIP must hold one CSV file")
                raw = archive.read(names[0])
        except zipfile.BadZipFile:
            raise ValueError("not a valid ZIP file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise ValueError("the CSV needs an 'email' column")
    rows = []
    for line in reader:
        record = {k.strip().lower(): (v or "") for k, v in line.items() if k}
        email = record.get("email", "").strip().lower()
        if not email:
            continue
        rows.append(
            {
                "email": email,
                "name": import_name(email, record.get("name", "")),
                "attribs": _attributes(record.get("attributes", "")),
            }
        )
    return rows


def import_name(email: str, name: str) -> str:
    """A row's name as the importer keeps it: trimmed, and when empty the address's local part.
    listmonk v6.2.0 (``ValidateFields``, ``internal/subimporter/importer.go`` lines 654-665) also
    makes the local part's dots spaces and title-cases each word (``ann.lee`` → ``Ann Lee``);
    the emulator keeps it as it is (``ann.lee``: invented, known). Either way an overwriting row
    with no name renames a present subscriber."""
    return name.strip() or email.split("@")[0]


def _attributes(cell: str) -> dict[str, Any]:
    """A row's ``attributes`` JSON object (``importer.go`` lines 568-579). An empty cell, or
    one that is not a JSON object (listmonk logs it and imports the row without attributes),
    is ``{}``: listmonk stores JSON ``null`` then (``json.Marshal`` of a nil map,
    ``models/common.go`` 119-121); either way the subscriber is left with no attributes."""
    if not cell:
        return {}
    try:
        attribs = json.loads(cell)
    except ValueError:
        return {}
    return attribs if isinstance(attribs, dict) else {}


def stamp() -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S")


def iso(value: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
