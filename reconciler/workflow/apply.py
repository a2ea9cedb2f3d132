"""One apply (or poll) run's pieces, wired for the commands that send or follow jobs: the
ledger on the state's store, the applier on the runtime's providers, the applied membership
recorded as jobs end. Prints nothing: progress goes to the ``events`` the command passes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from reconciler.apply.engine import Applier, BatchOutcome, Events
from reconciler.apply.recording import RecordingLedger
from reconciler.config.loader import LoadedConfig
from reconciler.plan.model import Plan
from reconciler.providers.base import Provider
from reconciler.state.blobs import blobs_for
from reconciler.state.ledger import StateLedger
from reconciler.state.membership import applied_reader
from reconciler.state.model import ExportSeen, ListState, State
from reconciler.state.store import StateStore
from reconciler.workflow.runtime import Runtime, config_dir
from reconciler.workspace import batches_dir, failures_dir


def wire(
    loaded: LoadedConfig,
    store: StateStore,
    rt: Runtime,
    events: Events,
    *,
    sending: bool = True,
) -> tuple[StateLedger, Applier]:
    """The ledger (on the store) and the applier (on the runtime's providers) of one run, with
    staging started and the files of jobs in flight served again (``Runtime.open_staging``)."""
    base = config_dir(loaded)
    run_id = uuid.uuid4().hex[:12]
    ledger = StateLedger(
        store,
        store.read() or State(),
        run_id=run_id,
        failures_dir=failures_dir(base),
    )
    providers: Mapping[str, Provider] = {
        name: rt.provider(name) for name in loaded.config.providers
    }
    # Lists whose vendor cannot be read are planned from what this state applied to them,
    # and each job that applies rows to one is journaled (reconciler/apply/recording.py).
    blobs = blobs_for(store)
    rt.applied = applied_reader(blobs, lambda: ledger.state)
    applier = Applier(
        providers=providers,
        list_configs=loaded.config.lists,
        ledger=RecordingLedger(
            ledger, blobs, providers, loaded.config.lists, rt.scratch() / "journal"
        ),
        batch_dir=batches_dir(base, run_id),
        events=events,
        stager_for=rt.stager_for,
    )
    rt.open_staging(ledger.in_flight(), sending=sending)
    return ledger, applier


def begin(
    loaded: LoadedConfig,
    store: StateStore,
    rt: Runtime,
    events: Events,
    *,
    plan_checksum: str = "",
) -> tuple[StateLedger, Applier, list[BatchOutcome]]:
    """Start an apply run: wired, recorded in the ledger, and every job a crashed run left in
    flight followed to its end first (what each ended as)."""
    ledger, applier = wire(loaded, store, rt, events)
    ledger.start_run("apply", plan_checksum=plan_checksum)
    return ledger, applier, applier.resume()


def record_exports(state: State, plan: Plan) -> None:
    """Remember each list's current state as read for ``plan`` (its export fingerprint)."""
    for lp in plan.lists:
        ref = lp.current
        entry = state.lists.get(lp.name) or ListState(
            provider=lp.provider, vendor=lp.vendor, vendor_list_id=lp.vendor_list_id
        )
        if ref is not None:
            entry.last_export = ExportSeen(
                kind=ref.kind,
                location=ref.location,
                rows=ref.rows,
                sha256=ref.sha256,
                read_at=ref.read_at,
            )
        state.lists[lp.name] = entry
