"""``reconciler plan``: show what apply would change, per list, and why."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path

from reconciler.apply.inflight import pending_rows
from reconciler.cli.common import (
    DEFAULT_CONFIG,
    add_config_argument,
    add_target_argument,
    load,
    reading_progress,
    write_file,
)
from reconciler.cli.exitcodes import ExitCode
from reconciler.cli.guards import add_guard_arguments, check_guards, enforce
from reconciler.config.loader import require_lists
from reconciler.engine.planner import build_plan
from reconciler.errors import CapabilityError
from reconciler.plan.jsonform import dumps, plan_to_dict
from reconciler.plan.model import Plan
from reconciler.plan.pending import subtract_pending
from reconciler.render.failures import failure_line
from reconciler.render.text import render_text, use_colour
from reconciler.state.blobs import blobs_for
from reconciler.state.failures import last_apply_failures
from reconciler.state.membership import applied_reader
from reconciler.state.model import State
from reconciler.state.open import open_store
from reconciler.workflow.runtime import Runtime, config_dir
from reconciler.workspace import work_dir


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_target_argument(parser, "plan")
    parser.add_argument(
        "--show-all",
        action="store_true",
        help="show every row instead of a sample per list and action (text and Markdown)",
    )
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    add_guard_arguments(parser)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plan", help="show what apply would change, per list, and why")
    add_plan_arguments(parser)
    parser.add_argument(
        "-out",
        "--out",
        dest="out",
        metavar="FILE",
        help="save the plan to FILE, for `reconciler apply FILE` to apply exactly it",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the plan as JSON; `-` writes it to standard output, every row inline, "
        "and the plan as text to standard error",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the plan as Markdown")
    parser.add_argument(
        "--markdown-dir",
        metavar="DIR",
        help="also write the Markdown plan as pull-request comments DIR/comment-01.md, … "
        "each under GitHub's size limit",
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="show full addresses in Markdown (masked by default)",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    parser.set_defaults(func=run)


def show(plan: Plan, args: argparse.Namespace) -> None:
    colour = False if args.no_color else use_colour(sys.stdout, None)
    sys.stdout.write(render_text(plan, colour=colour, show_all=args.show_all))
    sys.stdout.flush()


def show_last_failures(plan: Plan, state: State | None, base: Path) -> None:
    """A note, not a change: per list the plan changes, the rows its last apply sent that the
    vendor refused (an unknown member, an invalid address). A refusal of the row itself does
    not go away by itself: the plan sends those rows again, and they fail again until fixed in
    the sources or at the vendor. A list the plan leaves alone sends nothing that could fail.
    Read from the ledger's failures files, a bounded sample each."""
    changed = [lp.name for lp in plan.lists if lp.has_actions]
    found = last_apply_failures(state, base, changed)
    if not found:
        return
    print(
        "\nNote: rows the vendor refused in the last apply; they fail again until fixed in the "
        "sources or at the vendor:"
    )
    for jobs in found.values():
        for job in jobs:
            print(f"  {failure_line(job)}")


def raise_if_gaps(plan: Plan) -> None:
    gaps = [gap for lp in plan.lists for gap in lp.gaps]
    if gaps:
        lines = "\n".join(f"  - {g.explanation}" for g in gaps)
        recorded = sorted(
            lp.name for lp in plan.lists if lp.gaps and lp.current and lp.current.kind == "applied"
        )
        forget = (
            "\nLists planned from what reconciler applied ("
            + ", ".join(recorded)
            + "): once you have changed those members at the vendor by hand, tell the state "
            "with `reconciler state forget LIST --member EMAIL`."
            if recorded
            else ""
        )
        raise CapabilityError(
            "the plan needs actions the vendors' documented APIs cannot perform; nothing was "
            f"sent:\n{lines}\nChange the lists' mode/drop_action or the sources, or manage "
            f"these contacts at the vendor directly.{forget}"
        )


def run(args: argparse.Namespace) -> int:
    loaded = load(args)
    require_lists(loaded)
    workdir = work_dir(config_dir(loaded))
    store = open_store(config_dir(loaded), loaded.config.state)
    # A saved plan records the state as it was *before* the vendors were read: a write in
    # between makes the plan stale rather than going unnoticed.
    state_before = store.read()
    with Runtime(loaded, workdir=workdir) as runtime, reading_progress(runtime, args):
        runtime.applied = applied_reader(blobs_for(store), lambda: state_before)
        plan = build_plan(loaded, targets=args.target, vendors=runtime)
    # Jobs still in flight (another apply running, or one that crashed) already carry some
    # rows: they are shown as pending, not planned twice.
    state = store.read()
    plan = subtract_pending(plan, pending_rows(state))
    plan = check_guards(plan, loaded, state, args)
    to_stdout = args.json == "-"
    with contextlib.redirect_stdout(sys.stderr) if to_stdout else contextlib.nullcontext():
        show(plan, args)
        show_last_failures(plan, state, config_dir(loaded))
    if to_stdout:
        sys.stdout.write(dumps(plan_to_dict(plan)))
    elif args.json:
        target = Path(args.json)
        data = plan_to_dict(
            plan, rows_dir=target.parent / f"{target.stem}.rows", base=target.parent
        )
        write_file(args.json, dumps(data))
    if args.markdown or args.markdown_dir:
        # jinja2 is imported only when Markdown is asked for: start-up counts in every plan.
        from reconciler.render.comments import split_comments
        from reconciler.render.markdown import SAMPLE, render_markdown

        sample = None if args.show_all else SAMPLE
        markdown = render_markdown(plan, redact=not args.no_redact, sample=sample)
        if args.markdown:
            write_file(args.markdown, markdown)
        if args.markdown_dir:
            write_comments(Path(args.markdown_dir), split_comments(markdown))
    raise_if_gaps(plan)
    enforce(plan)
    if args.out:
        save(Path(args.out), plan, state_before, location=store.location, targets=args.target)
        config = "" if args.config == DEFAULT_CONFIG else f" -c {shlex.quote(args.config)}"
        print(
            f"\nSaved the plan to {args.out}. To apply exactly this plan, run:\n"
            f"  reconciler apply {shlex.quote(args.out)}{config}",
            file=sys.stderr if to_stdout else sys.stdout,
        )
    if args.detailed_exitcode and plan.has_actions:
        return ExitCode.CHANGES
    return ExitCode.OK


def save(
    path: Path, plan: Plan, state: State | None, *, location: str, targets: list[str] | None
) -> None:
    from reconciler.plan.artifact import SavedPlan, StateRef, write_saved_plan
    from reconciler.plan.checksum import exports_checksum, plan_checksum

    ref = StateRef(location, state.lineage, state.serial) if state else StateRef(location, None, 0)
    saved = SavedPlan(
        plan,
        ref,
        plan_checksum=plan_checksum(plan),
        exports_checksum=exports_checksum(plan),
        targets=tuple(targets) if targets else None,
    )
    write_saved_plan(path, saved)


def write_comments(directory: Path, comments: list[str]) -> None:
    """``comment-01.md``, ``comment-02.md``, … replacing those of an earlier run, which a CI
    job would otherwise post again."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("comment-*.md"):
        old.unlink()
    width = max(2, len(str(len(comments))))
    for n, text in enumerate(comments, start=1):
        (directory / f"comment-{n:0{width}d}.md").write_text(text, encoding="utf-8")
