"""How many examples a property test draws, scaled by the Hypothesis profile in force.

Each property test states the budget it needs in the deterministic profile (``examples(40)``);
the exploratory profile multiplies every budget, so one switch (``HYPOTHESIS_PROFILE=explore``,
see ``tests/conftest.py``) searches far wider everywhere without editing a test."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

#: max_examples of the profiles, over which a test's budget is scaled: 100 is Hypothesis' own
#: default and the "ci" profile's.
_BASE = 100


def examples(n: int) -> settings:
    scale = max(1, settings.default.max_examples // _BASE)
    return settings(
        max_examples=n * scale, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
