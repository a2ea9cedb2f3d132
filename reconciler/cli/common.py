"""Arguments and helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.config.loader import LoadedConfig, load_config
from reconciler.private import open_private, private_dir
from reconciler.render.safe import terminal
from reconciler.workflow.runtime import NoReadEvents, Runtime

DEFAULT_CONFIG = "."


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help="configuration file, or a directory whose *.yaml files are merged (default: .)",
    )


def add_target_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--target LIST`` (repeatable); ``what`` says what the command does to that list."""
    parser.add_argument(
        "--target", action="append", metavar="LIST", help=f"{what} only this list (repeatable)"
    )


def load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(Path(args.config))


def write_file(path: str, text: str) -> None:
    target = Path(path)
    private_dir(target.parent)
    # Readable by its owner only: a JSON plan or an unredacted report holds every address.
    with open_private(target, "w", encoding="utf-8") as fh:
        fh.write(text)


def err(message: str) -> None:
    """Print one line of an error on stderr: secrets masked, control characters (a line feed
    too: one call, one line) shown as escapes."""
    print(terminal(message), file=sys.stderr)


@contextmanager
def reading_progress(runtime: Runtime, args: argparse.Namespace) -> Iterator[None]:
    """On a terminal, show which vendor is being read while the block runs (exports can take
    minutes); elsewhere, e.g. CI, a line for a read still running every 30 seconds."""
    from reconciler.render.progress import LogReadEvents, RichReadEvents

    live = sys.stderr.isatty() and not getattr(args, "no_color", False)
    with RichReadEvents() if live else LogReadEvents(sys.stderr) as events:
        runtime.read_events = events
        try:
            yield
        finally:
            runtime.read_events = NoReadEvents()
