"""The safety guards on the command line: one ``--allow-…`` flag per guard for ``plan`` and
``apply``, the guards' verdict attached to the plan before it is shown, and the refusal (exit
3) after it is shown. There is deliberately no blanket ``--force``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

from reconciler.config.loader import LoadedConfig
from reconciler.errors import UnsafePlanError
from reconciler.plan.model import Plan
from reconciler.safety.guards import (
    EMPTY_EXPORT_FLAG,
    EXPORT_MISMATCH_FLAG,
    EXPORT_SHRINK_FLAG,
    blocked_message,
    evaluate,
    settings_for,
)
from reconciler.state.model import State

FLAG_HELP: dict[str, str] = {
    "--allow-mass-removal": "allow more removals and unsubscribes than max_drop_percent/_count",
    "--allow-mass-add": "allow more adds and re-subscribes than max_add_percent/_count",
    "--allow-mass-update": "allow more updates than max_update_percent/_count",
    "--allow-mass-suppression": "allow more bounces and complaints than "
    "max_suppression_percent/_count",
    EXPORT_SHRINK_FLAG: "allow a current-state read that shrank more than "
    "max_export_shrink_percent since the state's last export",
    EMPTY_EXPORT_FLAG: "allow an empty current-state read where the state's last export had rows",
    EXPORT_MISMATCH_FLAG: "allow a current-state read whose row count differs from the "
    "vendor's reported total",
}


def add_guard_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "safety guards", "each flag lets one guard through (specs/safety.md)"
    )
    for flag, text in FLAG_HELP.items():
        group.add_argument(flag, action="store_true", help=text)


def overrides(args: argparse.Namespace) -> frozenset[str]:
    return frozenset(flag for flag in FLAG_HELP if getattr(args, flag[2:].replace("-", "_"), False))


def check_guards(
    plan: Plan, loaded: LoadedConfig, state: State | None, args: argparse.Namespace
) -> Plan:
    """The plan with its guard verdict attached, so that every rendering shows it."""
    settings = {lp.name: settings_for(loaded.config, lp.name) for lp in plan.lists}
    return replace(plan, guards=tuple(evaluate(plan, settings, state, overrides(args))))


def enforce(plan: Plan, *, on_blocked: Callable[[], None] | None = None) -> None:
    """Refuse (exit 3) a plan a guard blocked; ``on_blocked`` runs first (e.g. to close the
    run in the ledger)."""
    blocked = plan.blocked
    if not blocked:
        return
    if on_blocked is not None:
        on_blocked()
    raise UnsafePlanError(blocked_message(blocked))
