"""The plan's canonical JSON form (a public contract: ``specs/plan-json.md``) and back.

Renderers work from this form, so a saved plan renders exactly as a fresh one. Very large
lists spill their rows into a JSON Lines file next to the plan (``rows_file``). What is written
has every known secret masked (``reconciler.redact``): a row holds what a vendor answered.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import islice
from json.encoder import encode_basestring
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode
from reconciler.plan import changes as stores
from reconciler.plan.changes import Changes, InMemoryChanges
from reconciler.plan.columnar import columnar_from_json_lines
from reconciler.plan.model import (
    FORMAT_VERSION,
    CapabilityGap,
    CurrentStateRef,
    FieldValues,
    GuardViolation,
    ListChange,
    ListPlan,
    NotOwned,
    Plan,
    Unaddressable,
)
from reconciler.private import open_private, private_dir
from reconciler.redact import scrub_json, scrub_json_lines

INLINE_ROW_LIMIT = 100_000

_NO_VALUES: FieldValues = MappingProxyType({})

#: Writes a list's rows somewhere and returns the ``rows_file`` reference to record.
RowsSink = Callable[[ListPlan], str]
#: Opens a recorded ``rows_file`` reference for reading, as text.
RowsOpener = Callable[[str], IO[str]]


def _counts(counts: Mapping[ChangeKind, int]) -> dict[str, int]:
    return {kind.value: counts.get(kind, 0) for kind in KIND_ORDER}


def change_to_dict(change: ListChange) -> dict[str, Any]:
    return {
        "kind": change.kind.value,
        "email": change.email,
        "reason": change.reason,
        "fields": dict(change.fields),
        "previous": dict(change.previous),
    }


def change_from_dict(data: dict[str, Any]) -> ListChange:
    # The decoded dicts are the row's own: no copy, and the shared empty mapping for the many
    # rows without values (a saved plan holds millions of rows).
    return ListChange(
        _KINDS.get(data["kind"]) or ChangeKind(data["kind"]),
        data["email"],
        data["reason"],
        data.get("fields") or _NO_VALUES,
        data.get("previous") or _NO_VALUES,
    )


_KINDS = {kind.value: kind for kind in ChangeKind}


def values_json(values: FieldValues, *, compact: bool = False) -> str:
    """A row's field values as a JSON object with sorted keys, like ``json.dumps(values,
    ensure_ascii=False, sort_keys=True)`` (``separators=(",", ":")`` when ``compact``), built
    by hand: several times faster for the one or two string values rows carry."""
    if not values:
        return "{}"
    colon, comma = (":", ",") if compact else (": ", ", ")
    if len(values) == 1:  # most rows: one managed field
        ((name, value),) = values.items()
        encoded = "null" if value is None else encode_basestring(value)
        return f"{{{encode_basestring(name)}{colon}{encoded}}}"
    parts = []
    for name, value in sorted(values.items()):
        if value is None:
            parts.append(f"{encode_basestring(name)}{colon}null")
        else:
            parts.append(f"{encode_basestring(name)}{colon}{encode_basestring(value)}")
    return "{" + comma.join(parts) + "}"


def change_to_json(change: ListChange) -> str:
    """``json.dumps(change_to_dict(change), ensure_ascii=False, sort_keys=True)``, written out
    by hand: about twice as fast, and a saved plan writes millions of rows."""
    return (
        f'{{"email": {encode_basestring(change.email)}, '
        f'"fields": {values_json(change.fields)}, '
        f'"kind": "{change.kind.value}", '
        f'"previous": {values_json(change.previous)}, '
        f'"reason": {encode_basestring(change.reason)}}}'
    )


def current_to_dict(ref: CurrentStateRef | None) -> dict[str, Any] | None:
    """The JSON form of where a list's current state came from."""
    if ref is None:
        return None
    return {
        "kind": ref.kind,
        "location": ref.location,
        "rows": ref.rows,
        "sha256": ref.sha256,
        "read_at": ref.read_at.isoformat() if ref.read_at else None,
        "reported_total": ref.reported_total,
    }


def guard_to_dict(violation: GuardViolation) -> dict[str, Any]:
    return {
        "guard": violation.guard,
        "list": violation.list,
        "count": violation.count,
        "base": violation.base,
        "limit": violation.limit,
        "flag": violation.flag,
        "overridden": violation.overridden,
        "explanation": violation.explanation,
    }


def guard_from_dict(data: dict[str, Any]) -> GuardViolation:
    return GuardViolation(
        data["guard"],
        data["list"],
        data["count"],
        data["base"],
        data["limit"],
        data["flag"],
        data["explanation"],
        data["overridden"],
    )


def unaddressable_to_dict(unaddressable: Unaddressable | None) -> dict[str, Any] | None:
    """The JSON form of the vendor's rows no batch can name: ``None`` when there are none."""
    if unaddressable is None:
        return None
    return {"rows": unaddressable.rows, "sample": list(unaddressable.sample)}


def unaddressable_from_dict(data: dict[str, Any] | None) -> Unaddressable | None:
    # A plan saved before the field existed has no key: read as none, like a null.
    if data is None:
        return None
    return Unaddressable(data["rows"], tuple(data["sample"]))


def not_owned_to_dict(not_owned: NotOwned | None) -> dict[str, Any] | None:
    if not_owned is None:
        return None
    return {
        "members": not_owned.members,
        "sample": list(not_owned.sample),
        "recorded": not_owned.recorded,
    }


def not_owned_from_dict(data: dict[str, Any] | None) -> NotOwned | None:
    if data is None:  # also a plan saved before the field existed
        return None
    return NotOwned(data["members"], tuple(data["sample"]), data["recorded"])


def list_to_dict(
    list_plan: ListPlan,
    *,
    rows_dir: Path | None = None,
    base: Path | None = None,
    inline_row_limit: int = INLINE_ROW_LIMIT,
    rows_sink: RowsSink | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": list_plan.name,
        "provider": list_plan.provider,
        "vendor": list_plan.vendor,
        "vendor_list_id": list_plan.vendor_list_id,
        "mode": list_plan.mode.value,
        "drop_action": list_plan.drop_action.value,
        "current": current_to_dict(list_plan.current),
        "desired_members": list_plan.desired_members,
        "active_members": list_plan.active_members,
        "changes": _counts(list_plan.counts),
        "pending": {k.value: v for k, v in list_plan.pending.items()},
        "gaps": [
            {"action": g.action.value, "count": g.count, "explanation": g.explanation}
            for g in list_plan.gaps
        ],
        "skipped_invalid": list(list_plan.skipped_invalid),
        "unaddressable": unaddressable_to_dict(list_plan.unaddressable),
        "not_owned": not_owned_to_dict(list_plan.not_owned),
    }
    if rows_sink is not None:
        data["rows_file"] = rows_sink(list_plan)
    elif rows_dir is not None and len(list_plan.changes) > inline_row_limit:
        private_dir(rows_dir)
        path = rows_dir / f"{list_plan.name}.jsonl"
        write_rows(path, list_plan.changes)
        data["rows_file"] = str(path.relative_to(base) if base else path)
    else:
        data["rows"] = [change_to_dict(c) for c in list_plan.changes]
    return data


def write_rows(path: Path, changes: Iterable[ListChange]) -> bool:
    with open_private(path, "w", encoding="utf-8") as fh:
        return write_rows_to(fh, changes)


def write_rows_to(fh: IO[str], changes: Iterable[ListChange]) -> bool:
    """Rows as JSON Lines: one row object per line, keys sorted. True when a known secret
    had to be masked in them (the rows written are then not exactly the plan's)."""
    batch: list[str] = []
    masked = False
    for change in changes:
        batch.append(change_to_json(change))
        if len(batch) == 10_000:
            masked |= _write_chunk(fh, batch)
            batch.clear()
    if batch:
        masked |= _write_chunk(fh, batch)
    return masked


def _write_chunk(fh: IO[str], rows: list[str]) -> bool:
    text = "\n".join(rows) + "\n"
    scrubbed = scrub_json_lines(text, _row_json)
    fh.write(scrubbed)
    return scrubbed != text


def _row_json(data: Any) -> str:
    """A row as ``change_to_json`` writes it, from its decoded form."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def plan_to_dict(
    plan: Plan,
    *,
    rows_dir: Path | None = None,
    base: Path | None = None,
    inline_row_limit: int = INLINE_ROW_LIMIT,
    rows_sink: RowsSink | None = None,
) -> dict[str, Any]:
    """The canonical JSON form. ``rows_dir``: where lists of more than ``inline_row_limit``
    rows write them (paths recorded relative to ``base``, the JSON file's directory);
    ``rows_sink``: instead, where every list writes its rows (a saved plan's archive)."""
    return {
        "format_version": plan.format_version,
        "created_at": plan.created_at.isoformat(),
        "config_checksum": plan.config_checksum,
        "summary": _counts(plan.counts),
        "lists": [
            list_to_dict(
                lp,
                rows_dir=rows_dir,
                base=base,
                inline_row_limit=inline_row_limit,
                rows_sink=rows_sink,
            )
            for lp in plan.lists
        ],
        "guards": [guard_to_dict(v) for v in plan.guards],
    }


def read_rows_from(fh: IO[str]) -> Changes:
    """Rows written by :func:`write_rows_to`: in memory when they are few, else copied to a
    file and read into a columnar store by DuckDB (a saved plan of ten million rows must not
    become ten million objects)."""
    head = list(islice(fh, stores.IN_MEMORY_ROWS + 1))
    if len(head) <= stores.IN_MEMORY_ROWS:
        decode = json.JSONDecoder().raw_decode
        return InMemoryChanges.of(
            change_from_dict(decode(line)[0]) for line in head if line.strip()
        )
    with tempfile.TemporaryDirectory(prefix="reconciler-rows-") as scratch:
        copy = Path(scratch) / "rows.jsonl"
        with copy.open("w", encoding="utf-8") as out:
            out.writelines(head)
            shutil.copyfileobj(fh, out, 1 << 20)
        return columnar_from_json_lines(copy)


def plan_from_dict(
    data: dict[str, Any], *, base: Path | None = None, open_rows: RowsOpener | None = None
) -> Plan:
    """Back from the canonical form; ``rows_file`` references are opened with ``open_rows``
    (by default: paths relative to ``base``)."""

    def open_file(reference: str) -> IO[str]:
        return ((base or Path()) / reference).open(encoding="utf-8")

    opener = open_rows or open_file
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"unsupported plan format_version {data.get('format_version')!r} "
            f"(this reconciler reads {FORMAT_VERSION})"
        )
    lists = []
    for item in data["lists"]:
        if "rows_file" in item:
            with opener(item["rows_file"]) as fh:
                rows = read_rows_from(fh)
        else:
            rows = InMemoryChanges.of(change_from_dict(r) for r in item["rows"])
        current = item.get("current")
        lists.append(
            ListPlan(
                name=item["name"],
                provider=item["provider"],
                vendor=item["vendor"],
                vendor_list_id=item["vendor_list_id"],
                mode=ListMode(item["mode"]),
                drop_action=DropAction(item["drop_action"]),
                changes=rows,
                current=CurrentStateRef(
                    current["kind"],
                    current["location"],
                    current["rows"],
                    current["sha256"],
                    datetime.fromisoformat(current["read_at"]) if current["read_at"] else None,
                    current.get("reported_total"),
                )
                if current
                else None,
                desired_members=item["desired_members"],
                active_members=item["active_members"],
                skipped_invalid=tuple(item.get("skipped_invalid") or ()),
                unaddressable=unaddressable_from_dict(item.get("unaddressable")),
                not_owned=not_owned_from_dict(item.get("not_owned")),
                gaps=tuple(
                    CapabilityGap(ChangeKind(g["action"]), g["count"], g["explanation"])
                    for g in item.get("gaps") or ()
                ),
                pending={ChangeKind(k): v for k, v in (item.get("pending") or {}).items()},
            )
        )
    return Plan(
        lists=tuple(lists),
        created_at=datetime.fromisoformat(data["created_at"]),
        config_checksum=data.get("config_checksum", ""),
        format_version=data["format_version"],
        guards=tuple(guard_from_dict(g) for g in data.get("guards") or ()),
    )


def dumps(data: dict[str, Any]) -> str:
    """The JSON text of a plan's canonical form, every known secret masked."""
    return scrub_json(_dumps(data), _dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
