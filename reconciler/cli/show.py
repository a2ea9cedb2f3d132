"""``reconciler show PLANFILE``: print a saved plan as ``plan`` printed it, or as JSON, without
reading the configuration, the state or any vendor (Terraform's ``show``): the plan a CI job
saved can be read wherever the file is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.plan.artifact import read_saved_plan
from reconciler.plan.jsonform import dumps, plan_to_dict
from reconciler.render.text import render_text, use_colour


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "show", help="print a saved plan (made with `reconciler plan -out FILE`)"
    )
    parser.add_argument("plan_file", metavar="PLANFILE", help="the saved plan")
    parser.add_argument(
        "--json", action="store_true", help="print the plan's JSON form (every row inline)"
    )
    parser.add_argument(
        "--show-all", action="store_true", help="show every row instead of a sample"
    )
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    saved = read_saved_plan(Path(args.plan_file))  # verified: its rows give its checksum
    if args.json:
        sys.stdout.write(dumps(plan_to_dict(saved.plan)))
        return 0
    colour = False if args.no_color else use_colour(sys.stdout, None)
    sys.stdout.write(render_text(saved.plan, colour=colour, show_all=args.show_all))
    state = saved.state
    made_against = (
        f"serial {state.serial} of {state.location}"
        if state.lineage
        else f"no state yet at {state.location}"
    )
    targets = f"; lists {', '.join(saved.targets)}" if saved.targets else ""
    print(
        f"\nSaved plan {args.plan_file}: made by reconciler {saved.reconciler_version} against "
        f"{made_against}{targets}."
    )
    return 0
