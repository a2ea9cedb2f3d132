"""``reconciler state``: read the state, break a stale lock by its ID, record what a vendor
holds for a batch whose fate is unknown, pull and push the state, and migrate it between the
configured store and a local file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reconciler.cli import state_members, state_rebuild, state_transfer
from reconciler.cli.common import add_config_argument
from reconciler.config.loader import load_config
from reconciler.errors import ConfigError, StateError
from reconciler.private import private_dir
from reconciler.render.failures import failure_line
from reconciler.render.safe import terminal
from reconciler.state.failures import failures_of
from reconciler.state.open import open_store
from reconciler.state.resolve import resolve
from reconciler.state.store import StateStore
from reconciler.workflow.runtime import config_dir
from reconciler.workspace import work_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("state", help="read, unlock, resolve, pull, push or migrate the state")
    commands = parser.add_subparsers(dest="state_command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("list", "lists with the fingerprint of the last export seen"),
        ("show", "the whole state as JSON"),
        ("jobs", "the job ledger"),
        ("unlock", "remove a stale lock (needs its ID)"),
        ("resolve", "record what a vendor holds for a batch whose fate is unknown"),
        ("pull", "print the stored state file (JSON) on stdout"),
        ("push", "replace the stored state with a state file (same lineage, serial not older)"),
        ("migrate", "copy the state between the configured store and a local file"),
        ("members", "what reconciler applied to a list whose vendor cannot be read"),
        ("forget", "forget what was applied to a list, or to some of its members"),
        ("rebuild", "record again what a readable vendor holds of a list (sends nothing)"),
    ):
        command = commands.add_parser(name, help=help_text)
        add_config_argument(command)
        command.add_argument("--state", metavar="FILE", help="state file (default from config)")
        if name == "jobs":
            command.add_argument("--list", dest="list_name", metavar="NAME")
            command.add_argument("--status")
        if name == "unlock":
            command.add_argument("lock_id")
        if name in ("members", "forget"):
            state_members.add_arguments(name, command)
        if name == "rebuild":
            state_rebuild.add_arguments(command)
        if name == "resolve":
            command.add_argument("entry", metavar="ENTRY", help="the ledger entry's ID")
            answer = command.add_mutually_exclusive_group(required=True)
            answer.add_argument(
                "--sent", metavar="JOB_ID", help="the vendor holds this job of the batch"
            )
            answer.add_argument(
                "--unsent", action="store_true", help="the vendor holds no job of the batch"
            )
        if name == "push":
            command.add_argument("file", metavar="FILE")
            command.add_argument(
                "--force",
                action="store_true",
                help="push even a different lineage or an older serial (the stored state is "
                "kept as the previous version)",
            )
        if name == "migrate":
            way = command.add_mutually_exclusive_group(required=True)
            way.add_argument("--from", dest="from_file", metavar="FILE", help="local → configured")
            way.add_argument("--to", dest="to_file", metavar="FILE", help="configured → local")
            command.add_argument(
                "--force",
                action="store_true",
                help="replace even another state or a newer serial where it goes (kept as "
                "the previous version)",
            )
        command.set_defaults(func=globals()[f"run_{name}"])


class _UnsetIsEmpty(dict[str, str]):
    """The environment, with every unset variable read as empty."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def _store(args: argparse.Namespace) -> StateStore:
    return _open(args)[0]


def _open(args: argparse.Namespace) -> tuple[StateStore, Path]:
    """The state's store, and the configuration's directory (where ``.reconciler/`` is)."""
    if args.state:
        return open_store(Path("."), override=args.state), Path(".")
    try:
        loaded = load_config(Path(args.config))
    except ConfigError as exc:
        # The state must stay readable without the vendors' secrets (a CI job that only
        # inspects it); guessing another store for a broken configuration would not be.
        try:
            loaded = load_config(Path(args.config), env=_UnsetIsEmpty(os.environ))
        except ConfigError:
            raise exc from None
    base = config_dir(loaded)
    return open_store(base, loaded.config.state), base


def run_members(args: argparse.Namespace) -> int:
    store, base = _open(args)
    with _scratch(base) as scratch:
        return state_members.run_members(args, store, scratch)


def run_rebuild(args: argparse.Namespace) -> int:
    return state_rebuild.run_rebuild(args)


def run_forget(args: argparse.Namespace) -> int:
    store, base = _open(args)
    with _scratch(base) as scratch:
        return state_members.run_forget(args, store, scratch)


@contextlib.contextmanager
def _scratch(base: Path) -> Iterator[Path]:
    """A private directory of this command's own for copies of the applied membership (which
    holds addresses), removed on exit."""
    root = private_dir(work_dir(base))
    directory = Path(tempfile.mkdtemp(prefix="state-", dir=root))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_list(args: argparse.Namespace) -> int:
    state = _store(args).read()
    if state is None:
        print("No state yet.")
        return 0
    # Every value is the state's, which a vendor's answers or a hand-edited file wrote: each
    # goes through terminal(), so none can move the cursor, and a tab in one is shown as \t
    # rather than splitting the line's columns.
    print(f"lineage {terminal(state.lineage)}, serial {state.serial}")
    for name, entry in sorted(state.lists.items()):
        seen = entry.last_export
        export = (
            (
                f"{terminal(seen.kind)} {seen.rows:,} rows sha256 {terminal(seen.sha256[:12])} "
                f"at {seen.read_at.isoformat() if seen.read_at else '?'}"
            )
            if seen
            else "no export"
        )
        print(
            f"{terminal(name)}\t{terminal(entry.vendor)} {terminal(entry.vendor_list_id)}\t{export}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    state = _store(args).read()
    print(json.dumps(json.loads(state.model_dump_json()) if state else None, indent=2))
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    store, base = _open(args)
    state = store.read()
    if state is None:
        print("No state yet.")
        return 0
    print("list\taction\tbatch\trows\tstatus\tvendor job\tsubmitted\tfinished\tcounts")
    shown = [
        job
        for job in state.jobs
        if (not args.list_name or job.list == args.list_name)
        and (not args.status or job.status == args.status)
    ]
    for job in shown:
        counts = ",".join(f"{k}={v}" for k, v in job.counts.items() if v)
        # Each column through terminal() (the vendor wrote the job ID and the counts' names):
        # a tab or line feed in a value is shown escaped, so the columns stay the columns.
        print(
            "\t".join(
                map(
                    terminal,
                    [
                        job.list,
                        job.action,
                        job.index,
                        job.rows,
                        job.status,
                        job.vendor_job_id or "-",
                        job.submitted_at.isoformat() if job.submitted_at else "-",
                        job.finished_at.isoformat() if job.finished_at else "-",
                        counts or "-",
                    ],
                )
            )
        )
    # After the table, so its columns stay the same for scripts: each job's refused rows,
    # read from its failures file (the state holds no address).
    failed = failures_of(state, shown, base)
    if failed:
        print("\nFailed rows:")
        for item in failed:
            print(f"  {failure_line(item)}")
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    store = _store(args)
    store.unlock(args.lock_id)
    print(f"Unlocked {terminal(store.location)}.")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    store = _store(args)
    with store.locked("state resolve"):
        state = store.read()
        if state is None:
            raise StateError(f"there is no state at {store.location} yet")
        entry = resolve(state, args.entry, job_id=args.sent)
        store.write(state)
    what = f"list '{entry.list}', {entry.action} batch {entry.index}"
    if entry.status == "submitted":
        then = f"as sent, job {entry.vendor_job_id}: the next apply or poll follows it"
    else:
        then = "as never received: the next apply sends the batch again if its plan needs it"
    print(f"Recorded ledger entry {terminal(entry.id)} ({terminal(what)}) {terminal(then)}.")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    return state_transfer.pull(_store(args))


def run_push(args: argparse.Namespace) -> int:
    return state_transfer.push(args, _store(args))


def run_migrate(args: argparse.Namespace) -> int:
    return state_transfer.migrate(args, _store(args))
