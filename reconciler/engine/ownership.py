"""``drop_scope: owned``: an authoritative list drops only the members reconciler added.

Sign-ups from forms and other tools reach the vendor's list without passing through the
repository; an authoritative list would drop each of them. With ``drop_scope: owned`` a drop
is kept only for a member the state records reconciler adding (an ``add`` or ``resubscribe``
that the vendor applied: ``reconciler/state/membership.py``); every other undeclared member is
left where it is, counted and sampled in the plan. On a list's first apply nothing is
recorded, so nobody is reconciler's and nothing is dropped: the plan says so."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from reconciler.config.schema import ListConfig
from reconciler.engine.rules import drop_reason
from reconciler.model import ChangeKind
from reconciler.plan.model import ListPlan, NotOwned

#: Kept members a plan names; the rest are counted.
SAMPLE = 20


class Recorded(Protocol):
    """What reconciler recorded of one list (``reconciler.state.membership.Recorded``)."""

    def owned(self, con: Any, emails: list[str]) -> set[str]: ...


@runtime_checkable
class Recorder(Protocol):
    """Where the planner finds what reconciler recorded of a list (the runtime)."""

    def recorded(self, list_name: str, list_config: ListConfig) -> Recorded | None: ...


def keep_not_owned(con: Any, plan: ListPlan, recorded: Recorded | None) -> ListPlan:
    """``plan`` with its drops of members reconciler did not add taken out, and counted."""
    kind = ChangeKind(plan.drop_action.value)
    reason = drop_reason(kind)
    drops = [c.email for c in plan.of_kind(kind) if c.reason == reason]
    if not drops:
        return plan
    owned = recorded.owned(con, drops) if recorded is not None else set()
    kept = [email for email in drops if email not in owned]
    if not kept:
        return plan
    # An address has one row per list: the kept drops are exactly the rows of these addresses.
    changes = plan.changes.without({kind: set(kept)})
    not_owned = NotOwned(len(kept), tuple(kept[:SAMPLE]), recorded is not None)
    return replace(plan, changes=changes, not_owned=not_owned)
