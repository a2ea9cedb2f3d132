"""A real PostgreSQL for tests: Debian's server binaries, ``initdb`` and ``pg_ctl`` on a free
127.0.0.1 port in a temporary directory, stopped (and the directory removed) afterwards.

PostgreSQL refuses to run as root, and CI runs as root: there the cluster belongs to the
``postgres`` account the Debian package creates, and every server command runs as that account
(``runuser``). Authentication is ``trust`` on loopback only: the server is private to the test
session and reachable from nowhere else.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Where Debian puts the server binaries (not on PATH); the newest version wins.
BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: How .ci/run installs them.
INSTALL_HINT = "apt-get install -y postgresql"


def server_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None when no server is installed."""
    found = os.environ.get("RECONCILER_PG_BIN")
    candidates = [found] if found else sorted(glob.glob(BIN_GLOB), key=_version, reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    return None


def _version(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    port: int
    bin: Path
    run_as: str | None
    #: What ``dsn`` and ``psql`` connect to unless told otherwise.
    database: str = "postgres"

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database or self.database}"

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run ``sql`` with psql (stops at the first error) and return what it printed."""
        return self._psql(["-c", sql], database)

    def psql_file(self, path: Path, database: str | None = None) -> str:
        """Run the SQL script at ``path``, as ``psql -f`` does."""
        return self._psql(["-f", str(path)], database)

    def _psql(self, what: list[str], database: str | None) -> str:
        command = [str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]
        command += ["-d", self.dsn(database), *what]
        proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode:
            raise RuntimeError(f"psql failed: {proc.stderr}")
        return proc.stdout


def _as_owner(command: list[str], run_as: str | None) -> list[str]:
    return ["runuser", "-u", run_as, "--", *command] if run_as else command


@contextmanager
def postgres_server() -> Iterator[Server]:
    """Start a private PostgreSQL and yield it; raise RuntimeError when it cannot start."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise FileNotFoundError(f"no PostgreSQL server under {BIN_GLOB} ({INSTALL_HINT})")
    run_as = "postgres" if os.geteuid() == 0 else None
    top = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    data = top / "data"
    try:
        if run_as:
            shutil.chown(top, user=run_as)
            top.chmod(0o700)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            run_as,
        )
        port = _free_port()
        # fsync off: the data is thrown away, and a benchmark should not measure the disk.
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {top} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(top / "log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            run_as,
            log=top / "log",
        )
        try:
            yield Server(port, bin_dir, run_as)
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], run_as)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _run(command: list[str], run_as: str | None, log: Path | None = None) -> None:
    proc = subprocess.run(
        _as_owner(command, run_as), capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}{tail}"
        )
