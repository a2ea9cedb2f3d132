"""Run the sandbox: in the foreground (``reconciler sandbox serve``) or embedded in a thread."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

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
    ) -> None:
        self.app = Sandbox(data_dir, settings=settings)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        self.app.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="reconciler-sandbox", daemon=True
        )

    def start(self) -> EmbeddedSandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
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
