"""How an Ongage import applies its rows to a list: the membership rules and the counts.

Pure functions over a list's contacts (``email -> Contact``), so the rules are testable
without HTTP. ``specs/vendors/ongage.md`` states them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")

COUNT_KEYS = (
    "total",
    "success",
    "failed",
    "duplicate",
    "existing",
    "not_existing",
    "incomplete",
    "invalid",
)


@dataclass
class Contact:
    status: str  # active | unsubscribed | bounced | complaint
    fields: dict[str, str | None] = field(default_factory=dict)


class ImportFileError(ValueError):
    """The file cannot be imported at all (the job ends 90008 Invalid)."""


def decode_file(data: bytes) -> str:
    """CSV/TXT bytes, or a ZIP holding exactly one CSV/TXT file."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) != 1 or not names[0].lower().endswith((".csv", ".txt")):
                    raise ImportFileError("the ZIP must hold exactly one CSV or TXT file")
                data = archive.read(names[0])
        except zipfile.BadZipFile:
            raise ImportFileError("the file is not a valid ZIP archive") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None


def parse_rows(
    text: str, delimiter: str, list_fields: list[str]
) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows; the header must name ``email`` and only known list fields."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    if "email" not in [h.lower() for h in header]:
        raise ImportFileError("the file has no 'email' column in its header row")
    header = [h.lower() if h.lower() == "email" else h for h in header]
    unknown = [h for h in header if h != "email" and h not in list_fields]
    if unknown:
        raise ImportFileError(f"unknown list field(s): {', '.join(unknown)}")
    rows = [dict(zip(header, row, strict=False)) for row in reader if any(c.strip() for c in row)]
    return header, rows


@dataclass(frozen=True)
class ImportOptions:
    action: str = "add"
    overwrite: bool = False
    ignore_empty: bool = False
    overwrite_only_nulls: bool = False


def _merge_fields(contact: Contact, row: Mapping[str, str], options: ImportOptions) -> None:
    for name, value in row.items():
        if name == "email":
            continue
        if value == "" and options.ignore_empty:
            continue
        if options.overwrite_only_nulls and contact.fields.get(name):
            continue
        contact.fields[name] = value or None


def _apply_one(
    contacts: MutableMapping[str, Contact],
    email: str,
    row: Mapping[str, str],
    options: ImportOptions,
) -> str:
    """Apply one row; return the count it falls under."""
    contact = contacts.get(email)
    action = options.action
    if action == "add":
        if contact is None:
            contacts[email] = Contact("active", {})
            _merge_fields(contacts[email], row, ImportOptions(overwrite=True))
            return "success"
        # An add never re-activates an unsubscribed, bounced or complained contact.
        if options.overwrite or options.overwrite_only_nulls:
            _merge_fields(contact, row, options)
        return "existing"
    if contact is None:
        return "not_existing"
    if action == "remove":
        del contacts[email]
    elif action == "unsubscribe":
        if contact.status == "active":
            contact.status = "unsubscribed"
    elif action == "resubscribe":
        if contact.status == "active":
            return "existing"
        contact.status = "active"
        _merge_fields(contact, row, ImportOptions(ignore_empty=True))
    else:  # bounce, complaint
        contact.status = "bounced" if action == "bounce" else "complaint"
    return "success"


def apply_rows(
    contacts: MutableMapping[str, Contact],
    rows: list[dict[str, str]],
    options: ImportOptions,
) -> dict[str, int]:
    """Apply ``rows`` to ``contacts`` in place; return Ongage's counts."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    seen: set[str] = set()
    for row in rows:
        counts["total"] += 1
        email = (row.get("email") or "").strip().lower()
        if not _EMAIL.fullmatch(email):
            counts["invalid"] += 1
        elif email in seen:
            counts["duplicate"] += 1
        else:
            seen.add(email)
            counts[_apply_one(contacts, email, row, options)] += 1
    return counts
