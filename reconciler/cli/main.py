"""Entry point: parse arguments, dispatch to a command module, turn errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import Any, TextIO

from reconciler import __version__
from reconciler.cli.exitcodes import ExitCode
from reconciler.cli.locking import add_lock_timeout, waiting
from reconciler.errors import ConfigError, ProviderError, ReconcilerError, SourceError
from reconciler.render.safe import terminal, terminal_lines

#: Command modules under ``reconciler.cli``; each has ``register(subparsers)`` which sets
#: ``func=run`` on its parser, and ``run(args) -> int``.
COMMANDS: tuple[str, ...] = (
    "validate",
    "plan",
    "apply",
    "poll",
    "refresh",
    "drift",
    "suppressions",
    "state",
    "sandbox",
    "show",
    "completion",
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
    add_lock_timeout(sub)
    return parser


def _chosen_command(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` runs, or None when the top-level parser may print help."""
    for arg in argv or ():
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def single_dash(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """Every long flag in Terraform's spelling too: ``-auto-approve`` is ``--auto-approve``,
    ``-detailed-exitcode=…`` is ``--detailed-exitcode=…``. Only a word that is one of the
    parser's own long flags with one dash less is rewritten, so short flags (``-c FILE``) and
    values keep their meaning; ``--`` ends the rewriting, as it ends the options."""
    long_flags = _long_flags(parser)
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return out + list(argv[index:])
        name = arg.split("=", 1)[0]
        if name.startswith("-") and not name.startswith("--") and "-" + name in long_flags:
            arg = "-" + arg
        out.append(arg)
    return out


def _long_flags(parser: argparse.ArgumentParser) -> set[str]:
    flags: set[str] = set()
    for action in parser._actions:  # argparse has no public walk of a built parser
        flags.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _long_flags(sub)
    return flags


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class _ReaderMayLeave:
    """Standard output for a reader that may stop reading (``reconciler state show | head``):
    the command goes on to its end, writing to nowhere once the reader is gone. Stopping at
    the first write instead (Python raises BrokenPipeError there) would end an apply between
    a vendor's answer and the ledger's record of it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_nowhere()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_nowhere()

    def _to_nowhere(self) -> None:
        self.reader_left = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def error_text(exc: ReconcilerError) -> str:
    """An error's message for the terminal, every known secret masked and every control
    character escaped. Where a message's lines are known to be its structure (the problems
    of a configuration or a source, one a line) only those are kept as lines; a vendor's
    message, one line by construction, has any line feed of the vendor's shown as ``\\n``."""
    if isinstance(exc, ProviderError):
        return terminal(str(exc))
    text = str(exc)
    if isinstance(exc, ConfigError | SourceError):
        # Each problem is one line of the message: a line feed inside one is a value's.
        for problem in exc.problems:
            text = text.replace(str(problem), terminal(problem))
    return terminal_lines(text)


def crash_text(exc: BaseException) -> str:
    """A bug's traceback, scrubbed and made inert like any other message: an exception's text
    can hold what a vendor answered."""
    return terminal_lines("".join(traceback.format_exception(exc)))


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    try:
        args = parser.parse_args(single_dash(parser, argv))
    except SystemExit as exc:
        # argparse exits 2 on a usage error, and 2 means "changes present" here.
        return ExitCode.ERROR if exc.code == 2 else int(exc.code or 0)
    # CI cancels a job with SIGTERM: unwind like Ctrl-C, so the state is pushed and the lock
    # released on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    stdout = sys.stdout
    with contextlib.suppress(OSError, ValueError):  # only a real file can lose its reader
        stdout.fileno()
        sys.stdout = _ReaderMayLeave(stdout)
    try:
        return _run(args)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.flush()
        sys.stdout = stdout


def _run(args: argparse.Namespace) -> int:
    try:
        with waiting(args):
            code: int = args.func(args)
    except ReconcilerError as exc:
        print(f"Error: {error_text(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still no secret and no raw control character printed
        sys.stderr.write(crash_text(exc))
        return ExitCode.ERROR
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
