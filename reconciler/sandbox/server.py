"""Run the sandbox: in the foreground (``reconciler sandbox serve``) or embedded in a thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from reconciler.sandbox.core import Sandbox, Settings


class EmbeddedSandbox:
    """The sandbox on an ephemeral 127.0.0.1 port for the duration of a ``with`` block."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        settings: Settings | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: Mapping[str, Any] | None = None,
    ) -> None:
        fresh = data_dir is None or not (data_dir / "sandbox.sqlite3").exists()
        # werkzeug logs every request to stderr; the sandbox has its own request log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.app = Sandbox(data_dir, settings=settings)
        if seed and fresh:
            # Seeded once, when the data dir is new: later runs see what earlier runs changed.
            self.app.seed(seed)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        self.app.base_url = self.base_url
        self._thread = threading.Thread(
            # A short poll interval: shutdown() waits for it, and tests start many sandboxes.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="reconciler-sandbox",
            daemon=True,
        )

    def start(self) -> EmbeddedSandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self.app.db.close()

    def url(self, vendor: str) -> str:
        return f"{self.base_url}/{vendor}"

    def __enter__(self) -> EmbeddedSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SeedError(ValueError):
    """A seed file that cannot be read; the message names the line where it is known."""


def read_seed(path: Path) -> dict[str, Any]:
    """Seed data from a YAML or JSON file (top-level keys are vendor names)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(exc.strerror or str(exc)) from None
    data = json.loads(text) if path.suffix == ".json" else _seed_yaml(text)
    if not isinstance(data, dict):
        raise SeedError("a sandbox seed maps vendor names to their data")
    return data


def _seed_yaml(text: str) -> Any:
    """``text`` as YAML; ruamel's errors (a traceback otherwise) as one line with its line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        return YAML(typ="safe").load(text)
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise SeedError(
            f"not valid YAML at line {line}: {exc.reason} (#x{exc.character:04x})"
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "unreadable"
        raise SeedError(f"not valid YAML{where}: {what}") from None
    except YAMLError as exc:
        raise SeedError(f"not valid YAML: {type(exc).__name__}") from None


def sandbox_for_config_dir(
    config_dir: Path,
    *,
    seed_file: Path | None = None,
    data_dir: Path | None = None,
    polls_per_step: int = 1,
) -> EmbeddedSandbox:
    """The embedded sandbox of a project: state kept under ``data_dir`` (default
    ``<config_dir>/.sandbox``), seeded from ``seed_file`` the first time."""
    seed = read_seed(seed_file) if seed_file is not None else None
    return EmbeddedSandbox(
        data_dir or config_dir / ".sandbox",
        seed=seed,
        settings=Settings(polls_per_step=polls_per_step),
    )
