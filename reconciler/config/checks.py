"""What the schema's validation finds, as problems located at ``file:line:column``: pydantic's
errors translated into the configuration's own words, and references between names."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, ValidationError

from reconciler.config.locations import KeyPath, SourceMap, problem_at
from reconciler.config.schema import Config
from reconciler.errors import Problem


def _clean_path(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """Drop pydantic's union tags from an error location, keeping real keys and indexes."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        found = (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        )
        # A union tag can equal a real key (``csv``): it is a tag when the error goes on
        # below it but the value there is a scalar.
        if found and not last and not isinstance(current[part], dict | list):
            found = False
        if found:
            path.append(part)
            current = current[part]
        elif last:
            path.append(part)
        # else: a tag pydantic inserted for a tagged union member: not part of the data
    return tuple(path)


def _model_at(path: KeyPath, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for listing allowed keys)."""
    annotation: Any = Config
    current = data
    for part in path:
        annotation = _unwrap(annotation, current)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(str(part))
            if info is None:
                return None
            # pydantic keeps a field's own Annotated metadata (a Discriminator) beside it
            annotation = (
                Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
            )
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return None
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
    annotation = _unwrap(annotation, current)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _tagged_member(annotation: Any, value: Any) -> Any:
    """The member of a tagged union (``Discriminator(callable)``) that ``value`` selects."""
    for meta in annotation.__metadata__:
        if isinstance(meta, Discriminator) and callable(meta.discriminator):
            tag = meta.discriminator(value) if isinstance(value, dict) else None
            for member in get_args(get_args(annotation)[0]):
                if any(
                    isinstance(m, Tag) and m.tag == tag for m in getattr(member, "__metadata__", ())
                ):
                    return get_args(member)[0]
    return None


def _unwrap(annotation: Any, value: Any) -> Any:
    """Resolve Annotated/Optional/tagged unions to the member ``value`` selects."""
    for _ in range(8):
        args = get_args(annotation)
        if get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
            annotation = _tagged_member(annotation, value) or args[0]
            continue
        if args and get_origin(annotation) not in (dict, list, tuple):
            members = [a for a in args if a is not type(None)]
            chosen = None
            for member in members:
                inner = get_args(member)[0] if hasattr(member, "__metadata__") else member
                if (
                    isinstance(inner, type)
                    and issubclass(inner, BaseModel)
                    and isinstance(value, dict)
                    and any(
                        k in inner.model_fields and inner.model_fields[k].is_required()
                        for k in value
                    )
                ):
                    chosen = inner
                    break
            annotation = chosen or (members[0] if len(members) == 1 else annotation)
            if chosen is None and len(members) != 1:
                return annotation
            continue
        return annotation
    return annotation


def validation_problems(exc: ValidationError, data: Any, source_map: SourceMap) -> list[Problem]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        path = _clean_path(tuple(error["loc"]), data)
        kind = error["type"]
        loc = source_map.locate(*path)
        if kind == "missing":
            message = f"missing required key {path[-1]!r}"
            loc = source_map.locate(*path[:-1]) or loc
        elif kind == "extra_forbidden":
            model = _model_at(path[:-1], data)
            allowed = sorted(model.model_fields) if model else []
            message = f"unknown key {path[-1]!r}"
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
        elif kind in ("union_tag_not_found", "union_tag_invalid"):
            message = "expected a source with either 'csv:' (files) or 'inline:' (rows)"
        elif kind in ("model_type", "dict_type"):
            # pydantic says "a valid dictionary or instance of Credentials": YAML has mappings.
            message = "expected a mapping (key: value)"
        else:
            message = str(error["msg"])
            message = message.replace("Input should be", "expected").replace("Value error, ", "")
        problems.append(problem_at(message, loc, path))
    return problems


def validate_references(config: Config, source_map: SourceMap) -> list[Problem]:
    """Names that must refer to something defined elsewhere in the configuration."""
    problems = []

    def add(message: str, *path: str | int) -> None:
        problems.append(problem_at(message, source_map.locate(*path), path))

    defined = ", ".join(sorted(config.providers)) or "(none)"
    for name, list_config in config.lists.items():
        if list_config.provider not in config.providers:
            add(
                f"unknown provider {list_config.provider!r} for list {name!r} "
                f"(defined providers: {defined})",
                "lists",
                name,
                "provider",
            )
        seen: set[str] = set()
        for index, field_name in enumerate(list_config.managed_fields):
            if field_name in seen:
                add(
                    f"managed field {field_name!r} is listed twice",
                    "lists",
                    name,
                    "managed_fields",
                    index,
                )
            seen.add(field_name)
    lists = ", ".join(sorted(config.lists)) or "(none)"
    for index, source in enumerate(config.resubscribe):
        for row, opt_in in enumerate(getattr(source, "inline", []) or []):
            for target in opt_in.lists or []:
                if target not in config.lists:
                    add(
                        f"opt-in names unknown list {target!r} (defined lists: {lists})",
                        "resubscribe",
                        index,
                        "inline",
                        row,
                        "lists",
                    )
    return problems
