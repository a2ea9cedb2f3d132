"""``reconciler refresh``: the old name of ``reconciler poll``, kept working with a notice."""

from __future__ import annotations

import argparse
import sys

from reconciler.cli import poll

NOTICE = (
    "reconciler: `reconciler refresh` is now `reconciler poll` (it polls the jobs in flight; "
    "reading what a vendor holds into the state is `reconciler state rebuild`). The old name "
    "will be removed in a later release."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("refresh", help="deprecated: the old name of `poll`")
    poll.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(NOTICE, file=sys.stderr)
    return poll.run(args)
