"""Read configuration YAML into :class:`~reconciler.config.schema.Config`.

(Stub: the full loader — line numbers, directory merge, ``${env:NAME}``, every error at once —
is being built; this module's public interface below is the contract.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.config.schema import Config

KeyPath = tuple[str | int, ...]


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
        loc = self.source_map.locate(*key_path)
        base = (
            Path(loc.file).parent
            if loc
            else (self.root if self.root.is_dir() else self.root.parent)
        )
        return (base / relative) if not Path(relative).is_absolute() else Path(relative)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    raise NotImplementedError
