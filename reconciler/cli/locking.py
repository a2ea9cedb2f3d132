"""``--lock-timeout DURATION`` on every command that takes the state lock, in one place.

The commands themselves only call ``store.locked(…)``: the wait is set for the whole command
by :func:`waiting` (``reconciler.state.lockwait``), so a command cannot forget to pass it on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.render.safe import terminal

#: The commands that take the state lock, with the ``state`` subcommands that do.
LOCKING: dict[str, tuple[str, ...]] = {
    "apply": (),
    "poll": (),
    "refresh": (),  # the old name of poll
    "state": ("resolve", "push", "migrate", "forget", "rebuild"),
}


def _duration(text: str) -> float:
    # Imported when used: reconciler.state pulls in the state's models, which a command
    # without the lock (validate, show, completion) need not load.
    from reconciler.state.lockwait import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-timeout",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="wait this long for the state lock if another run holds it, e.g. 30s or 2m "
        "(default 0: fail at once)",
    )


def add_lock_timeout(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give each locking command of a built parser the flag (a command whose module was not
    imported has no subcommands to give it to, and is never parsed)."""
    for name, subcommands in LOCKING.items():
        parser = sub.choices.get(name)
        if parser is None:
            continue
        if not subcommands:
            _add(parser)
            continue
        for action in parser._actions:  # argparse has no public walk of a built parser
            if isinstance(action, argparse._SubParsersAction):
                for subcommand in subcommands:
                    _add(action.choices[subcommand])


@contextmanager
def waiting(args: argparse.Namespace) -> Iterator[None]:
    """The command's lock wait, told on stderr when it begins."""
    timeout = getattr(args, "lock_timeout", 0.0)
    if not timeout:  # no wait is the default: nothing to set
        yield
        return
    from reconciler.state.lockwait import lock_wait

    with lock_wait(timeout, notify=_tell):
        yield


def _tell(message: str) -> None:
    print(terminal(message), file=sys.stderr)  # the holder's lock info is the file's
