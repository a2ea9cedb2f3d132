"""The plan's canonical JSON form (a public contract: ``specs/plan-json.md``) and back.

Renderers work from this form, so a saved plan renders exactly as a fresh one. Very large
lists spill their rows into a JSON Lines file next to the plan (``rows_file``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.model import KIND_ORDER, ChangeKind, DropAction, ListMode
from reconciler.plan.model import (
    FORMAT_VERSION,
    CapabilityGap,
    CurrentStateRef,
    GuardViolation,
    ListChange,
    ListPlan,
    Plan,
)

INLINE_ROW_LIMIT = 100_000


def _counts(counts: dict[ChangeKind, int]) -> dict[str, int]:
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
    return ListChange(
        ChangeKind(data["kind"]),
        data["email"],
        data["reason"],
        dict(data.get("fields") or {}),
        dict(data.get("previous") or {}),
    )


def _current(ref: CurrentStateRef | None) -> dict[str, Any] | None:
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


def list_to_dict(
    list_plan: ListPlan,
    *,
    rows_dir: Path | None = None,
    base: Path | None = None,
    inline_row_limit: int = INLINE_ROW_LIMIT,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": list_plan.name,
        "provider": list_plan.provider,
        "vendor": list_plan.vendor,
        "vendor_list_id": list_plan.vendor_list_id,
        "mode": list_plan.mode.value,
        "drop_action": list_plan.drop_action.value,
        "current": _current(list_plan.current),
        "desired_members": list_plan.desired_members,
        "active_members": list_plan.active_members,
        "changes": _counts(list_plan.counts),
        "pending": {k.value: v for k, v in list_plan.pending.items()},
        "gaps": [
            {"action": g.action.value, "count": g.count, "explanation": g.explanation}
            for g in list_plan.gaps
        ],
        "skipped_invalid": list(list_plan.skipped_invalid),
    }
    if rows_dir is not None and len(list_plan.changes) > inline_row_limit:
        rows_dir.mkdir(parents=True, exist_ok=True)
        path = rows_dir / f"{list_plan.name}.jsonl"
        write_rows(path, list_plan.changes)
        data["rows_file"] = str(path.relative_to(base) if base else path)
    else:
        data["rows"] = [change_to_dict(c) for c in list_plan.changes]
    return data


def write_rows(path: Path, changes: Iterable[ListChange]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for change in changes:
            fh.write(json.dumps(change_to_dict(change), ensure_ascii=False, sort_keys=True))
            fh.write("\n")


def plan_to_dict(
    plan: Plan,
    *,
    rows_dir: Path | None = None,
    base: Path | None = None,
    inline_row_limit: int = INLINE_ROW_LIMIT,
) -> dict[str, Any]:
    """The canonical JSON form. ``rows_dir``: where lists of more than ``inline_row_limit``
    rows write them (paths recorded relative to ``base``, the JSON file's directory)."""
    return {
        "format_version": plan.format_version,
        "created_at": plan.created_at.isoformat(),
        "config_checksum": plan.config_checksum,
        "summary": _counts(plan.counts),
        "lists": [
            list_to_dict(lp, rows_dir=rows_dir, base=base, inline_row_limit=inline_row_limit)
            for lp in plan.lists
        ],
        "guards": [guard_to_dict(v) for v in plan.guards],
    }


def _read_rows(path: Path) -> tuple[ListChange, ...]:
    with path.open(encoding="utf-8") as fh:
        return tuple(change_from_dict(json.loads(line)) for line in fh if line.strip())


def plan_from_dict(data: dict[str, Any], *, base: Path | None = None) -> Plan:
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"unsupported plan format_version {data.get('format_version')!r} "
            f"(this reconciler reads {FORMAT_VERSION})"
        )
    lists = []
    for item in data["lists"]:
        if "rows_file" in item:
            rows = _read_rows((base or Path()) / item["rows_file"])
        else:
            rows = tuple(change_from_dict(r) for r in item["rows"])
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
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
