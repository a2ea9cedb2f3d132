"""An HTTP server, run by each apply or poll, that serves exactly the batch files of its
jobs: those it sends, and those a previous run left in flight (``serve_again``), at the same
URLs as long as the port is fixed (``specs/config.md#staging``)."""

from __future__ import annotations

import errno
import os
import socket
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import (
    BaseWSGIServer,
    WSGIRequestHandler,
    make_server,
    select_address_family,
)
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from reconciler.staging.base import PortTaken, Stager, StagingError, unguessable_name


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
        # Bound here, not by werkzeug: on a port already taken, werkzeug prints its own advice
        # and calls sys.exit, which would end an apply in the middle of its batches.
        try:
            listening = socket.create_server((host, port), family=select_address_family(host, port))
        except OSError as exc:
            where = f"cannot serve batch files on {host}:{port}"
            # create_server appends the address to strerror: the reason alone, from errno.
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            if exc.errno == errno.EADDRINUSE:
                raise PortTaken(
                    f"{where}: another program listens on that port ({reason})"
                ) from exc
            raise StagingError(f"{where}: {reason}") from exc
        with listening:  # werkzeug serves a duplicate of it
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                self._app,
                threaded=True,
                request_handler=_QuietHandler,
                fd=listening.fileno(),
            )
        bound = f"http://{host}:{self._server.port}"
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

    def serve_again(self, url: str, path: Path) -> bool:
        """Serve ``path`` at ``url`` again, for a job an earlier run left in flight: possible
        when ``url`` is under this server's base URL (the same fixed port and public_url)."""
        prefix = f"{self.base_url}/"
        name = url[len(prefix) :] if url.startswith(prefix) else ""
        if not name or "/" in name:
            return False
        with self._lock:
            self._files[name] = path
        return True
