"""``reconciler state pull``, ``push FILE`` and ``migrate --from|--to FILE``: the state taken out
of its store, put back, or moved between the configured store and a local file.

A push or a migration is deliberate, so a write the rules refuse is said as what it is (the
stored state is newer, or another state) with the command that does it all the same
(``--force``), never as the "someone else wrote the state meanwhile" of a run's own writes."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.errors import StateError
from reconciler.render.safe import terminal
from reconciler.state.local import LocalStateStore
from reconciler.state.model import State, parse_state
from reconciler.state.store import StateStore, UnreadableState, WriteRefused

#: What ``--force`` keeps of the state it replaces (a local file's ``.backup``, S3's object
#: versions or ``KEY.backup``).
KEPT = "the state it replaces is kept as the previous version"


def pull(store: StateStore) -> int:
    state = store.read()
    if state is None:
        raise StateError(f"there is no state at {store.location} yet: nothing to pull")
    print(state.model_dump_json(indent=2))
    return 0


def push(args: argparse.Namespace, store: StateStore) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read {args.file}: {exc}") from None
    state = parse_state(text, args.file)
    with store.locked("state push"):
        try:
            written = store.write(state, force=args.force)
        except UnreadableState as exc:
            raise StateError(
                f"{exc} To replace it with {args.file}, run `reconciler state push --force "
                f"{args.file}`."
            ) from None
        except WriteRefused as exc:
            raise StateError(
                _refusal(f"push {args.file}", args.file, store.location, state, exc)
                + f"; nothing was pushed. Compare them (`reconciler state pull`); to replace "
                f"it with {args.file} all the same, run `reconciler state push --force "
                f"{args.file}` ({KEPT})"
            ) from None
    if written is not state:  # ``write`` hands back the stored state when nothing changed
        print(f"{terminal(store.location)} already holds this state (serial {written.serial}).")
    else:
        print(
            f"Pushed {terminal(args.file)} to {terminal(store.location)}: serial {written.serial}."
        )
    return 0


def migrate(args: argparse.Namespace, configured: StateStore) -> int:
    file = args.from_file or args.to_file
    local = LocalStateStore(Path(file))
    source, target = (local, configured) if args.from_file else (configured, local)
    if (
        isinstance(configured, LocalStateStore)
        and configured.path.resolve() == local.path.resolve()
    ):
        raise StateError(f"the state is already at {target.location}: nothing to migrate")
    with source.locked("state migrate"), target.locked("state migrate"):
        state = source.read()
        if state is None:
            raise StateError(f"there is no state at {source.location} yet: nothing to migrate")
        try:
            written = target.write(state, force=args.force)
        except WriteRefused as exc:
            way = "--from" if args.from_file else "--to"
            raise StateError(
                _refusal(f"migrate {source.location}", source.location, target.location, state, exc)
                + f"; nothing was migrated. Move it away first, or run `reconciler state "
                f"migrate {way} {file} --force` to replace it ({KEPT})"
            ) from None
        check = target.read()
        if check is None or check.content_key() != written.content_key():
            raise StateError(
                f"the state read back from {target.location} differs from {source.location}"
            )
    source_at, target_at = terminal(source.location), terminal(target.location)
    then = (
        f"{source_at} is left as it was: remove it."
        if args.from_file
        else f"Point the configuration's `state:` at it (backend: local, path: …); "
        f"{source_at} is left as it was."
    )
    print(
        f"Migrated the state (lineage {terminal(written.lineage)}, serial {written.serial}) "
        f"from {source_at} to {target_at}. {then}"
    )
    return 0


def _refusal(what: str, source: str, target: str, state: State, exc: WriteRefused) -> str:
    """Why ``what`` (from ``source``, holding ``state``) is refused at ``target``. The lineages
    are the files': terminal() keeps a line feed in one from forging a line of the message."""
    stored = exc.stored
    if exc.rule == "lineage":
        return (
            f"refusing to {what} over {target}: it holds another state (lineage "
            f"{terminal(stored.lineage)}, serial {stored.serial}; {source} has lineage "
            f"{terminal(state.lineage)})"
        )
    return (
        f"refusing to {what} over {target}: it holds a newer version of this state (serial "
        f"{stored.serial}; {source} has serial {state.serial})"
    )
