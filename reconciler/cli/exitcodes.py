"""The command line's exit codes (``specs/exit-codes.md``): one meaning each, for scripts and CI.

Errors carry their own code (``ReconcilerError.exit_code``: 1, or 3 for a safety guard and 4
for a stale plan); the commands return the others.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success; with --detailed-exitcode: no changes
    ERROR = 1  # an error: configuration, sources, vendor, state, usage
    CHANGES = 2  # with --detailed-exitcode: the plan has changes; or drift was found
    BLOCKED = 3  # a safety guard blocked the plan
    STALE_PLAN = 4  # a saved plan no longer matches the state, configuration or vendors
    FAILED_BATCHES = 5  # apply finished, but some batches failed at the vendor


__all__ = ["ExitCode"]
