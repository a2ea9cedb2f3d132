"""Ongage exports in the sandbox: request validation and the ZIP the retrieve call answers."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

DATE_FORMATS = (
    "mm/dd/yyyy",
    "mm/dd/yy",
    "mm-dd-yyyy",
    "mm-dd-yy",
    "dd/mm/yyyy",
    "dd/mm/yy",
    "dd-mm-yyyy",
    "dd-mm-yy",
)
EXPORT_STATUSES = (
    "active",
    "unjoin-member",
    "clicked",
    "opened",
    "inactive",
    "bounced",
    "complaint",
)
# Which contacts an export status selects (clicked/opened/inactive: the sandbox has no mailings).
STATUS_SELECTS = {
    "active": "active",
    "unjoin-member": "unsubscribed",
    "bounced": "bounced",
    "complaint": "complaint",
}
SYSTEM_FIELDS = ("ocx_contact_id", "ocx_created_date", "ocx_unsubscribe_date")


def check_statuses(statuses: Any, by_segment: bool) -> str | None:
    if not isinstance(statuses, list) or not statuses:
        return "status is required (an array)"
    for status in statuses:
        if status not in EXPORT_STATUSES:
            return f"status {status!r} is not one of {', '.join(EXPORT_STATUSES)}"
        if status in ("bounced", "complaint") and not by_segment:
            return f"status {status} is available for export based on segment only"
    return None


def check_fields(selected: Any, fields: list[str]) -> str | None:
    if selected is None:
        return None
    if not isinstance(selected, list) or not all(isinstance(f, str) for f in selected):
        return "fields_selected must be an array of strings"
    known = {"email", *fields, *SYSTEM_FIELDS}
    unknown = [f for f in selected if f not in known]
    if unknown:
        return f"unknown field(s) in fields_selected: {', '.join(unknown)}"
    return None


def export_zip(
    body: Mapping[str, Any], fields: list[str], contacts: Iterable[Any], export_id: int
) -> bytes:
    """One CSV in a ZIP: the selected fields of the contacts whose status was asked for."""
    columns = body.get("fields_selected") or ["email", *fields]
    wanted = {STATUS_SELECTS[s] for s in body["status"] if s in STATUS_SELECTS}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for index, contact in enumerate(contacts, start=1):
        if contact["status"] not in wanted:
            continue
        values = json.loads(contact["fields"])
        system = {
            "ocx_contact_id": str(index),
            "ocx_created_date": str(int(contact["created"])),
            "ocx_unsubscribe_date": "",
        }
        writer.writerow(
            [
                contact["email"] if c == "email" else system.get(c, values.get(c) or "")
                for c in columns
            ]
        )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"export_{export_id}.csv", buffer.getvalue())
    return archive.getvalue()
