"""Reading a listmonk list: ``GET /api/subscribers?list_id=…&per_page=all`` (beyond the
document: listmonk v6.2.0 ``cmd/handlers.go`` line 117), and the rows of the current-state
file made from it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from reconciler.errors import ProviderError
from reconciler.providers.http import VendorHttp, field, whole_number


def listing(http: VendorHttp, list_id: int) -> tuple[list[dict[str, Any]], int | None]:
    """The list's subscribers, and listmonk's ``total``: its own count of them, which the
    safety guards compare with the rows received."""
    path = f"/api/subscribers?list_id={list_id}&per_page=all"
    data = http.json("GET", path)
    results = field(data, "data", "results", vendor="listmonk", endpoint=f"GET {path}")
    if not isinstance(results, list):
        raise ProviderError(
            "response has no list at 'data.results'", vendor="listmonk", endpoint=f"GET {path}"
        )
    total = data["data"].get("total")
    reported = total if isinstance(total, int) and not isinstance(total, bool) else None
    return [r for r in results if isinstance(r, dict)], reported


def subscriber_ids(subscribers: Iterable[Mapping[str, Any]], list_id: int) -> dict[str, int]:
    """Address → listmonk's subscriber ID."""
    endpoint = f"GET /api/subscribers?list_id={list_id}"
    ids = {}
    for sub in subscribers:
        email = field(sub, "email", vendor="listmonk", endpoint=endpoint)
        sub_id = field(sub, "id", vendor="listmonk", endpoint=endpoint)
        ids[str(email).lower()] = whole_number(
            sub_id, "a subscriber's id", vendor="listmonk", endpoint=endpoint
        )
    return ids


def current_rows(
    subscribers: Iterable[Mapping[str, Any]], list_id: int, managed: Sequence[str]
) -> Iterator[list[Any]]:
    """The current-state file's rows (``email, status, *managed``): a blocklisted subscriber
    is ``blocklisted``, else its subscription's status on this list; managed field ``name`` is
    the subscriber's name, any other an attribute."""
    for sub in subscribers:
        status = (
            "blocklisted"
            if sub.get("status") == "blocklisted"
            else next(
                (
                    str(s.get("subscription_status"))
                    for s in _objects(sub.get("lists"))
                    if s.get("id") == list_id
                ),
                "unconfirmed",
            )
        )
        attribs = sub.get("attribs")
        attribs = attribs if isinstance(attribs, dict) else {}
        values = [sub.get("name") if f == "name" else attribs.get(f) for f in managed]
        yield [sub.get("email"), status, *("" if v is None else str(v) for v in values)]


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list the vendor sent (anything else in it says nothing)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


__all__ = ["current_rows", "listing", "subscriber_ids"]
