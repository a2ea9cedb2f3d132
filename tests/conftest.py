from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.s3server import AWS_ENV, moto_server, reset

# Property tests check outcomes, never time: a shared, loaded CI machine must not turn a slow
# example into a failure (hypothesis' default deadline is 200 ms per example).
_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
# The default, in CI and in the README's test command: the same examples on every run and every
# machine (derandomize), and no example database, so a failure found once on one machine cannot
# make the next run differ from a clean clone's. Any failure is then reproducible as is.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_COMMON)
# Exploration, on demand: fresh random examples, fifty times each test's budget (see
# tests/hypothesis_budget.py), failures kept in .hypothesis/ and replayed until fixed. Every
# failure it finds becomes an @example in the test, so the deterministic run keeps it.
settings.register_profile(
    "explore",
    max_examples=5000,
    phases=list(Phase),
    print_blob=True,
    **_COMMON,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Exploring runs a property test for many minutes: pytest-timeout's limit (meant for a
    hung test) would interrupt it mid-example, and DuckDB reports that as "Query interrupted",
    which Hypothesis then calls a flaky failure."""
    if PROFILE != "explore":
        return
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.timeout(0))


# -- one S3 server for the session ----------------------------------------------------------
@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for every test that needs S3, started by the first of them."""
    with moto_server() as url:
        yield url


@pytest.fixture
def empty_s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto server, emptied of every earlier test's buckets and objects, with
    test credentials in the environment (where reconciler subprocesses inherit them)."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    reset(moto_endpoint)
    return moto_endpoint
