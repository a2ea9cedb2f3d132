"""Where each key of a configuration was written, and problems located there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.errors import Problem

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


def key_path_text(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problem_at(message: str, loc: Location | None, key_path: KeyPath = ()) -> Problem:
    """A problem at ``loc`` (when known), naming the key path."""
    return Problem(
        message,
        file=loc.file if loc else None,
        line=loc.line if loc else None,
        column=loc.column if loc else None,
        key_path=key_path_text(key_path) or None,
    )
