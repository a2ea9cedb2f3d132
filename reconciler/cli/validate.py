"""``reconciler validate``: check the configuration and every source file."""

from __future__ import annotations

import argparse

from reconciler.cli.common import add_config_argument, err, load
from reconciler.config.loader import require_lists
from reconciler.engine.validate import validate_sources
from reconciler.runtime import require_staging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "validate", help="check the configuration and every source file, pointing at file:line"
    )
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load(args)
    require_lists(loaded)
    require_staging(loaded, offline_too=False)
    problems = validate_sources(loaded)
    if problems:
        err(f"Error: {len(problems)} problem(s) in the sources:")
        for problem in problems:
            err(f"  {problem}")
        return 1
    lists = len(loaded.config.lists)
    print(f"The configuration is valid: {lists} list(s), {len(loaded.files)} file(s).")
    return 0
