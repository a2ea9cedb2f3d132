"""Canonical checksums of a plan: what it would send, and what it was computed from.

A saved plan records both; apply re-reads the vendors, plans again and compares the fresh
plan's checksum with the saved one, as octoDNS's ``--checksum`` does, so that rows reviewed
against one state of the vendors are never sent against another (``specs/plan-artifact.md``).

The plan checksum covers, per list, its identity (name, provider, vendor list ID) and every
row that sends something: kind, address, desired field values and the vendor's previous
values. It leaves out ``held`` rows (nothing is sent for them), each row's ``reason`` (its
provenance text: a line moved in a CSV file changes no request) and when the plan was made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from itertools import islice
from json.encoder import encode_basestring

from reconciler.model import KIND_ORDER, ChangeKind
from reconciler.plan.jsonform import values_json
from reconciler.plan.model import ListChange, ListPlan, Plan

_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def row_line(change: ListChange) -> str:
    """One row's canonical line: the compact JSON array ``[kind, email, fields, previous]``
    (keys sorted, not ASCII-escaped) and a newline."""
    fields, previous = change.fields, change.previous
    return (
        f'["{change.kind.value}",{encode_basestring(change.email)},'
        f"{values_json(fields, compact=True) if fields else '{}'},"
        f"{values_json(previous, compact=True) if previous else '{}'}]\n"
    )


def list_checksum(list_plan: ListPlan) -> str:
    digest = hashlib.sha256()
    header = [list_plan.name, list_plan.provider, list_plan.vendor_list_id]
    digest.update((_encode(header) + "\n").encode())
    # Every store streams a kind's rows in address order (plan.changes): hashed a chunk at a
    # time, never held whole (a plan may hold ten million rows).
    for kind in KIND_ORDER:
        if kind is ChangeKind.HELD or not list_plan.counts[kind]:
            continue
        rows = list_plan.of_kind(kind)
        while chunk := list(islice(rows, 50_000)):
            digest.update("".join(map(row_line, chunk)).encode())
    return digest.hexdigest()


def plan_checksum(plan: Plan) -> str:
    """sha256 over the lists, in name order, each given as its ``list_checksum``."""
    digest = hashlib.sha256()
    for list_plan in sorted(plan.lists, key=lambda lp: lp.name):
        digest.update(f"{list_checksum(list_plan)}\n".encode())
    return digest.hexdigest()


def exports_checksum(plan: Plan) -> str:
    """sha256 over where each list's current state came from and the sha256 of what was read.

    Recorded to say *what* changed when a saved plan turns out stale; the refusal itself rests
    on the plan checksum, since a vendor export also changes for reasons no row depends on."""
    entries: list[Mapping[str, object]] = [
        {
            "list": lp.name,
            "kind": lp.current.kind if lp.current else None,
            "sha256": lp.current.sha256 if lp.current else None,
        }
        for lp in sorted(plan.lists, key=lambda lp: lp.name)
    ]
    return hashlib.sha256(_encode(entries).encode()).hexdigest()


__all__ = ["exports_checksum", "list_checksum", "plan_checksum", "row_line"]
