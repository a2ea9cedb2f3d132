"""Ongage's import POST: an import Ongage refused for now told from an ambiguous answer.

A refusal (``429``, ``503``, or a ``500`` saying the list has imports in progress) created
nothing: it is retried after backoff, and raised as :class:`ImportRefused` (a
``SubmissionRefused``) when it outlasts the retries, or at once for "in progress" while imports
the provider sent to the list run, so that apply waits for its oldest and sends the batch again
(``specs/vendors/ongage.md``, "Imports in flight"). Any other ``500`` is ambiguous, as
VendorHttp treats it (the documented "Validation error", or a crash after the import was
created): apply resolves it through the import listing.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import ProviderError
from reconciler.providers.base import SubmissionRefused
from reconciler.providers.http import AmbiguousSubmission, VendorHttp, describe, parse_json


class ImportRefused(SubmissionRefused):
    """Ongage refused an import for now (429, 503, or "imports in progress"): nothing was
    created, and the batch did not fail."""


def in_progress_refusal(response: Any) -> bool:
    """A 500 refusing an import because the list has imports in progress. The wording is not
    documented (the sandbox's invented limit answers "... imports in progress; wait for one to
    end"); any other 500 stays an ambiguous answer, resolved through the import listing."""
    try:
        message = response.json()["payload"]["message"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(message, str) and "in progress" in message.lower()


def create_import(http: VendorHttp, path: str, body: dict[str, Any], *, ours_running: bool) -> Any:
    """``POST /{list_id}/api/import``: the answer's JSON once Ongage accepts it.

    429 and 503 are retried by VendorHttp (the vendor did not act). A 500 saying the list has
    imports in progress is retried here the same way, unless ``ours_running`` (imports this
    provider sent to the list have not ended): then the first refusal is raised, since waiting
    for one of them is what frees a place."""
    endpoint = f"POST {path}"
    attempts = http.policy.attempts
    retried = (
        f"still refused after {attempts} attempts: the batch was not sent, run apply again later"
    )
    for attempt in range(1, attempts + 1):
        try:
            response = http.request("POST", path, json=body, idempotent=False, expect=(200, 500))
        except AmbiguousSubmission:
            raise
        except ProviderError as exc:
            if exc.status_code in (429, 503):
                # VendorHttp's message without its "ongage POST …: " prefix, said once.
                detail = str(exc).removeprefix(f"ongage {endpoint}: ")
                raise ImportRefused(
                    f"{detail}; {retried}",
                    vendor="ongage",
                    endpoint=endpoint,
                    status_code=exc.status_code,
                ) from exc
            raise
        if response.status_code == 200:
            return parse_json(response, "ongage", endpoint, error=AmbiguousSubmission)
        if not in_progress_refusal(response):
            raise AmbiguousSubmission(
                f"answered 500 after sending: {describe(response)}",
                vendor="ongage",
                endpoint=endpoint,
                status_code=500,
            )
        if ours_running or attempt == attempts:
            break
        http._backoff(attempt, response)
    raise ImportRefused(
        f"answered 500: {describe(response)}" + ("" if ours_running else f"; {retried}"),
        vendor="ongage",
        endpoint=endpoint,
        status_code=500,
    )
