"""Read every vendor and the state, and make the Drift: what ``drift`` and ``suppressions
pull`` share. Nothing is sent to any vendor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

from reconciler.apply.inflight import pending_rows
from reconciler.config.loader import LoadedConfig
from reconciler.drift.compute import SAMPLE, compute_drift
from reconciler.drift.model import Drift
from reconciler.drift.provenance import Provenance, provenance
from reconciler.engine.duck import connect
from reconciler.engine.planner import build_plan
from reconciler.model import KIND_ORDER
from reconciler.plan.model import Plan
from reconciler.plan.pending import subtract_pending
from reconciler.state.blobs import blobs_for
from reconciler.state.failures import last_apply_failures
from reconciler.state.membership import applied_reader
from reconciler.state.open import open_store
from reconciler.workflow.runtime import Runtime, config_dir
from reconciler.workspace import work_dir

#: Shows the vendors being read while the block runs (``cli.common.reading_progress``).
Progress = Callable[[Runtime], AbstractContextManager[None]]


def read_drift(
    loaded: LoadedConfig,
    *,
    targets: Sequence[str] | None = None,
    sample: int = SAMPLE,
    progress: Progress | None = None,
) -> Drift:
    workdir = work_dir(config_dir(loaded))
    store = open_store(config_dir(loaded), loaded.config.state)
    state = store.read()
    with Runtime(loaded, workdir=workdir) as runtime:
        runtime.applied = applied_reader(blobs_for(store), lambda: state)
        with progress(runtime) if progress else nullcontext():
            plan = build_plan(loaded, targets=targets, vendors=runtime)
        # Rows of jobs still in flight are counted once, as pending, not as changes too.
        plan = subtract_pending(plan, pending_rows(state))
        origins = _provenance(loaded, plan, runtime, sample)
    # As the plan's note: the refused rows of lists the next apply sends to again.
    names = [lp.name for lp in plan.lists if lp.has_actions]
    failed = last_apply_failures(state, config_dir(loaded), names, sample=sample)
    return compute_drift(plan, state, sample=sample, failed=failed, provenance=origins)


def _provenance(
    loaded: LoadedConfig, plan: Plan, runtime: Runtime, sample: int
) -> dict[str, Provenance]:
    """Per list with differences, which side moved since the last apply (three-way)."""
    out: dict[str, Provenance] = {}
    con = connect()
    try:
        for lp in plan.lists:
            if not lp.changes:
                continue
            recorded = runtime.recorded(lp.name, loaded.config.lists[lp.name])
            shown = {c.email for kind in KIND_ORDER for c in lp.changes.head(kind, sample)}
            out[lp.name] = provenance(con, lp, recorded, sample=shown)
    finally:
        con.close()
    return out
