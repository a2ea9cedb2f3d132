"""``reconciler drift``: read every vendor, change nothing, report how they differ from the
repository; exit 2 when they do."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from reconciler.cli.common import (
    add_config_argument,
    add_target_argument,
    load,
    reading_progress,
    write_file,
)
from reconciler.cli.exitcodes import ExitCode
from reconciler.config.loader import require_lists
from reconciler.drift.model import Drift
from reconciler.errors import ReconcilerError
from reconciler.render import drift_html, drift_json, drift_markdown
from reconciler.render.drift_text import render_text
from reconciler.workflow.drift import read_drift

Renderer = Callable[..., str]

#: Report formats by file extension.
REPORTS: dict[str, Renderer] = {
    ".md": drift_markdown.render_markdown,
    ".html": drift_html.render_html,
    ".json": drift_json.render_json,
}


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "drift",
        help="read every vendor and report how it differs from the repository (changes nothing)",
    )
    add_config_argument(parser)
    add_target_argument(parser, "check")
    parser.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FILE",
        help="write the report to FILE.md, FILE.html or FILE.json (repeatable)",
    )
    parser.add_argument(
        "--no-redact", action="store_true", help="show full addresses and field values in reports"
    )
    parser.add_argument(
        "--sample",
        type=positive,
        default=20,
        metavar="N",
        help="addresses shown per list and part of the report (default: 20)",
    )
    parser.set_defaults(func=run)


def renderers(paths: list[str]) -> list[tuple[str, Renderer]]:
    """Each report file with its renderer; checked before any vendor is read."""
    out = []
    for path in paths:
        render = REPORTS.get(Path(path).suffix.lower())
        if render is None:
            raise ReconcilerError(
                f"cannot tell the report format of {path!r}: name it *.md, *.html or *.json"
            )
        out.append((path, render))
    return out


def write_reports(drift: Drift, reports: list[tuple[str, Renderer]], *, redact: bool) -> None:
    for path, render in reports:
        write_file(path, render(drift, redact=redact))


def run(args: argparse.Namespace) -> int:
    reports = renderers(args.report)
    loaded = load(args)
    require_lists(loaded)  # else a drift check of nothing would pass every night
    drift = read_drift(
        loaded,
        targets=args.target,
        sample=args.sample,
        progress=lambda rt: reading_progress(rt, args),
    )
    sys.stdout.write(render_text(drift))
    sys.stdout.flush()
    write_reports(drift, reports, redact=not args.no_redact)
    return ExitCode.CHANGES if drift.has_drift else ExitCode.OK
