"""What a Yesmail file import does to a target list's load table (pure, no I/O).

The file is read as a stream (a million-row import must not hold every row twice); each
record is judged in file order, so a member named twice in one file behaves as two requests.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from reconciler.sandbox.importjob import FileError, address_rule, csv_records
from reconciler.sandbox.yesmail_request import ImportRequest

__all__ = ["Layout", "Outcome", "count_records", "evaluate", "is_address", "read_records"]

#: Whether a text is an address (any case) by the sandbox's own rule: the document names the
#: error ("Invalid email address.") but not the rule (specs/vendors/yesmail.md, "Records"): a
#: local part of 1-64 characters, a domain of two or more labels, 254 characters at most.
is_address = address_rule(max_local=64, dotted_domain=True)
# Built once: json.dumps with non-default arguments builds an encoder per call (a third of the
# time of a million-row import).
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode

INVALID_EMAIL = "Invalid email address."
NOT_LOWER_CASE = "Invalid email address. Email address must be in lower case."
NOT_A_MEMBER = "Member does not exist."


@dataclass(frozen=True)
class Layout:
    """Where each mapped load-table column is in the file's rows."""

    id_index: int
    attributes: tuple[tuple[str, int], ...]  # (column, index), id excluded

    @property
    def width(self) -> int:
        return max((self.id_index, *(i for _, i in self.attributes))) + 1


@dataclass
class Outcome:
    """Per-record results and the load-table rows to write (if the import is applied)."""

    requested: int = 0
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # (index, status, msg)
    ignored: list[int] = field(default_factory=list)
    writes: dict[str, str] = field(default_factory=dict)  # member id -> attributes JSON


def read_records(data: bytes, request: ImportRequest) -> tuple[Layout, Iterator[list[str]]]:
    """The column layout and a stream of the file's records (blank lines are not records)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(f"File is not UTF-8 text (byte {exc.start}).") from None
    records = csv_records(text, request.separator)
    header = next(records, None) if request.headers else None
    return _layout(request, header), records


def _layout(request: ImportRequest, header: list[str] | None) -> Layout:
    positions: dict[str, int] = {}
    for key, target in request.mappings:
        if isinstance(target, int):
            positions[key] = target
            continue
        if header is None:
            raise FileError("File has no header row.")
        if target not in header:
            raise FileError(f"Header row has no column '{target}' (mapped to '{key}').")
        positions[key] = header.index(target)
    id_index = positions.pop(request.member_id)
    return Layout(id_index, tuple(positions.items()))


def count_records(data: bytes, request: ImportRequest) -> int:
    """The pre-parse: checks the layout and counts the records."""
    _, records = read_records(data, request)
    return sum(1 for _ in records)


def evaluate(
    records: Iterable[list[str]],
    layout: Layout,
    import_type: str,
    subscribers: Container[str],
    existing: Mapping[str, str],
) -> Outcome:
    """Judge every record against the subscriber database and the list's current rows."""
    outcome = Outcome()
    width, id_index, attributes = layout.width, layout.id_index, layout.attributes
    writes, failed = outcome.writes, outcome.failed
    index = -1
    for index, row in enumerate(records):
        if len(row) < width:
            missing = min(i for i in (id_index, *(i for _, i in attributes)) if i >= len(row))
            failed.append((index, 400, f"Row has no column {missing}."))
            continue
        member = row[id_index]
        error = _member_error(member, subscribers)
        if error is not None:
            failed.append((index, *error))
            continue
        current = writes.get(member, existing.get(member))
        if current is None:
            writes[member] = _attributes_json({}, row, attributes)
        elif import_type == "ignore":
            outcome.ignored.append(index)
        elif import_type == "update":
            writes[member] = _attributes_json(json.loads(current), row, attributes)
        else:  # replace: unmapped attributes are cleared
            writes[member] = _attributes_json({}, row, attributes)
    outcome.requested = index + 1
    return outcome


def _member_error(member: str, subscribers: Container[str]) -> tuple[int, str] | None:
    if not is_address(member):
        return 400, INVALID_EMAIL
    if member != member.lower():
        return 400, NOT_LOWER_CASE
    if member not in subscribers:
        return 404, NOT_A_MEMBER
    return None


def _attributes_json(
    base: dict[str, str], row: list[str], attributes: tuple[tuple[str, int], ...]
) -> str:
    # An empty cell clears the attribute (the load table holds NULL), so it is left out.
    for name, i in attributes:
        value = row[i]
        if value:
            base[name] = value
        else:
            base.pop(name, None)
    return _ENCODE(base)
