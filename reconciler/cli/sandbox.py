"""``reconciler sandbox``: the built-in vendor emulator, in the foreground."""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from reconciler.errors import ReconcilerError
from reconciler.sandbox.core import Settings
from reconciler.sandbox.server import EmbeddedSandbox, read_seed


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sandbox", help="the built-in emulator of the vendors' APIs")
    commands = parser.add_subparsers(dest="sandbox_command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve all four vendors on one port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=8765, help="default 8765; 0: a free port, printed at start"
    )
    serve.add_argument("--data", type=Path, help="keep state in DIR (survives restarts)")
    serve.add_argument("--seed", type=Path, help="seed data (YAML/JSON) for a new data dir")
    serve.add_argument(
        "--polls-per-step",
        type=int,
        default=1,
        help="status reads a job needs per lifecycle step (default 1)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a non-loopback address (the sandbox has no real auth)",
    )
    serve.set_defaults(func=run_serve)
    state = commands.add_parser("state", help="print a running sandbox's lists and contacts")
    state.add_argument("--url", default="http://127.0.0.1:8765")
    state.set_defaults(func=run_state)


def _check_host(host: str, allow_remote: bool) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise ReconcilerError(
            f"refusing to listen on {host}: the sandbox accepts any credentials. Use "
            "127.0.0.1, or --allow-remote if you really mean it."
        )


def run_serve(args: argparse.Namespace) -> int:
    _check_host(args.host, args.allow_remote)
    seed = None
    if args.seed is not None:
        try:
            seed = read_seed(args.seed)
        except (OSError, ValueError) as exc:
            raise ReconcilerError(f"cannot read the seed {args.seed}: {exc}") from None
    settings = Settings(polls_per_step=max(1, args.polls_per_step))
    try:
        sandbox = EmbeddedSandbox(
            args.data, settings=settings, host=args.host, port=args.port, seed=seed
        )
    except OSError as exc:
        raise ReconcilerError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with sandbox:
        vendors = ", ".join(f"{sandbox.base_url}/{name}" for name in sorted(sandbox.app.vendors))
        print(f"reconciler sandbox listening on {sandbox.base_url}", flush=True)
        print(f"  vendors: {vendors}", flush=True)
        print(f"  inspect: {sandbox.base_url}/_sandbox/state", flush=True)
        stop.wait()
    print("sandbox stopped", file=sys.stderr)
    return 0


def run_state(args: argparse.Namespace) -> int:
    import httpx

    try:
        response = httpx.get(f"{args.url.rstrip('/')}/_sandbox/state", timeout=10)
    except httpx.HTTPError as exc:
        raise ReconcilerError(f"no sandbox answers at {args.url}: {exc}") from None
    print(json.dumps(response.json(), indent=2, sort_keys=True))
    return 0
