"""``reconciler poll``: follow pending jobs to their end and update the ledger; send nothing.

It was called ``refresh``, which in Terraform means reading the real infrastructure into the
state; here that is ``reconciler state rebuild``. ``reconciler refresh`` still runs this, with
a deprecation notice (``reconciler/cli/refresh.py``)."""

from __future__ import annotations

import argparse
import sys

from reconciler.apply.recording import finish_with_applied
from reconciler.cli.apply import EXIT_FAILED_BATCHES, failed_rows
from reconciler.cli.common import add_config_argument, load
from reconciler.providers.base import JobState
from reconciler.render.progress import LogEvents
from reconciler.render.safe import terminal
from reconciler.state.blobs import blobs_for
from reconciler.state.open import open_store
from reconciler.workflow.apply import wire
from reconciler.workflow.runtime import Runtime, config_dir
from reconciler.workspace import work_dir

HELP = "poll pending jobs to their end and update the ledger without submitting anything"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_arguments(sub.add_parser("poll", help=HELP))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--state", metavar="FILE", help="state file (default from config)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load(args)
    base = config_dir(loaded)
    store = open_store(base, loaded.config.state, override=args.state)
    with store.locked("poll"), Runtime(loaded, workdir=work_dir(base)) as rt:
        ledger, applier = wire(loaded, store, rt, LogEvents(sys.stdout), sending=False)
        if not ledger.in_flight():
            print("No jobs in flight.")
            return 0
        ledger.start_run("poll")
        outcomes = applier.resume()
        failed = [o for o in outcomes if o.state is JobState.FAILED]
        finish_with_applied(
            ledger,
            blobs_for(store),
            rt.scratch(),
            lambda: ledger.finish_run("failed batches" if failed else "succeeded"),
        )
    for outcome in outcomes:
        # The job ID is the vendor's answer (or the ledger's record of it) and the batch key
        # holds the list's name: neither may move the cursor or forge a line.
        print(
            f"{terminal(outcome.batch.key)}: {terminal(outcome.state.value)} "
            f"(job {terminal(outcome.vendor_job_id)})"
        )
    for line in failed_rows(ledger, base):
        print(line)
    return EXIT_FAILED_BATCHES if failed else 0
