"""Drift: how the vendors differ from the repository, and the write-back of what changed at
the vendors into the repository's suppression files."""

from reconciler.drift.model import (
    PART_ORDER,
    Drift,
    FieldDifference,
    ListDrift,
    Part,
    PendingJob,
    VendorSuppression,
)

__all__ = [
    "PART_ORDER",
    "Drift",
    "FieldDifference",
    "ListDrift",
    "Part",
    "PendingJob",
    "VendorSuppression",
]
