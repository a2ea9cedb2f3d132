"""Read configuration YAML (one file, or every ``*.yaml`` of a directory) into a validated
:class:`~reconciler.config.schema.Config`, with every error located at ``file:line:column``.

Every problem is collected before anything is raised: a user fixes a config in one pass, not
one error per run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.config.checks import validate_references, validation_problems
from reconciler.config.env import (
    has_reference,
    is_credential,
    refused,
    substitute,
    substituted_here,
    unescape,
)
from reconciler.config.locations import KeyPath, Location, SourceMap, key_path_text, problem_at
from reconciler.config.paths import file_problem, path_problems, repository_root
from reconciler.config.schema import Config
from reconciler.config.text import refusal
from reconciler.config.trust import base_url_problems
from reconciler.config.yamlfile import Positions, YamlProblem, read_yaml
from reconciler.errors import ConfigError, Problem

_MERGED_BY_NAME = ("providers", "lists")
_CONCATENATED = ("suppressions", "resubscribe")


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    source_map: SourceMap
    root: Path  # what was given with -c (a file or a directory)
    checksum: str  # sha256 over every config file read, in path order
    files: tuple[Path, ...] = ()
    #: ``${env:…}`` left unset, when loaded with ``env_optional``.
    unset_variables: tuple[UnsetVariable, ...] = ()

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


@dataclass(frozen=True)
class UnsetVariable:
    """A ``${env:NAME}`` whose variable is unset, and where it is referenced."""

    variable: str
    key_path: KeyPath
    location: Location | None

    @property
    def what(self) -> str:
        """What goes unchecked: the vendor's credentials, or where to reach it and stage."""
        return "credentials" if is_credential(self.key_path) else "connection settings"

    def __str__(self) -> str:
        where = f"{self.location} " if self.location else ""
        return f"{self.variable} unset ({where}[{key_path_text(self.key_path)}])"


class _Loader:
    def __init__(self, env: Mapping[str, str], env_optional: bool = False) -> None:
        self.env = env
        self.env_optional = env_optional
        self.unset_variables: list[UnsetVariable] = []
        self.problems: list[Problem] = []
        self.merged: dict[str, Any] = {}
        self.positions: dict[KeyPath, Location] = {}
        #: Providers whose base_url came from the environment (config.trust).
        self.base_urls_from_env: set[str] = set()

    def problem(self, message: str, loc: Location | None, key_path: KeyPath = ()) -> None:
        self.problems.append(problem_at(message, loc, key_path))

    # -- values: ${env:NAME} and forbidden characters -------------------------------------------
    def interpolate(self, value: Any, path: KeyPath, where: dict[KeyPath, Location]) -> Any:
        """``value`` with ``${env:NAME}`` substituted where that is allowed; a reference
        elsewhere, and a key or value holding a control or invisible character, is a problem."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                self._check_text(k, (*path, k), where)
                out[k] = self.interpolate(v, (*path, k), where)
            return out
        if isinstance(value, list):
            return [self.interpolate(v, (*path, i), where) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        self._check_text(value, path, where)
        if "${env:" not in value:
            return value
        if not substituted_here(path):
            if has_reference(value):
                self.problem(refused(), where.get(path), path)
            return unescape(value)
        if len(path) == 3 and path[0] == "providers" and path[2] == "base_url":
            self.base_urls_from_env.add(str(path[1]))
        result = substitute(value, self.env, may_be_unset=self.env_optional)
        for message in result.problems:
            self.problem(message, where.get(path), path)
        self.unset_variables.extend(
            UnsetVariable(name, path, where.get(path)) for name in result.unset
        )
        return result.value

    def _check_text(self, text: str, path: KeyPath, where: dict[KeyPath, Location]) -> None:
        message = refusal(text)
        if message is not None:
            self.problem(message, where.get(path), path)

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


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, *, env_optional: bool = False
) -> LoadedConfig:
    """Load and validate configuration; raise ConfigError listing every problem found. With
    ``env_optional`` (``validate`` without the runner's environment), a ``${env:…}`` whose
    variable is unset is read as empty and listed in ``unset_variables`` instead of a problem."""
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
    loader = _Loader(env, env_optional)
    paths_root = repository_root(root, env)
    digest = _read_files(loader, root, files, paths_root)
    source_map = SourceMap(dict(loader.positions))
    config: Config | None = None
    try:
        config = Config.model_validate(loader.merged)
    except ValidationError as exc:
        loader.problems.extend(validation_problems(exc, loader.merged, source_map))
    loaded = None
    if config is not None:
        loader.problems.extend(validate_references(config, source_map))
        loader.problems.extend(
            base_url_problems(config, source_map, env, loader.base_urls_from_env)
        )
        loaded = LoadedConfig(
            config, source_map, root, digest, tuple(files), tuple(loader.unset_variables)
        )
        base = root if root.is_dir() else root.parent
        loader.problems.extend(
            path_problems(config, source_map, loaded.resolve_path, base, paths_root)
        )
    if loader.problems:
        raise ConfigError(
            _sorted(loader.problems),
            summary=f"The configuration has {len(loader.problems)} problem(s)",
        )
    assert loaded is not None
    return loaded


def _read_files(loader: _Loader, root: Path, files: list[Path], paths_root: Path) -> str:
    """Read each file into ``loader``; the sha256 over every file read, in path order."""
    digest = hashlib.sha256()
    base = root if root.is_dir() else root.parent
    for file in files:
        display = _display(file)
        outside = file_problem(file, display, paths_root)
        if outside is not None:
            loader.problems.append(outside)
            continue
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
    return digest.hexdigest()


def require_lists(loaded: LoadedConfig) -> None:
    """Refuse a configuration that declares no list: an empty file (or a directory of them)
    would otherwise plan "no changes", as if the vendors matched it."""
    if loaded.config.lists:
        return
    raise ConfigError(
        Problem(
            "the configuration declares no lists; declare one under 'lists:' (see specs/config.md)",
            file=_display(loaded.root),
        ),
        summary="Nothing is configured",
    )


def _locations(raw: Positions, display: str, file: Path) -> dict[KeyPath, Location]:
    # Locations name the file as given on disk so that relative paths resolve against it;
    # ``display`` is only used for messages.
    name = str(file) if display == str(file) else display
    return {path: Location(name, line, col) for path, (line, col) in raw.items()}


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0))
