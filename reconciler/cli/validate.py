"""``reconciler validate``: check the configuration and every source file.

It talks to no vendor, so it needs no credential: a pre-commit hook or a pull request from a
fork (neither has the secrets) validates everything else, and each credential whose variable
is unset is a note, not an error. ``--require-credentials`` makes an unset one an error, as
``plan`` and ``apply`` always do."""

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
        "--require-credentials",
        action="store_true",
        help="an unset credential variable is an error (by default a note: validate sends "
        "nothing to any vendor)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_config(Path(args.config), credentials_optional=not args.require_credentials)
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
    unchecked = loaded.unchecked_credentials
    for credential in unchecked:
        print(f"Note: credentials not checked: {terminal(str(credential))}")
    if unchecked:
        print(
            "Note: plan and apply need them; `reconciler validate --require-credentials` "
            "makes an unset one an error."
        )
    return 0
