"""Entry point: parse arguments, dispatch to a command module, turn errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from reconciler import __version__
from reconciler.errors import ReconcilerError

#: Command modules under ``reconciler.cli``; each has ``register(subparsers)`` which sets
#: ``func=run`` on its parser, and ``run(args) -> int``.
COMMANDS: tuple[str, ...] = (
    "validate",
    "plan",
    "apply",
    "refresh",
    "drift",
    "suppressions",
    "state",
    "sandbox",
)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1 like every other error: to scripts, 2 means "there are changes"
    (``plan --detailed-exitcode``) or "there is drift" (``drift``). Subcommand parsers inherit
    the class."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description="Declarative sync of e-mail marketing lists and suppressions.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"reconciler.cli.{name}")
        module.register(sub)
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # CI cancels a job with SIGTERM: unwind like Ctrl-C, so the state is pushed and the lock
    # released on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code: int = args.func(args)
    except ReconcilerError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
