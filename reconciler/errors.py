"""The exception tree of reconciler.

Every error a user can cause or meet derives from :class:`ReconcilerError`; the CLI prints
its message (never a traceback) and exits non-zero::

    ReconcilerError
    ├── ConfigError            the YAML configuration is wrong (carries every Problem found)
    ├── SourceError            a member / suppression / export file is wrong (carries Problems)
    ├── PlanError              a plan cannot be made or used
    │   ├── CapabilityError    the plan needs an action a vendor's documented API cannot do
    │   ├── UnsafePlanError    a safety guard blocked the plan
    │   └── StalePlanError     a saved plan no longer matches the state or the vendors
    ├── ProviderError          a vendor answered wrongly or not at all (names vendor and endpoint)
    │   ├── JobFailedError     a vendor job ended in a failure state
    │   ├── AmbiguousSubmission (providers/http.py) a job-creating request may have reached
    │   │                      the vendor: apply looks it up before anything is sent again
    │   └── SubmissionRefused  (providers/base.py) the vendor created no job, for now
    │       └── ImportRefused  (providers/ongage_import.py) a 429, 503 or "imports in
    │                          progress"
    ├── UnresolvedSubmission   a batch may have reached a vendor that cannot say: the user
    │                          records the answer (`reconciler state resolve`)
    ├── StagingError           (staging/base.py) a batch file could not be published or retired
    │   └── PortTaken          the fixed port of `staging: http` is held by another program
    └── StateError             the state file is unreadable, locked or conflicting
        ├── StateLockedError   another run holds the lock
        ├── UnreadableState    (state/store.py) the stored state is there but cannot be parsed
        └── WriteRefused       (state/store.py) a write the rules refuse (lineage, serial)

A test (``tests/unit/test_errors.py``) keeps this drawing equal to the classes.

Lower-level exceptions (httpx, OSError, pydantic, duckdb) are translated into these at the
boundary where their context (file, line, vendor, endpoint) is known.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as is known."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key_path: str | None = None

    def location(self) -> str:
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        key = f"[{self.key_path}] " if self.key_path else ""
        return f"{where}: {key}{self.message}" if where else f"{key}{self.message}"


class ReconcilerError(Exception):
    """Root of every error reconciler raises on purpose."""

    exit_code: int = 1


class _ProblemsError(ReconcilerError):
    def __init__(self, problems: list[Problem] | Problem, *, summary: str | None = None) -> None:
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        self.summary = summary
        super().__init__(self._render())

    def _render(self) -> str:
        head = self.summary or f"{len(self.problems)} problem(s) found"
        return "\n".join([head + ":", *(f"  {p}" for p in self.problems)])


class ConfigError(_ProblemsError):
    """The configuration is invalid; ``problems`` lists every error found, not only the first."""


class SourceError(_ProblemsError):
    """A source or export file holds bad rows; ``problems`` locates each one by file and line."""


class PlanError(ReconcilerError):
    """A plan cannot be computed, saved or applied."""


class CapabilityError(PlanError):
    """The plan needs an action that a vendor's documented API cannot perform."""


class UnsafePlanError(PlanError):
    """A safety guard blocked the plan."""

    exit_code = 3


class StalePlanError(PlanError):
    """A saved plan no longer matches the state or the vendors' current data."""

    exit_code = 4


class ProviderError(ReconcilerError):
    """A vendor API call failed; the message names the vendor and the endpoint."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.vendor = vendor
        self.endpoint = endpoint
        self.status_code = status_code
        where = f"{vendor}" + (f" {endpoint}" if endpoint else "")
        super().__init__(f"{where}: {message}")


class JobFailedError(ProviderError):
    """A vendor import/export job ended in a failure state."""


class UnresolvedSubmission(ReconcilerError):
    """A batch whose submission may have reached its vendor, which documents no record to
    ask and for whose action a second send may not have the effect of one: its ledger entry
    stays ``unknown`` and apply sends nothing until the user records what the vendor holds."""


class StateError(ReconcilerError):
    """The state file cannot be read, written or trusted."""


class StateLockedError(StateError):
    """Another run holds the state lock."""
