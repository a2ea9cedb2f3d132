"""``reconciler validate``: check the configuration and every source file.

It talks to no vendor, so it needs nothing from the runner's environment: a pre-commit hook or
a pull request from a fork (neither has the secrets, nor CI's variables) validates everything
else, and each ``${env:…}`` whose variable is unset (a credential, a base_url, a staging
bucket) is a note, not an error. ``--require-env`` makes an unset one an error, as ``plan`` and
``apply`` always do."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli.common import add_config_argument, err
from reconciler.config.loader import load_config, require_lists
from reconciler.engine.validate import validate_sources
from reconciler.render.safe import terminal
from reconciler.workflow.runtime import require_staging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "validate", help="check the configuration and every source file, pointing at file:line"
    )
    add_config_argument(parser)
    parser.add_argument(
        "--require-env",
        action="store_true",
        help="an unset ${env:…} variable (credentials, base_url, staging) is an error (by "
        "default a note: validate talks to no vendor)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_config(Path(args.config), env_optional=not args.require_env)
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
    unset = loaded.unset_variables
    for variable in unset:
        print(f"Note: {variable.what} not checked: {terminal(str(variable))}")
    if unset:
        print(
            "Note: plan and apply need them; `reconciler validate --require-env` makes an "
            "unset one an error."
        )
    return 0
