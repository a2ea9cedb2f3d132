"""One private PostgreSQL for the session (tests/warehouse/pgserver.py), and per test a
fresh database in it, a YAML project in a temporary directory that reads from it, and the
DSN in the environment as a configuration would take it."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.engine import hot
from tests.warehouse.pgserver import INSTALL_HINT, Server, postgres_server, server_bin

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """The session's server. Without one installed the tests skip, saying how to install it,
    except in CI (CI=true), whose .ci/run installs it: there a missing server is a failure."""
    if server_bin() is None:
        message = f"PostgreSQL's server is not installed ({INSTALL_HINT})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run should have installed it")
        pytest.skip(message)
    with postgres_server() as server:
        yield server


@pytest.fixture
def database(postgres: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """A new, empty database for the test, its DSN in WAREHOUSE_DSN."""
    name = f"t{next(_databases)}"
    postgres.psql(f"CREATE DATABASE {name}")
    monkeypatch.setenv("WAREHOUSE_DSN", postgres.dsn(name))
    return dataclasses.replace(postgres, database=name)


@pytest.fixture(params=["by-raw-key", "every-row"])
def reread(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways the engine re-reads hot members (see tests/engine/conftest.py)."""
    monkeypatch.setattr(hot, "RAW_KEY_SHARE", 2.0 if request.param == "by-raw-key" else 0.0)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Write files of a project under tmp_path, running inside it (messages name files
    relative to it)."""
    before = Path.cwd()
    os.chdir(tmp_path)

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    try:
        yield write
    finally:
        os.chdir(before)
