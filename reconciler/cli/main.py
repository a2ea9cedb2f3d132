"""Entry point: parse arguments, dispatch to a command module, turn errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from reconciler import __version__
from reconciler.cli.exitcodes import ExitCode
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


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv`` naming a command, only that command's module is imported
    (each pulls in its own dependencies, and start-up time counts in a 1M-row plan)."""
    chosen = _chosen_command(argv)
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Declarative sync of e-mail marketing lists and suppressions.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if chosen in (None, name):
            importlib.import_module(f"reconciler.cli.{name}").register(sub)
        else:
            sub.add_parser(name)  # listed, never parsed
    return parser


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` runs, or None when the top-level parser may print help."""
    for arg in argv or ():
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on a usage error, and 2 means "changes present" here.
        return ExitCode.ERROR if exc.code == 2 else int(exc.code or 0)
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
