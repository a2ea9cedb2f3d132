"""Read configuration YAML (one file, or every ``*.yaml`` of a directory) into a validated
:class:`~reconciler.config.schema.Config`, with every error located at ``file:line:column``.

Every problem is collected before anything is raised: a user fixes a config in one pass, not
one error per run.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Discriminator, Tag, ValidationError

from reconciler.config.schema import Config
from reconciler.config.yamlfile import Positions, YamlProblem, read_yaml
from reconciler.errors import ConfigError, Problem

KeyPath = tuple[str | int, ...]

_ENV_RE = re.compile(r"\$(\$?)\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_MERGED_BY_NAME = ("providers", "lists")
_CONCATENATED = ("suppressions", "resubscribe")


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceMap:
    """Where each key of the merged configuration was written."""

    positions: Mapping[KeyPath, Location] = field(default_factory=dict)

    def locate(self, *key_path: str | int) -> Location | None:
        """The location of ``key_path``, or of its nearest ancestor that has one."""
        path: KeyPath = tuple(key_path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return None


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    source_map: SourceMap
    root: Path  # what was given with -c (a file or a directory)
    checksum: str  # sha256 over every config file read, in path order
    files: tuple[Path, ...] = ()

    def resolve_path(self, key_path: KeyPath, relative: str) -> Path:
        """Resolve a path written at ``key_path`` relative to the file that wrote it."""
        if Path(relative).is_absolute():
            return Path(relative)
        loc = self.source_map.locate(*key_path)
        if loc is not None:
            base = Path(loc.file).parent
        else:
            base = self.root if self.root.is_dir() else self.root.parent
        return base / relative


def key_path_text(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def config_files(root: Path) -> list[Path]:
    if root.is_dir():
        return sorted(
            p
            for p in root.iterdir()
            if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith((".", "_"))
        )
    return [root]


class _Loader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []
        self.merged: dict[str, Any] = {}
        self.positions: dict[KeyPath, Location] = {}

    def problem(self, message: str, loc: Location | None, key_path: KeyPath = ()) -> None:
        self.problems.append(
            Problem(
                message,
                file=loc.file if loc else None,
                line=loc.line if loc else None,
                column=loc.column if loc else None,
                key_path=key_path_text(key_path) if key_path else None,
            )
        )

    # -- ${env:NAME} -----------------------------------------------------------------------------
    def interpolate(self, value: Any, path: KeyPath, where: dict[KeyPath, Location]) -> Any:
        if isinstance(value, dict):
            return {k: self.interpolate(v, (*path, k), where) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, (*path, i), where) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${env:" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return match.group(0)[1:]
            if name not in self.env:
                self.problem(
                    f"environment variable {name} is not set (referenced as ${{env:{name}}})",
                    where.get(path),
                    path,
                )
                return ""
            return self.env[name]

        return _ENV_RE.sub(replace, value)

    # -- merging ---------------------------------------------------------------------------------
    def add_file(self, data: dict[str, Any], local: dict[KeyPath, Location]) -> None:
        for key, value in data.items():
            if key in _MERGED_BY_NAME and isinstance(value, dict):
                target = self.merged.setdefault(key, {})
                if not isinstance(target, dict):
                    continue
                accepted: set[str] = set()
                for name, item in value.items():
                    if name in target:
                        first = self.positions.get((key, name))
                        here = local.get((key, name))
                        noun = "list" if key == "lists" else "provider"
                        self.problem(
                            f"{noun} {name!r} is defined twice: at {first} and at {here}",
                            here,
                            (key, name),
                        )
                        continue
                    target[name] = item
                    accepted.add(name)
                # One pass for every name: a pass per name is quadratic in a big file.
                for path, loc in local.items():
                    if len(path) >= 2 and path[0] == key and path[1] in accepted:
                        self.positions[path] = loc
            elif key in _CONCATENATED and isinstance(value, list):
                target_list = self.merged.setdefault(key, [])
                if not isinstance(target_list, list):
                    continue
                offset = len(target_list)
                target_list.extend(value)
                self._move(local, (key,), (key,), shift=offset)
            else:
                if key in self.merged and not (key == "version" and self.merged[key] == value):
                    first = self.positions.get((key,))
                    self.problem(
                        f"{key!r} is set in more than one file: at {first} and at "
                        f"{local.get((key,))}",
                        local.get((key,)),
                        (key,),
                    )
                    continue
                self.merged[key] = value
                self._move(local, (key,), (key,))

    def _move(
        self, local: dict[KeyPath, Location], src: KeyPath, dst: KeyPath, *, shift: int = 0
    ) -> None:
        n = len(src)
        for path, loc in local.items():
            if path[:n] != src:
                continue
            rest = path[n:]
            if shift and rest and isinstance(rest[0], int):
                rest = (rest[0] + shift, *rest[1:])
            elif shift and not rest:
                continue
            self.positions[(*dst, *rest)] = loc


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and validate configuration; raise ConfigError listing every problem found."""
    root = Path(path)
    env = os.environ if env is None else env
    if not root.exists():
        raise ConfigError(
            Problem(f"no configuration at {_display(root)}"),
            summary="Cannot load the configuration",
        )
    files = config_files(root)
    if not files:
        raise ConfigError(
            Problem(f"no *.yaml files in directory {_display(root)}"),
            summary="Cannot load the configuration",
        )
    loader = _Loader(env)
    digest = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for file in files:
        display = _display(file)
        try:
            digest.update(os.path.relpath(file, base).encode() + b"\0" + file.read_bytes())
            data, raw_positions = read_yaml(file, display)
        except YamlProblem as exc:
            loader.problems.append(exc.problem)
            continue
        except OSError as exc:
            loader.problems.append(Problem(f"cannot read: {exc.strerror}", file=display))
            continue
        local = _locations(raw_positions, display, file)
        if data is None:
            continue  # an empty file adds nothing
        if not isinstance(data, dict):
            loader.problem(
                "the top level must be a mapping (providers:, lists:, ...)", Location(display, 1, 1)
            )
            continue
        data = loader.interpolate(data, (), local)
        loader.add_file(data, local)
    source_map = SourceMap(dict(loader.positions))
    config: Config | None = None
    try:
        config = Config.model_validate(loader.merged)
    except ValidationError as exc:
        loader.problems.extend(_validation_problems(exc, loader.merged, source_map))
    if config is not None:
        loader.problems.extend(validate_references(config, source_map))
    if loader.problems:
        raise ConfigError(
            _sorted(loader.problems),
            summary=f"The configuration has {len(loader.problems)} problem(s)",
        )
    assert config is not None
    return LoadedConfig(config, source_map, root, digest.hexdigest(), tuple(files))


def _locations(raw: Positions, display: str, file: Path) -> dict[KeyPath, Location]:
    # Locations name the file as given on disk so that relative paths resolve against it;
    # ``display`` is only used for messages.
    name = str(file) if display == str(file) else display
    return {path: Location(name, line, col) for path, (line, col) in raw.items()}


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0))


# -- pydantic errors as located problems --------------------------------------------------------
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


def _validation_problems(exc: ValidationError, data: Any, source_map: SourceMap) -> list[Problem]:
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
        problems.append(
            Problem(
                message,
                file=loc.file if loc else None,
                line=loc.line if loc else None,
                column=loc.column if loc else None,
                key_path=key_path_text(path) or None,
            )
        )
    return problems


def validate_references(config: Config, source_map: SourceMap) -> list[Problem]:
    """Names that must refer to something defined elsewhere in the configuration."""
    problems = []

    def add(message: str, *path: str | int) -> None:
        loc = source_map.locate(*path)
        problems.append(
            Problem(
                message,
                file=loc.file if loc else None,
                line=loc.line if loc else None,
                column=loc.column if loc else None,
                key_path=key_path_text(tuple(path)),
            )
        )

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
