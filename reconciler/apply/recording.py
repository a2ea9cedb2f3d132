"""Recording the applied membership while apply runs (``reconciler/state/applied.py``).

The ledger apply writes through is wrapped: when a job of a list ends having applied rows,
those rows are journaled *before* the ledger records the job as ended, while its batch file
is still on disk. A crash in between leaves the job in flight and its journal written: the
next run polls the job again and journals the same rows again, which the merge takes as one.
At the end of the run the journals are merged into each list's file. Lists whose vendor can
be read are journaled in the keyed form (``reconciler/state/keys.py``): they are never
planned from it, and it need name nobody."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.config.loader import LoadedConfig
from reconciler.config.schema import ListConfig
from reconciler.engine.baseline import write_baseline
from reconciler.engine.duck import connect
from reconciler.model import Action
from reconciler.plan.model import Plan
from reconciler.private import private_dir
from reconciler.providers.base import JobState, JobStatus, Provider
from reconciler.sources.desired import collect_sources
from reconciler.state.applied import list_files, merge, record_batch, record_file
from reconciler.state.blobs import Blobs
from reconciler.state.keys import state_salt
from reconciler.state.ledger import StateLedger
from reconciler.state.membership import Form, journals, safe_name
from reconciler.state.model import State


def applied_rows_known(status: JobStatus) -> bool:
    """Whether the rows the vendor applied are known: all of them when the job succeeded; all
    but the refused ones when it failed row by row and named every refused row."""
    if status.state is JobState.SUCCEEDED:
        return True
    failed = status.counts.get("failed")
    return bool(status.failures) and failed is not None and len(status.failures) >= failed


class RecordingLedger:
    """A :class:`StateLedger` that journals the applied rows of the lists it is told to."""

    def __init__(
        self,
        ledger: StateLedger,
        blobs: Blobs,
        providers: Mapping[str, Provider],
        list_configs: Mapping[str, ListConfig],
        scratch: Path,
    ) -> None:
        self.scratch = scratch
        self.ledger = ledger
        self.blobs = blobs
        self.providers = providers
        self.list_configs = list_configs
        self._salt: str | None = None

    def salt(self) -> str:
        if self._salt is None:  # apply holds the state's lock: made once, by one writer
            self._salt = state_salt(self.blobs, create=True)
        assert self._salt is not None
        return self._salt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def finished(self, entry_id: str, status: JobStatus) -> None:
        entry = next(e for e in self.ledger.state.jobs if e.id == entry_id)
        provider = self.providers.get(entry.provider)
        list_config = self.list_configs.get(entry.list)
        path = Path(entry.file)
        if (
            provider is not None
            and list_config is not None
            and applied_rows_known(status)
            and path.is_file()
        ):
            action = Action(entry.action)
            fmt = provider.batch_format(list_config, action)
            refused = [str(f.get("email") or "") for f in status.failures]
            salt = self.salt() if provider.can_read_current else None
            record_batch(
                self.blobs,
                entry.list,
                entry_id,
                action,
                path,
                fmt,
                refused,
                self.scratch,
                salt=salt,
            )
        self.ledger.finished(entry_id, status)


def merge_applied(state: State, blobs: Blobs, scratch: Path) -> list[str]:
    """Merge every list's journals into its membership file and point ``state`` at it (the
    caller writes the state); the names to delete once the state is written: the journals
    merged, and the list's files older than the one before (kept: the state's backup names
    it)."""
    merged: list[str] = []
    con = connect()
    try:
        for name, list_state in state.lists.items():
            if not journals(blobs, name):
                continue
            previous = list_state.applied
            ref, names = merge(con, blobs, name, previous, scratch / "applied")
            list_state.applied = ref
            keep = {r.file for r in (ref, previous) if r is not None}
            merged += names + [f for f in list_files(blobs, name) if f not in keep]
    finally:
        con.close()
    return merged


def finish_with_applied(
    ledger: StateLedger, blobs: Blobs, scratch: Path, finish: Callable[[], None]
) -> None:
    """End a run: the journals merged into the lists' files, the state written by ``finish``
    (naming the new files), and only then the merged journals deleted."""
    merged = merge_applied(ledger.state, blobs, scratch)
    finish()
    for name in merged:
        blobs.delete(name)


def record_baselines(
    loaded: LoadedConfig,
    plan: Plan,
    state: State,
    blobs: Blobs,
    providers: Mapping[str, Provider],
    scratch: Path,
) -> None:
    """Before anything is sent: journal the baseline (``reconciler/engine/baseline.py``) of
    each list whose vendor can be read and that either has changes to apply or has nothing
    recorded yet. A list with neither keeps its record as it is (a full pass over its members
    each time would cost as much as the plan)."""
    wanted = [
        lp.name
        for lp in plan.lists
        if lp.provider in providers
        and providers[lp.provider].can_read_current
        and (lp.has_actions or not _recorded(state, blobs, lp.name))
    ]
    if not wanted:
        return
    salt = state_salt(blobs, create=True)
    assert salt is not None
    desired = collect_sources(loaded, wanted)
    private_dir(scratch)
    con = connect()
    try:
        for name in wanted:
            target = scratch / f"baseline-{safe_name(name)}.parquet"
            changed = (c.email for c in plan.list(name).changes)
            write_baseline(con, desired.lists[name], changed, salt, target)
            record_file(blobs, name, "baseline", target, Form.KEYED)
            target.unlink()
    finally:
        con.close()


def _recorded(state: State, blobs: Blobs, name: str) -> bool:
    entry = state.lists.get(name)
    return (entry is not None and entry.applied is not None) or bool(journals(blobs, name))
