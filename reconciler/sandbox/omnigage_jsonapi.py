"""Omnigage's JSON:API surface: reading request documents, validating the two create payloads
(``uploads`` and ``import-contacts``) and rendering JSON:API error documents.

Validation here is about the payload alone; whether the upload or the list it names exists is
the vendor's to check against its store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from reconciler.sandbox.core import json_response
from reconciler.sandbox.omnigage_import import FIELDS

__all__ = [
    "IMPORT_TYPES",
    "ApiError",
    "ImportRequest",
    "UploadRequest",
    "parse_import_request",
    "parse_upload_request",
    "read_document",
]

#: The file types an import reads (CSV, XLS, XLSX); the sandbox parses CSV only.
IMPORT_TYPES = frozenset(
    {
        "text/csv",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
MEDIA_TYPES = frozenset({"application/json", "application/vnd.api+json"})
#: Attributes a client may send when creating an import, and their defaults.
IMPORT_FLAGS = {
    "unique-primary-email": False,
    "unique-primary-phone": False,
    "update-pruning": False,
    "enable-preflights": False,
}


class ApiError(Exception):
    """One JSON:API error; ``response`` renders ``{"errors": [...]}``."""

    def __init__(self, status: int, title: str, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.pointer = pointer

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"status": str(self.status), "title": self.title}
        error["detail"] = self.detail
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        return json_response({"errors": [error]}, self.status, headers)


def _invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(422, "Invalid Attribute", detail, pointer)


@dataclass(frozen=True)
class UploadRequest:
    name: str
    type: str
    size: int


@dataclass(frozen=True)
class ImportRequest:
    upload_id: str
    list_id: str | None
    flags: dict[str, bool]
    mapping: list[str | None] | None


def read_document(request: Request) -> Any:
    """The request's JSON body; JSON:API's media type and plain JSON are both accepted."""
    if request.mimetype not in MEDIA_TYPES:
        raise ApiError(
            415,
            "Unsupported Media Type",
            "Send the body as application/vnd.api+json or application/json.",
        )
    try:
        return json.loads(request.get_data())
    except ValueError:
        raise ApiError(400, "Bad Request", "The request body is not valid JSON.") from None


def parse_upload_request(document: Any, max_length: int) -> UploadRequest:
    """``{"name", "type", "size"}`` as the document sends it, or the same as JSON:API
    attributes of an ``uploads`` resource."""
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = document["data"].get("attributes")
    if not isinstance(document, dict):
        raise ApiError(400, "Bad Request", "The request body must be a JSON object.", "/data")
    name, kind, size = document.get("name"), document.get("type"), document.get("size")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name is required: the file's name.", "/data/attributes/name")
    if kind not in IMPORT_TYPES:
        allowed = ", ".join(sorted(IMPORT_TYPES))
        raise _invalid(f"type must be one of {allowed}; got {kind!r}.", "/data/attributes/type")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise _invalid(
            f"size must be a positive integer (bytes); got {size!r}.", "/data/attributes/size"
        )
    if size > max_length:
        raise _invalid(
            f"size {size} exceeds max-length-in-bytes {max_length}.", "/data/attributes/size"
        )
    return UploadRequest(name=name, type=kind, size=size)


def parse_import_request(document: Any) -> ImportRequest:
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ApiError(
            400, "Bad Request", "The request body must be a JSON:API document with data.", "/data"
        )
    data = document["data"]
    if data.get("type") != "import-contacts":
        raise ApiError(
            422,
            "Invalid Type",
            f"data.type must be 'import-contacts'; got {data.get('type')!r}.",
            "/data/type",
        )
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise ApiError(
            422, "Invalid Attributes", "attributes must be an object.", "/data/attributes"
        )
    status = attributes.get("status", "queued")
    if status != "queued":
        raise _invalid(
            f"status must be 'queued' when creating an import; got {status!r}.",
            "/data/attributes/status",
        )
    flags = dict(IMPORT_FLAGS)
    for name in IMPORT_FLAGS:
        value = attributes.get(name, IMPORT_FLAGS[name])
        if not isinstance(value, bool):
            raise _invalid(
                f"{name} must be true or false; got {value!r}.", f"/data/attributes/{name}"
            )
        flags[name] = value
    relationships = data.get("relationships")
    if not isinstance(relationships, dict):
        relationships = {}
    upload_id = _related_id(relationships, "upload", "uploads")
    if upload_id is None:
        raise ApiError(
            422,
            "Invalid Relationship",
            "relationships.upload is required: the upload holding the file.",
            "/data/relationships/upload",
        )
    return ImportRequest(
        upload_id=upload_id,
        list_id=_related_id(relationships, "list", "lists"),
        flags=flags,
        mapping=_mapping(attributes.get("mapping")),
    )


def _related_id(relationships: Mapping[str, Any], name: str, kind: str) -> str | None:
    relationship = relationships.get(name)
    if relationship is None:
        return None
    pointer = f"/data/relationships/{name}/data"
    linkage = relationship.get("data") if isinstance(relationship, dict) else None
    if linkage is None:
        if name == "list" and isinstance(relationship, dict) and "data" in relationship:
            return None  # {"data": null}: no list, as in the document's response
        raise ApiError(
            422, "Invalid Relationship", f"relationships.{name} must hold data.", pointer
        )
    if not isinstance(linkage, dict) or linkage.get("type") != kind:
        got = linkage.get("type") if isinstance(linkage, dict) else linkage
        raise ApiError(
            422,
            "Invalid Relationship",
            f"relationships.{name}.data.type must be '{kind}'; got {got!r}.",
            f"{pointer}/type",
        )
    identifier = linkage.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise ApiError(
            422,
            "Invalid Relationship",
            f"relationships.{name}.data.id must be a non-empty string.",
            f"{pointer}/id",
        )
    return identifier


def _mapping(value: Any) -> list[str | None] | None:
    if value is None:
        return None
    pointer = "/data/attributes/mapping"
    if not isinstance(value, list):
        raise _invalid("mapping must be a list: one Omnigage field (or null) per column.", pointer)
    for index, name in enumerate(value):
        if name is not None and name not in FIELDS:
            allowed = ", ".join(FIELDS)
            raise _invalid(
                f"mapping[{index}] {name!r} is not an Omnigage contact field ({allowed}).",
                f"{pointer}/{index}",
            )
        if name is not None and value.index(name) != index:
            raise _invalid(
                f"mapping[{index}] maps a second column to {name!r}.", f"{pointer}/{index}"
            )
    return list(value)
