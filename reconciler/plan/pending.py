"""In-flight awareness: a plan made while jobs are pending does not plan their rows again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.model import ChangeKind
from reconciler.plan.model import Plan


def subtract_pending(
    plan: Plan,
    pending: Mapping[str, Mapping[ChangeKind, tuple[int, frozenset[str]]]],
) -> Plan:
    """Remove from each list's changes the rows that in-flight jobs already carry.

    ``pending[list][kind]`` is (rows in flight, the addresses known from their batch files);
    the counts are shown as the list's ``pending``."""
    lists = []
    for list_plan in plan.lists:
        in_flight = pending.get(list_plan.name)
        if not in_flight:
            lists.append(list_plan)
            continue
        changes = list_plan.changes.without({kind: known for kind, (_, known) in in_flight.items()})
        counts = {kind: rows for kind, (rows, _) in in_flight.items() if rows}
        lists.append(replace(list_plan, changes=changes, pending=counts))
    return replace(plan, lists=tuple(lists))
