"""The plan: an immutable description of what apply would change, per list."""

from reconciler.plan.model import (
    FORMAT_VERSION,
    CapabilityGap,
    CurrentStateRef,
    ListChange,
    ListPlan,
    Plan,
)

__all__ = ["FORMAT_VERSION", "CapabilityGap", "CurrentStateRef", "ListChange", "ListPlan", "Plan"]
