"""Validation of a Yesmail ``members/file-import`` request payload (pure, no I/O).

Every check the vendor document states is made here, in the order the payload is read; the
first failure is a request-level ``400`` whose message names the property at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

#: The load table's member ID column when the seed names one (the document's example maps
#: ``{"id": 0}``); a load table without it is keyed by its ``email`` column ("If email address
#: is used as the ID"). See ``member_id_column``.
MEMBER_ID = "id"
EMAIL_ID = "email"
IMPORT_TYPES = ("ignore", "update", "replace")
SEPARATORS = (",", "\t", "|", ";")
URI_SCHEMES = ("http", "https", "ftp")
_TOP_LEVEL = ("errorThreshold", "importType", "responseRef", "responseUri", "source")
_SOURCE = ("headers", "mappings", "separator", "uri")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


class InvalidRequest(Exception):
    """The payload breaks a documented rule: answered ``400`` with this message."""


@dataclass(frozen=True)
class Threshold:
    """``errorThreshold`` as given: an int (0 = no check) or a percent string like ``"5%"``.

    The document says both "an exact error count to trigger the stop" and "if number of failed
    requests exceeds the error threshold, then no records will be updated": the sandbox stops
    when failures *exceed* it (``failed > n``, ``failed / requested > p%``)."""

    raw: int | str = 0

    def exceeded(self, failed: int, requested: int) -> bool:
        if isinstance(self.raw, int):
            return self.raw > 0 and failed > self.raw
        percent = Fraction(self.raw[:-1])
        return requested > 0 and Fraction(failed * 100, requested) > percent


@dataclass(frozen=True)
class ImportRequest:
    """A validated file-import request, stored with its ticket."""

    uri: str
    mappings: tuple[tuple[str, int | str], ...]  # load-table column -> source index or name
    member_id: str = MEMBER_ID  # the mapped load-table column that identifies the member
    headers: bool = False
    separator: str = ","
    import_type: str = "update"
    threshold: Threshold = Threshold()
    response_uri: str | None = None
    response_ref: str | None = None

    @property
    def by_name(self) -> bool:
        return isinstance(self.mappings[0][1], str)

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "mappings": [[key, value] for key, value in self.mappings],
            "memberId": self.member_id,
            "headers": self.headers,
            "separator": self.separator,
            "importType": self.import_type,
            "errorThreshold": self.threshold.raw,
            "responseUri": self.response_uri,
            "responseRef": self.response_ref,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportRequest:
        return cls(
            uri=data["uri"],
            mappings=tuple((str(k), v) for k, v in data["mappings"]),
            # Tickets stored before load tables could be keyed by email were keyed by id.
            member_id=str(data.get("memberId", MEMBER_ID)),
            headers=data["headers"],
            separator=data["separator"],
            import_type=data["importType"],
            threshold=Threshold(data["errorThreshold"]),
            response_uri=data["responseUri"],
            response_ref=data["responseRef"],
        )


def member_id_column(columns: Sequence[str]) -> str:
    """The column of a load table that identifies its members: ``id`` when it has one, else
    ``email`` (the sandbox's choice: the document names both but not how a table says which)."""
    return MEMBER_ID if MEMBER_ID in columns or EMAIL_ID not in columns else EMAIL_ID


def parse_import_request(
    payload: Any, *, columns: Sequence[str], list_name: str, query: Mapping[str, str]
) -> ImportRequest:
    """Validate ``payload`` against the document; ``columns`` is the list's whole load table
    (its member ID column included)."""
    if not isinstance(payload, dict):
        raise InvalidRequest("Request payload must be a JSON object.")
    _reject_unknown(payload, _TOP_LEVEL, "")
    if "source" not in payload:
        raise InvalidRequest("source is required.")
    source = payload["source"]
    if not isinstance(source, dict):
        raise InvalidRequest("source must be an object.")
    _reject_unknown(source, _SOURCE, "source.")
    uri = _uri(source.get("uri"))
    headers = source.get("headers", False)
    if not isinstance(headers, bool):
        raise InvalidRequest("source.headers must be true or false.")
    separator = source.get("separator", ",")
    if separator not in SEPARATORS:
        allowed = ", ".join(repr(s) for s in SEPARATORS)
        raise InvalidRequest(f"source.separator must be one of {allowed}: got {separator!r}.")
    member_id = member_id_column(columns)
    mappings = _mappings(source.get("mappings"), headers, columns, member_id, list_name)
    import_type = payload.get("importType", "update")
    if import_type not in IMPORT_TYPES:
        raise InvalidRequest(
            f"importType must be one of {', '.join(IMPORT_TYPES)}: got {import_type!r}."
        )
    return ImportRequest(
        uri=uri,
        mappings=mappings,
        member_id=member_id,
        headers=headers,
        separator=separator,
        import_type=import_type,
        threshold=_threshold(payload.get("errorThreshold", 0)),
        response_uri=_optional_text(payload, query, "responseUri"),
        response_ref=_optional_text(payload, query, "responseRef"),
    )


def _reject_unknown(obj: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    # Strict on purpose: a misspelt option in a client must not silently fall back to a default.
    for key in obj:
        if key not in allowed:
            raise InvalidRequest(
                f"Unknown property '{prefix}{key}'. Allowed: {', '.join(allowed)}."
            )


def _uri(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest("source.uri is required.")
    parts = urlsplit(value)
    if parts.scheme.lower() not in URI_SCHEMES:
        raise InvalidRequest(f"source.uri must use http, https or ftp: got {value!r}.")
    if not parts.hostname:
        raise InvalidRequest(f"source.uri has no host: {value!r}.")
    return value


def _mappings(
    value: Any, headers: bool, columns: Sequence[str], member_id: str, list_name: str
) -> tuple[tuple[str, int | str], ...]:
    if value is None:
        raise InvalidRequest("source.mappings is required.")
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
        raise InvalidRequest(
            'source.mappings must be a non-empty array of objects such as {"id": 0}.'
        )
    pairs = [(key, target) for mapping in value for key, target in mapping.items()]
    if not pairs:
        raise InvalidRequest("source.mappings maps no column.")
    for key, target in pairs:
        is_index = isinstance(target, int) and not isinstance(target, bool) and target >= 0
        if not is_index and not (isinstance(target, str) and target):
            raise InvalidRequest(
                f"source.mappings value for '{key}' must be a column index (an integer >= 0)"
                " or a header column name."
            )
    kinds = {isinstance(target, str) for _, target in pairs}
    if len(kinds) > 1:
        raise InvalidRequest(
            "source.mappings must use either column indexes or header names for every key,"
            " not both."
        )
    if kinds == {True} and not headers:
        raise InvalidRequest(
            "source.mappings uses header names but source.headers is false:"
            " without a header row only column indexes are allowed."
        )
    seen: set[str] = set()
    for key, _ in pairs:
        # "The request will fail if the name in the map does not exists in the list load table."
        if key not in columns:
            raise InvalidRequest(
                f"source.mappings key '{key}' does not exist in the load table of target list"
                f" '{list_name}' (columns: {', '.join(columns)})."
            )
        if key in seen:
            raise InvalidRequest(f"source.mappings maps '{key}' more than once.")
        seen.add(key)
    if member_id not in seen:
        raise InvalidRequest(f"source.mappings must map the member ID column '{member_id}'.")
    return tuple(pairs)


def _threshold(value: Any) -> Threshold:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Threshold(value)
    if isinstance(value, str):
        match = _PERCENT.fullmatch(value)
        if match and 0 < Fraction(match.group(1)) < 100:
            return Threshold(value)
    raise InvalidRequest(
        "errorThreshold must be an integer >= 0 or a quoted percentage strictly between"
        f' 0% and 100% such as "5%": got {value!r}.'
    )


def _optional_text(payload: Mapping[str, Any], query: Mapping[str, str], name: str) -> str | None:
    # Documented as URI parameters; the Tickets API also names them payload elements.
    value = query.get(name, payload.get(name))
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"{name} must be a string.")
