"""``reconciler completion SHELL``: a completion script for bash, zsh or tcsh, generated from
the command line's own parser, so that it always knows every command and flag."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "tcsh")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description=(
            "Print a completion script for SHELL. bash: "
            "`reconciler completion bash > ~/.local/share/bash-completion/completions/reconciler`;"
            ' zsh: `reconciler completion zsh > "${fpath[1]}/_reconciler"`.'
        ),
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shtab

    from reconciler.cli.main import build_parser

    print(shtab.complete(build_parser(None), shell=args.shell), end="")
    return 0
