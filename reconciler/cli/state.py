"""``reconciler state``: read the state, and break a stale lock by its ID."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reconciler.cli.common import add_config_argument
from reconciler.config.loader import load_config
from reconciler.errors import ConfigError
from reconciler.runtime import config_dir
from reconciler.state.open import open_store
from reconciler.state.store import StateStore


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("state", help="read the state; unlock a stale lock")
    commands = parser.add_subparsers(dest="state_command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("list", "lists with the fingerprint of the last export seen"),
        ("show", "the whole state as JSON"),
        ("jobs", "the job ledger"),
        ("unlock", "remove a stale lock (needs its ID)"),
    ):
        command = commands.add_parser(name, help=help_text)
        add_config_argument(command)
        command.add_argument("--state", metavar="FILE", help="state file (default from config)")
        if name == "jobs":
            command.add_argument("--list", dest="list_name", metavar="NAME")
            command.add_argument("--status")
        if name == "unlock":
            command.add_argument("lock_id")
        command.set_defaults(func=globals()[f"run_{name}"])


def _store(args: argparse.Namespace) -> StateStore:
    if args.state:
        return open_store(Path("."), {}, override=args.state)
    try:
        loaded = load_config(Path(args.config))
    except ConfigError:
        # The state must stay readable when the sources are broken: fall back to the default.
        root = Path(args.config)
        return open_store(root if root.is_dir() else root.parent, {})
    return open_store(config_dir(loaded), loaded.config.state)


def run_list(args: argparse.Namespace) -> int:
    state = _store(args).read()
    if state is None:
        print("No state yet.")
        return 0
    print(f"lineage {state.lineage}, serial {state.serial}")
    for name, entry in sorted(state.lists.items()):
        seen = entry.last_export
        export = (
            (
                f"{seen.kind} {seen.rows:,} rows sha256 {seen.sha256[:12]} at "
                f"{seen.read_at.isoformat() if seen.read_at else '?'}"
            )
            if seen
            else "no export"
        )
        print(f"{name}\t{entry.vendor} {entry.vendor_list_id}\t{export}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    state = _store(args).read()
    print(json.dumps(json.loads(state.model_dump_json()) if state else None, indent=2))
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    state = _store(args).read()
    if state is None:
        print("No state yet.")
        return 0
    print("list\taction\tbatch\trows\tstatus\tvendor job\tsubmitted\tfinished\tcounts")
    for job in state.jobs:
        if args.list_name and job.list != args.list_name:
            continue
        if args.status and job.status != args.status:
            continue
        counts = ",".join(f"{k}={v}" for k, v in job.counts.items() if v)
        print(
            "\t".join(
                [
                    job.list,
                    job.action,
                    str(job.index),
                    str(job.rows),
                    job.status,
                    job.vendor_job_id or "-",
                    job.submitted_at.isoformat() if job.submitted_at else "-",
                    job.finished_at.isoformat() if job.finished_at else "-",
                    counts or "-",
                ]
            )
        )
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    store = _store(args)
    store.unlock(args.lock_id)
    print(f"Unlocked {store.location}.")
    return 0
