"""Omnigage contact imports: reading the uploaded file, guessing Omnigage's field for each column
(the ``mapping`` an import shows), and judging every row: created, updated, erred or skipped.

Pure functions over bytes and plain data; the vendor applies the outcome to the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.sandbox.importjob import FileError, address_rule, csv_records

__all__ = [
    "EMAIL_FIELD",
    "FIELDS",
    "Counts",
    "Outcome",
    "Preview",
    "count_rows",
    "dump_fields",
    "guess_mapping",
    "judge",
    "preview",
    "read_rows",
]

#: The e-mail column of a contact: its address is the contact's ``email``, not a field.
EMAIL_FIELD = "email1-email-address"

#: Omnigage's contact fields an import can map a column to, and the headers each is guessed
#: from (compared after lower-casing and turning every run of other characters into a space).
#: The first five names are those of the document's example; the others follow its pattern.
GUESSES: dict[str, tuple[str, ...]] = {
    "first-name": ("first name", "first", "firstname", "given name", "fname"),
    "last-name": ("last name", "last", "lastname", "surname", "family name", "lname"),
    "company": ("company", "company name", "organization", "organisation"),
    "phone1-phone-number": (
        "phone number",
        "phone",
        "phone 1",
        "phone1",
        "phone1 phone number",
        "mobile",
        "mobile phone",
        "cell",
        "cell phone",
    ),
    EMAIL_FIELD: (
        "email address",
        "email",
        "e mail",
        "e mail address",
        "email 1",
        "email1",
        "email1 email address",
    ),
    "email2-email-address": ("email 2", "email2", "email address 2", "email2 email address"),
    "phone2-phone-number": ("phone 2", "phone2", "phone number 2", "phone2 phone number"),
}
FIELDS: tuple[str, ...] = tuple(GUESSES)
_BY_HEADER = {header: name for name, headers in GUESSES.items() for header in headers}
_SEPARATORS = re.compile(r"[^a-z0-9]+")
#: Which addresses an import errs: the sandbox's own rule (Omnigage publishes none; the document
#: shows one valid address and nothing else), the WHATWG definition as it stands: any length of
#: local part, a domain of one label or more, 254 characters at most.
_is_address = address_rule(max_local=None, dotted_domain=False)


@dataclass(frozen=True)
class Preview:
    header: list[str]
    sample: list[str]
    mapping: list[str | None]


@dataclass
class Counts:
    """An import's ``count-*`` attributes (``count-resolved`` is always 0: see the spec)."""

    total: int = 0
    created: int = 0
    updated: int = 0
    erred: int = 0
    skipped: int = 0

    def attributes(self) -> dict[str, int]:
        return {
            "count-created": self.created,
            "count-updated": self.updated,
            "count-erred": self.erred,
            "count-total": self.total,
            "count-resolved": 0,
            "count-skipped": self.skipped,
        }


@dataclass
class Outcome:
    """What applying the judged rows does: contacts to create (email, fields JSON), contacts to
    update (id, fields JSON), and the counts."""

    creates: list[tuple[str, str]] = field(default_factory=list)
    updates: list[tuple[int, str]] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)


def guess_mapping(header: Sequence[str]) -> list[str | None]:
    """Omnigage's field for each column, ``None`` where none fits; a field goes to the first
    column that names it."""
    mapping: list[str | None] = []
    for name in header:
        guess = _BY_HEADER.get(_SEPARATORS.sub(" ", name.lower()).strip())
        mapping.append(guess if guess not in mapping else None)
    return mapping


def read_rows(data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """The header row and an iterator over the data rows (blank lines skipped)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(
            "the file is not UTF-8 CSV text (the sandbox reads CSV files only)"
        ) from None
    rows = csv_records(text)
    header = next(rows, None)
    if header is None:
        raise FileError("the file is empty: it has no header row")
    return [cell.strip() for cell in header], rows


def preview(data: bytes) -> Preview:
    header, rows = read_rows(data)
    sample = next(rows, [])
    return Preview(header=header, sample=sample, mapping=guess_mapping(header))


def count_rows(data: bytes) -> int:
    return sum(1 for _ in read_rows(data)[1])


def judge(
    rows: Iterable[list[str]],
    mapping: Sequence[str | None],
    *,
    existing: Mapping[str, tuple[int, str]] | None,
    pruning: bool,
) -> Outcome:
    """Judge each row in file order.

    A row whose address is missing or invalid is *erred*; a row repeating an address already
    seen in this file is *skipped* (the first one wins); otherwise, when ``existing`` (address →
    contact id and fields JSON) is given and holds the address, the row *updates* that contact,
    else it *creates* one. Updates overwrite the mapped fields a row fills; an empty cell clears
    its field only when ``pruning``.
    """
    email_at = mapping.index(EMAIL_FIELD) if EMAIL_FIELD in mapping else None
    columns = [(i, name) for i, name in enumerate(mapping) if name and name != EMAIL_FIELD]
    outcome = Outcome()
    counts = outcome.counts
    seen: set[str] = set()
    for row in rows:
        counts.total += 1
        email = (
            row[email_at].strip().lower() if email_at is not None and email_at < len(row) else ""
        )
        if not _is_address(email):
            counts.erred += 1
            continue
        if email in seen:
            counts.skipped += 1
            continue
        seen.add(email)
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in columns}
        match = existing.get(email) if existing is not None else None
        if match is None:
            fields = {name: value for name, value in values.items() if value}
            outcome.creates.append((email, dump_fields(fields)))
            counts.created += 1
        else:
            contact_id, current = match
            outcome.updates.append((contact_id, dump_fields(_merge(current, values, pruning))))
            counts.updated += 1
    return outcome


def _merge(current: str, values: Mapping[str, str], pruning: bool) -> dict[str, str]:
    fields: dict[str, str] = json.loads(current)
    for name, value in values.items():
        if value:
            fields[name] = value
        elif pruning:
            fields.pop(name, None)
    return fields


def dump_fields(fields: Mapping[str, str]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
