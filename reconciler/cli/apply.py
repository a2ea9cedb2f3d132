"""``reconciler apply``: plan, show, confirm, then send the plan as batched vendor jobs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.apply.engine import Applier, ApplyReport, BatchOutcome
from reconciler.apply.inflight import pending_rows
from reconciler.apply.recording import finish_with_applied, record_baselines
from reconciler.apply.staleness import check_config, check_fresh, check_state
from reconciler.cli.common import load, reading_progress
from reconciler.cli.exitcodes import ExitCode
from reconciler.cli.guards import check_guards, enforce
from reconciler.cli.plan import add_plan_arguments, raise_if_gaps, show, show_last_failures
from reconciler.cli.verify import NOT_VERIFIED, verify
from reconciler.config.loader import LoadedConfig, require_lists
from reconciler.engine.planner import build_plan
from reconciler.errors import PlanError, ReconcilerError, StalePlanError
from reconciler.plan.artifact import read_saved_plan
from reconciler.plan.model import Plan
from reconciler.plan.pending import subtract_pending
from reconciler.providers.base import JobState
from reconciler.render.failures import failure_line
from reconciler.render.progress import LogEvents, RichEvents
from reconciler.render.safe import terminal
from reconciler.state.blobs import blobs_for
from reconciler.state.failures import entries, failures_of
from reconciler.state.ledger import StateLedger
from reconciler.state.model import now
from reconciler.state.open import open_store
from reconciler.workflow.apply import begin, record_exports
from reconciler.workflow.runtime import Runtime, config_dir, require_staging
from reconciler.workspace import work_dir

EXIT_FAILED_BATCHES = ExitCode.FAILED_BATCHES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("apply", help="apply the plan as batched vendor import jobs")
    parser.add_argument(
        "planfile",
        nargs="?",
        metavar="PLANFILE",
        help="a plan saved by `reconciler plan -out FILE`: apply exactly its rows, after "
        "checking that the state and the vendors have not changed since",
    )
    add_plan_arguments(parser)
    parser.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not re-read the vendors afterwards to check the result",
    )
    parser.add_argument("--state", metavar="FILE", help="state file (default from config)")
    parser.set_defaults(func=run)


def confirm() -> bool:
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "apply needs confirmation: run it on a terminal, or pass --auto-approve"
        )
    answer = input("\nDo you want to apply this plan? Only 'yes' will be accepted: ")
    return answer.strip() == "yes"


def _summary(report: ApplyReport) -> list[str]:
    """Per list, and each failed batch with the vendor's message (shown inert: it is the
    vendor's text)."""
    lines = []
    for name, totals in report.per_list().items():
        lines.append(
            f"  {terminal(name)}: {totals['batches']} batch(es), {totals['rows']:,} row(s), "
            f"{totals['failed']} failed"
        )
    for outcome in report.failed:
        lines.append(f"  ✗ {terminal(outcome.batch.key)}: {terminal(outcome.message)}")
    return lines


def failed_rows(ledger: StateLedger, base: Path) -> list[str]:
    """Each job that ended in this run with rows the vendor refused: the first of them by
    address with the vendor's reason, how many, and the file that lists them all (the state
    only points at it: it holds no address)."""
    jobs = failures_of(ledger.state, entries(ledger.state, ledger.finished_ids), base)
    if not jobs:
        return []
    return ["Failed rows:", *(f"  {failure_line(job)}" for job in jobs)]


def run(args: argparse.Namespace) -> int:
    if args.planfile:
        return run_saved(args)
    loaded = load(args)
    require_lists(loaded)  # an empty configuration is a mistake, not "nothing to apply"
    require_staging(loaded)
    base = config_dir(loaded)
    store = open_store(base, loaded.config.state, override=args.state)
    with store.locked("apply"), Runtime(loaded, workdir=work_dir(base)) as rt:
        ledger, applier, resumed = begin(loaded, store, rt, LogEvents(sys.stdout))
        with reading_progress(rt, args):
            plan = build_plan(loaded, targets=args.target, vendors=rt)
        plan = check_guards(plan, loaded, ledger.state, args)
        _review(args, plan, plan, ledger, base)
        if plan.has_actions and not args.auto_approve and not confirm():
            ledger.finish_run("cancelled")
            print("Apply cancelled.")
            return ExitCode.ERROR
        return send(args, loaded, rt, ledger, applier, plan, resumed, targets=args.target)


def run_saved(args: argparse.Namespace) -> int:
    """Apply a saved plan: exactly its rows, once the state, the configuration and the vendors
    are shown to be what it was made from. No question asked: the saved plan is what was
    reviewed (as Terraform applies a saved plan)."""
    if args.target:
        raise PlanError(
            "--target cannot be used with a saved plan: the plan applies the lists it was made "
            "for; make it with `reconciler plan --target LIST -out FILE`"
        )
    path = Path(args.planfile)
    saved = read_saved_plan(path)
    loaded = load(args)
    check_config(path, saved, loaded.checksum)
    require_staging(loaded)
    base = config_dir(loaded)
    store = open_store(base, loaded.config.state, override=args.state)
    with store.locked("apply"), Runtime(loaded, workdir=work_dir(base)) as rt:
        check_state(path, saved, store.read(), store.location)
        ledger, applier, resumed = begin(
            loaded, store, rt, LogEvents(sys.stdout), plan_checksum=saved.plan_checksum
        )
        targets = list(saved.targets) if saved.targets else None
        with reading_progress(rt, args):
            fresh = build_plan(loaded, targets=targets, vendors=rt)
        fresh = subtract_pending(fresh, pending_rows(ledger.state))
        try:
            check_fresh(path, saved, fresh)
        except StalePlanError:
            ledger.finish_run("refused: stale plan")
            raise
        # The guards as evaluated (and let through, with their flags) when the plan was made.
        _review(args, saved.plan, fresh, ledger, base)
        del fresh  # the saved plan is what is sent; a big plan need not be held twice
        return send(args, loaded, rt, ledger, applier, saved.plan, resumed, targets=targets)


def _review(
    args: argparse.Namespace, plan: Plan, read: Plan, ledger: StateLedger, base: Path
) -> None:
    """Show ``plan``, then stop (recording why) at a capability gap or a safety guard;
    otherwise remember the current states ``read`` plan was made from."""
    show(plan, args)
    show_last_failures(plan, ledger.state, base)
    raise_if_gaps(plan)
    enforce(plan, on_blocked=lambda: ledger.finish_run("blocked by safety guards"))
    record_exports(ledger.state, read)


def send(
    args: argparse.Namespace,
    loaded: LoadedConfig,
    rt: Runtime,
    ledger: StateLedger,
    applier: Applier,
    plan: Plan,
    resumed: list[BatchOutcome],
    *,
    targets: list[str] | None,
) -> int:
    """Send the plan's rows, report, verify; the exit code."""
    blobs = blobs_for(ledger.store)
    record_baselines(
        loaded, plan, ledger.state, blobs, applier.providers, rt.scratch() / "baseline"
    )
    if not plan.has_actions:
        finish_with_applied(
            ledger,
            blobs,
            rt.scratch(),
            lambda: ledger.finish_run("no changes", settled=targets is None),
        )
        for line in failed_rows(ledger, config_dir(loaded)):  # of the jobs it resumed
            print(line)
        failed = any(o.state is JobState.FAILED for o in resumed)
        return ExitCode.FAILED_BATCHES if failed else ExitCode.OK
    if sys.stdout.isatty() and not args.no_color:
        # Live progress on a terminal; plain log lines (above) everywhere else, e.g. CI.
        with RichEvents() as progress:
            applier.events = progress
            report = applier.apply(plan)
    else:
        report = applier.apply(plan)
    report.outcomes[:0] = resumed
    for lp in plan.lists:
        ledger.state.lists[lp.name].last_applied_at = now()
    print("\nApply finished:")
    print("\n".join(_summary(report) + failed_rows(ledger, config_dir(loaded))))
    if args.no_verify:
        verified = None
    else:
        with reading_progress(rt, args):  # on a terminal, which vendor is being read again
            verified = verify(loaded, rt, targets)
    differences = verified.differences if verified else []
    outcome = (
        "failed batches"
        if report.failed
        else ("verification differences" if differences else "succeeded")
    )
    # Every list planned afresh and sent to the end: the crashed runs this one resumed are
    # settled (with --target, the other lists' batches stay protected).
    finish_with_applied(
        ledger, blobs, rt.scratch(), lambda: ledger.finish_run(outcome, settled=targets is None)
    )
    if differences:
        print("Verification:\n" + "\n".join(differences))
    else:
        print(verified.closing() if verified else NOT_VERIFIED)
    if report.failed:
        return ExitCode.FAILED_BATCHES
    return ExitCode.ERROR if differences else ExitCode.OK
