"""HTTP to a vendor: timeouts, bounded retries with backoff and jitter, clear errors.

Retry policy:

- idempotent requests (GET, and anything marked idempotent): retried on 429 (honouring
  ``Retry-After``), 5xx, connect errors, timeouts and a connection that broke after sending
  ("Server disconnected without sending a response");
- job-creating requests (``idempotent=False``): retried only when the vendor certainly did not
  act on them — connect errors (nothing was sent), 429 and 503. A read timeout, a connection
  that broke after sending, or another 5xx after sending is *ambiguous*: the vendor may have
  created the job. That raises :class:`AmbiguousSubmission` so apply asks the vendor
  (``Provider.find_submitted``) before anything is sent again.

Every error names the vendor and the endpoint (method and path, never credentials).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.errors import ProviderError


class AmbiguousSubmission(ProviderError):
    """A job-creating request may or may not have reached the vendor."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
SAFE_FOR_POST = frozenset({429, 503})
#: The jitter's source unless a caller injects one (tests, to know the exact delays).
_RNG = random.Random()


class VendorHttp:
    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng if rng is not None else _RNG
        timeout = httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout)
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers or {}),
            auth=auth,
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
        label: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; return the response when its status is in ``expect``. ``label``
        names the endpoint in errors instead of the path (e.g. a pre-signed URL)."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")
        endpoint = f"{method.upper()} {label or path}"
        for attempt in range(1, self.policy.attempts + 1):
            last = attempt == self.policy.attempts
            response = self._attempt(method, path, endpoint, idempotent, last, **kwargs)
            if response is None:
                self._backoff(attempt)
                continue
            status = response.status_code
            if status in expect:
                return response
            retryable = status in (RETRYABLE_STATUS if idempotent else SAFE_FOR_POST)
            if retryable and not last:
                self._backoff(attempt, response)
                continue
            if not idempotent and status in RETRYABLE_STATUS - SAFE_FOR_POST:
                raise AmbiguousSubmission(
                    f"answered {status} after sending: {describe(response)}",
                    vendor=self.vendor,
                    endpoint=endpoint,
                    status_code=status,
                )
            raise self._error(
                f"answered {status}: {describe(response)}", endpoint, status_code=status
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        idempotent: bool,
        last: bool,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One attempt: the response, None to try again after a backoff, or the error that
        ends the request (ambiguous when a job-creating request may have reached the vendor).

        The httpx exception is not kept as the cause (``from None``), deliberately: it holds the
        request, whose headers and URL carry the vendor's credentials, and a traceback printed
        by a program embedding reconciler would show them. Its words are in the message."""
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            if last:
                raise self._error(f"cannot connect: {exc}", endpoint) from None
            return None
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            if sent and not idempotent:
                raise AmbiguousSubmission(
                    f"timed out after sending ({type(exc).__name__}); the vendor may have "
                    "accepted it",
                    vendor=self.vendor,
                    endpoint=endpoint,
                ) from None
            if last:
                raise self._error(f"timed out ({type(exc).__name__})", endpoint) from None
            return None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            # The request went out (a refused connection is a ConnectError, above) and
            # the connection broke before the answer: the vendor may have acted.
            broke = f"the connection broke ({type(exc).__name__}: {str(exc) or 'no detail'})"
            if not idempotent:
                raise AmbiguousSubmission(
                    f"{broke} after sending; the vendor may have accepted it",
                    vendor=self.vendor,
                    endpoint=endpoint,
                ) from exc
            if last:
                raise self._error(broke, endpoint) from exc
            return None
        except httpx.HTTPError as exc:
            raise self._error(f"HTTP error: {exc}", endpoint) from None
        except httpx.InvalidURL as exc:
            # e.g. an ID the vendor sent earlier that cannot be part of a URL
            raise self._error(f"invalid URL: {exc}", endpoint) from None

    def json(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        response = self.request(method, path, idempotent=idempotent, **kwargs)
        creates = idempotent is False or (
            idempotent is None and method.upper() not in ("GET", "HEAD", "PUT", "DELETE")
        )
        # A job-creating request answered 2xx was accepted, even when the answer is garbled:
        # resolved by asking the vendor, never taken as a rejection (that would send it twice).
        error = AmbiguousSubmission if creates else ProviderError
        return parse_json(response, self.vendor, f"{method.upper()} {path}", error=error)

    def _backoff(self, attempt: int, response: httpx.Response | None = None) -> None:
        delay = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        delay = self._rng.uniform(delay / 2, delay)
        if response is not None and (value := response.headers.get("Retry-After")):
            # An HTTP-date Retry-After keeps the computed backoff.
            with contextlib.suppress(ValueError):
                delay = min(float(value), self.policy.max_retry_after)
        self._sleep(delay)

    def _error(
        self, message: str, endpoint: str, *, status_code: int | None = None
    ) -> ProviderError:
        return ProviderError(
            message, vendor=self.vendor, endpoint=endpoint, status_code=status_code
        )


def describe(response: httpx.Response) -> str:
    """The vendor's own error message when it gives one, else a short excerpt of the body."""
    try:
        data = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        kind = "HTML page" if text.lower().startswith(("<!doctype", "<html")) else "body"
        return f"{kind}: {text[:200]!r}" if text else "empty body"
    return _message_of(data) or json.dumps(data)[:300]


def _message_of(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "title"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
        for key in ("payload", "errors", "metadata"):
            found = _message_of(data.get(key))
            if found:
                return found
    if isinstance(data, list):
        for item in data:
            found = _message_of(item)
            if found:
                return found
    return None


def parse_json(
    response: httpx.Response,
    vendor: str,
    endpoint: str,
    *,
    error: type[ProviderError] = ProviderError,
) -> Any:
    try:
        return response.json()
    except ValueError:
        raise error(
            f"answered {response.status_code} with a body that is not JSON: {describe(response)}",
            vendor=vendor,
            endpoint=endpoint,
        ) from None


def field(
    data: Any,
    *path: str | int,
    vendor: str,
    endpoint: str,
    error: type[ProviderError] = ProviderError,
) -> Any:
    """``data[path...]``, or an ``error`` (a ProviderError) naming what is missing."""
    current = data
    for key in path:
        try:
            current = current[key]
        except (KeyError, IndexError, TypeError):
            where = ".".join(str(p) for p in path)
            raise error(f"response has no '{where}'", vendor=vendor, endpoint=endpoint) from None
    return current


def whole_number(value: Any, where: str, *, vendor: str, endpoint: str) -> int:
    """A count or index the vendor sent: a whole number or its decimal string (nothing is 0),
    or a ProviderError naming the field."""
    if value is None or value == "":
        return 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ProviderError(
        f"response has {where} {value!r}, not a whole number", vendor=vendor, endpoint=endpoint
    )


def mapping(value: Any, where: str, *, vendor: str, endpoint: str) -> dict[str, Any]:
    """``value`` when it is a JSON object (nothing is an empty one), else a ProviderError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProviderError(
            f"response has {where} {_excerpt(value)}, not an object",
            vendor=vendor,
            endpoint=endpoint,
        )
    return value


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
