"""``reconciler plan``: show what apply would change, per list, and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.apply.inflight import pending_rows
from reconciler.cli.common import add_config_argument, load, write_file
from reconciler.cli.guards import add_guard_arguments, check_guards, enforce
from reconciler.engine.planner import build_plan
from reconciler.errors import CapabilityError
from reconciler.plan.jsonform import dumps, plan_to_dict
from reconciler.plan.model import Plan
from reconciler.plan.pending import subtract_pending
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text, use_colour
from reconciler.runtime import Runtime, config_dir
from reconciler.state.open import open_store


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--target", action="append", metavar="LIST", help="plan only this list (repeatable)"
    )
    parser.add_argument(
        "--show-all",
        action="store_true",
        help="show every row instead of a sample per list and action",
    )
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    add_guard_arguments(parser)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plan", help="show what apply would change, per list, and why")
    add_plan_arguments(parser)
    parser.add_argument("--json", metavar="FILE", help="also write the plan as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the plan as Markdown")
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


def raise_if_gaps(plan: Plan) -> None:
    gaps = [gap for lp in plan.lists for gap in lp.gaps]
    if gaps:
        lines = "\n".join(f"  - {g.explanation}" for g in gaps)
        raise CapabilityError(
            "the plan needs actions the vendors' documented APIs cannot perform; nothing was "
            f"sent:\n{lines}\nChange the lists' mode/drop_action or the sources, or manage "
            "these contacts at the vendor directly."
        )


def run(args: argparse.Namespace) -> int:
    loaded = load(args)
    workdir = config_dir(loaded) / ".reconciler" / "work"
    with Runtime(loaded, workdir=workdir) as runtime:
        plan = build_plan(loaded, targets=args.target, read_current=runtime.read_current)
    # Jobs still in flight (another apply running, or one that crashed) already carry some
    # rows: they are shown as pending, not planned twice.
    state = open_store(config_dir(loaded), loaded.config.state).read()
    plan = subtract_pending(plan, pending_rows(state))
    plan = check_guards(plan, loaded, state, args)
    show(plan, args)
    if args.json:
        target = Path(args.json)
        data = plan_to_dict(
            plan, rows_dir=target.parent / f"{target.stem}.rows", base=target.parent
        )
        write_file(args.json, dumps(data))
    if args.markdown:
        write_file(args.markdown, render_markdown(plan, redact=not args.no_redact))
    raise_if_gaps(plan)
    enforce(plan)
    if args.detailed_exitcode and plan.has_actions:
        return 2
    return 0
