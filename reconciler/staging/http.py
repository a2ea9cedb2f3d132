"""A short-lived HTTP server that serves exactly the batch files of this run."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from reconciler.staging.base import Stager, StagingError, unguessable_name


class _QuietHandler(WSGIRequestHandler):
    """No access log: every line would name a staged file's unguessable URL, which is what
    keeps the file private, on the user's terminal or in a CI log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class HttpStager(Stager):
    """Serves registered files under unguessable names; anything else is 404 (no index).

    ``public_url`` is the URL the vendor reaches this server at when it differs from the bind
    address (behind NAT or a tunnel)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, public_url: str | None = None):
        self._files: dict[str, Path] = {}
        self._lock = threading.Lock()
        self.fetches: dict[str, int] = {}
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, self._app, threaded=True, request_handler=_QuietHandler
            )
        except OSError as exc:
            raise StagingError(f"cannot serve batch files on {host}:{port}: {exc}") from None
        bound = f"http://{host}:{self._server.server_port}"
        self.base_url = (public_url or bound).rstrip("/")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="reconciler-staging", daemon=True
        )

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        name = request.path.lstrip("/")
        with self._lock:
            path = self._files.get(name)
            if path is not None:
                self.fetches[name] = self.fetches.get(name, 0) + 1
        if request.method != "GET" or path is None or not path.exists():
            return Response("not found", status=404)(environ, start_response)
        handle = path.open("rb")
        response = Response(
            wrap_file(environ, handle), mimetype="text/csv", direct_passthrough=True
        )
        response.content_length = path.stat().st_size
        return response(environ, start_response)

    def start(self) -> HttpStager:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def publish(self, path: Path) -> str:
        name = unguessable_name(path)
        with self._lock:
            self._files[name] = path
        return f"{self.base_url}/{name}"

    def retire(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        with self._lock:
            self._files.pop(name, None)
