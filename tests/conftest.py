from __future__ import annotations

from hypothesis import HealthCheck, settings

# Property tests check outcomes, never time: a shared, loaded CI machine must not turn a slow
# example into a failure (hypothesis' default deadline is 200 ms per example).
settings.register_profile("reconciler", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("reconciler")
