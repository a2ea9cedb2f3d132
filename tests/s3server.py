"""A real S3 API server for tests: moto's server in a subprocess on 127.0.0.1.

One server serves the whole test session (``moto_endpoint`` in tests/conftest.py); each test
that uses it starts from an empty server (moto's reset), so no test sees another's buckets or
objects. Run as ``python -m tests.s3server``, this file is that server: it binds port 0, so the
port is the kernel's choice and nobody else's, and prints the URL it listens on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
#: The first line the server prints, followed by its URL.
READY = "moto listening on "

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server and yield its endpoint URL; stop it afterwards."""
    # A file, not a pipe, for its errors: nobody reads them unless it fails to start, and a
    # full pipe would stall the server.
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.s3server"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, **AWS_ENV},
        )
        try:
            assert proc.stdout is not None
            # The port is known once bound, and the server accepts connections from then on
            # (queued until it serves): nothing to poll. Blocks until it prints or dies.
            line = proc.stdout.readline()
            if not line.startswith(READY):
                proc.wait(timeout=30)
                errors.seek(0)
                raise RuntimeError(f"moto's server did not start:\n{line}{errors.read()}")
            yield line[len(READY) :].strip()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)


def reset(endpoint: str) -> None:
    """Forget every bucket and object (moto's reset API)."""
    httpx.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()


def create_buckets(endpoint: str, *buckets: str, versioned: tuple[str, ...] = ()) -> str:
    """Create ``buckets`` (``versioned`` among them with versioning on); return ``endpoint``."""
    client = s3_client(endpoint)
    for bucket in buckets:
        client.create_bucket(Bucket=bucket)
    for bucket in versioned:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return endpoint


def _serve() -> None:
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    # What moto's own server sets: the port some of its responses name.
    os.environ["MOTO_PORT"] = str(server.server_port)
    print(f"{READY}http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve()
