"""``reconciler suppressions pull``: write the unsubscribes, bounces and complaints seen at the
vendors into the repository's write-back suppression file (``writeback.path``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from reconciler.cli.common import add_config_argument, add_target_argument, load, reading_progress
from reconciler.cli.exitcodes import ExitCode
from reconciler.drift.writeback import merge, pulled_rows, read_rows, render_csv, write_atomically
from reconciler.errors import ConfigError, Problem
from reconciler.sources.desired import display_path
from reconciler.workflow.drift import read_drift


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("suppressions", help="vendor-side suppressions and the repository")
    commands = parser.add_subparsers(dest="suppressions_command", metavar="COMMAND", required=True)
    pull = commands.add_parser(
        "pull",
        help="write the vendors' unsubscribes, bounces and complaints into the write-back file",
    )
    add_config_argument(pull)
    add_target_argument(pull, "pull from")
    pull.set_defaults(func=run_pull)


def run_pull(args: argparse.Namespace) -> int:
    loaded = load(args)
    writeback = loaded.config.writeback
    if writeback is None:
        raise ConfigError(
            Problem(
                "no 'writeback:' in the configuration: add e.g. "
                "'writeback: {path: suppressions/vendor.csv}' to say where pulled "
                "suppressions go"
            ),
            summary="Nowhere to write the vendors' suppressions",
        )
    path = loaded.resolve_path(("writeback", "path"), writeback.path)
    display = display_path(path)
    existing = read_rows(path, display)
    drift = read_drift(loaded, targets=args.target, progress=lambda rt: reading_progress(rt, args))
    merged = merge(existing, pulled_rows(drift, datetime.now(UTC).date()))
    text = render_csv(merged.rows)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, text)
    print(
        f"{display}: {merged.added:,} added, {merged.updated:,} updated, "
        f"{len(merged.rows):,} suppression(s) in total."
    )
    return ExitCode.OK
