"""``reconciler state rebuild LIST [--adopt]``: the applied membership of a list whose vendor
can be read, made again from what the vendor holds now (Terraform's ``refresh``, for the
state's record of a list): after the state was lost or forgotten, or to start three-way drift
and ownership on a list reconciler did not fill.

The list is read and planned as ``plan`` would; what is recorded is what an apply would have
recorded for it: its declared members that the plan leaves as they are (in sync at the
vendor), keyed (``reconciler/engine/baseline.py``). Members with changes still to apply are
left out (the next apply records them), and so are the vendor's undeclared members: they are
not reconciler's. Nothing is sent to any vendor. ``--adopt`` records the members as added by
reconciler, so that ``drop_scope: owned`` drops them once the repository stops declaring
them."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from reconciler.apply.recording import merge_applied
from reconciler.cli.common import load
from reconciler.config.loader import LoadedConfig
from reconciler.engine.baseline import write_baseline
from reconciler.engine.duck import connect
from reconciler.engine.planner import build_plan
from reconciler.errors import PlanError
from reconciler.private import private_dir
from reconciler.render.safe import terminal
from reconciler.sources.desired import collect_sources
from reconciler.state.applied import list_files, record_file
from reconciler.state.blobs import blobs_for
from reconciler.state.keys import state_salt
from reconciler.state.membership import Form, journals, safe_name
from reconciler.state.model import ListState, State
from reconciler.state.open import open_store
from reconciler.state.store import StateStore
from reconciler.workflow.runtime import Runtime, config_dir
from reconciler.workspace import work_dir


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("list_name", metavar="LIST")
    command.add_argument(
        "--adopt",
        action="store_true",
        help="record the members as added by reconciler (drop_scope: owned drops them later)",
    )


def run_rebuild(args: argparse.Namespace) -> int:
    loaded = load(args)
    name = args.list_name
    config = loaded.config.lists.get(name)
    if config is None:
        known = ", ".join(sorted(loaded.config.lists)) or "(none)"
        raise PlanError(f"unknown list {name!r} (defined lists: {known})")
    base = config_dir(loaded)
    store = open_store(base, loaded.config.state, override=args.state)
    with (
        store.locked("state rebuild"),
        Runtime(loaded, workdir=work_dir(base)) as rt,
    ):
        provider = rt.provider(config.provider)
        if not provider.can_read_current:
            raise PlanError(
                f"list {name!r}: {provider.vendor} cannot be read through its documented API, "
                "so what it holds cannot be rebuilt from it; its applied membership comes only "
                "from apply (and `reconciler state forget` makes the state forget it)"
            )
        plan = build_plan(loaded, targets=[name], vendors=rt).list(name)
        state = store.read() or State()
        entry = state.lists.setdefault(
            name,
            ListState(
                provider=config.provider, vendor=provider.vendor, vendor_list_id=config.list_id
            ),
        )
        entry.provider, entry.vendor_list_id = config.provider, config.list_id
        rows = _record_anew(
            loaded, store, state, name, [c.email for c in plan.changes], rt.scratch(), args.adopt
        )
    print(_summary(name, provider.vendor, rows, len(plan.changes), adopt=args.adopt))
    return 0


def _record_anew(
    loaded: LoadedConfig,
    store: StateStore,
    state: State,
    name: str,
    changed: list[str],
    scratch: Path,
    adopt: bool,
) -> int:
    """Replace the list's record by its baseline, write the state, then delete what it
    replaced (the file the state's previous version names is kept); the members recorded."""
    blobs = blobs_for(store)
    old = list_files(blobs, name)
    previous = state.lists[name].applied
    for journal in journals(blobs, name):
        blobs.delete(journal)
    state.lists[name].applied = None
    salt = state_salt(blobs, create=True)
    assert salt is not None
    scratch = private_dir(scratch / "rebuild")
    target = scratch / f"{safe_name(name)}.parquet"
    con = connect()
    try:
        entry = collect_sources(loaded, [name]).lists[name]
        write_baseline(con, entry, changed, salt, target, adopt=adopt)
    finally:
        con.close()
    record_file(blobs, name, f"rebuild-{uuid.uuid4().hex[:12]}", target, Form.KEYED)
    merged = merge_applied(state, blobs, scratch)
    store.write(state)  # names the new file; only then is what it replaced deleted
    current = state.lists[name].applied
    keep = {ref.file for ref in (current, previous) if ref is not None}
    for stale in [*merged, *(f for f in old if f not in keep)]:
        blobs.delete(stale)
    return current.rows if current is not None else 0


def _summary(name: str, vendor: str, rows: int, changes: int, *, adopt: bool) -> str:
    line = (
        f"Rebuilt what the state records of list {terminal(name)} from {vendor}: {rows:,} "
        "declared member(s) in sync there"
    )
    if changes:
        line += f"; {changes:,} with changes still to apply are left to the next apply"
    if adopt:
        line += "; adopted: reconciler's own (drop_scope: owned drops them when undeclared)"
    return line + "."
