from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# Property tests check outcomes, never time: a shared, loaded CI machine must not turn a slow
# example into a failure (hypothesis' default deadline is 200 ms per example).
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- one S3 server for the session ----------------------------------------------------------
# Imported here, below the hypothesis profiles, which are edited on their own.
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.s3server import AWS_ENV, moto_server, reset  # noqa: E402


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
