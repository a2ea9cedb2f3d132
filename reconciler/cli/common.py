"""Arguments and helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.config.loader import LoadedConfig, load_config

DEFAULT_CONFIG = "."


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help="configuration file, or a directory whose *.yaml files are merged (default: .)",
    )


def load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(Path(args.config))


def write_file(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def err(message: str) -> None:
    print(message, file=sys.stderr)
