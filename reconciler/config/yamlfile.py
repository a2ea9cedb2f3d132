"""Read one YAML file into plain Python data plus the position of every key and item.

ruamel.yaml's round-trip loader keeps line and column of each mapping key and sequence item;
they are collected here into a flat ``{key_path: Location}`` map so that every later error can
point at ``file:line:column``. Anchors and aliases are refused: configuration has no need for
them, and a nested alias ("billion laughs") would otherwise expand without bound. Nesting deeper
than :data:`MAX_DEPTH` is refused too, before the document is built (building it recurses, and
thousands of ``[[[[`` would end in a RecursionError).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.reader import ReaderError

from reconciler import limits
from reconciler.config.locations import key_path_text
from reconciler.errors import Problem

KeyPath = tuple[str | int, ...]
Positions = dict[KeyPath, tuple[int, int]]  # 1-based line and column
#: The deepest configuration is about eight levels (lists.NAME.members[0].inline[0].fields.K).
MAX_DEPTH = 64


class YamlProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _check_size(raw: bytes, display: str, most: limits.Limits) -> None:
    """Refuse a file or a line over its limit before parsing: the parser's cost is what the
    limits bound."""
    if len(raw) > most.yaml_bytes:
        raise YamlProblem(
            Problem(
                f"the file is larger than {most.yaml_bytes:,} bytes, the most a configuration "
                f"file may hold ({limits.variable_of('yaml_bytes')} raises it); keep members "
                "and suppressions in CSV sources",
                file=display,
            )
        )
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if len(line) > most.yaml_line:
            raise YamlProblem(
                Problem(
                    f"the line is {len(line):,} bytes long, longer than {most.yaml_line:,}, the "
                    f"most a configuration line may hold ({limits.variable_of('yaml_line')} "
                    "raises it); split it (one list item per line), or keep long data in a CSV "
                    "source",
                    file=display,
                    line=number,
                )
            )


def read_yaml(path: Path, display: str) -> tuple[Any, Positions]:
    """Parse ``path``; return plain data (dicts, lists, scalars) and the positions."""
    most = limits.current()
    try:
        with path.open("rb") as fh:
            raw = fh.read(most.yaml_bytes + 1)
    except OSError as exc:
        raise YamlProblem(Problem(f"cannot read: {exc.strerror}", file=display)) from exc
    _check_size(raw, display, most)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(
            Problem(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file=display, line=line)
        ) from exc
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        _check_events(yaml, text, display)
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        raise YamlProblem(_marked(exc, display)) from exc
    except ReaderError as exc:
        raise YamlProblem(
            Problem(
                f"invalid YAML: character #x{exc.character:04x} is not allowed ({exc.reason})",
                file=display,
                line=text.count("\n", 0, exc.position) + 1,
            )
        ) from exc
    except YAMLError as exc:
        raise YamlProblem(Problem(f"invalid YAML: {exc}", file=display)) from exc
    positions: Positions = {}
    plain = _plain(data, (), positions, display)
    return plain, positions


def _check_events(yaml: YAML, text: str, display: str) -> None:
    """Refuse aliases and deep nesting from the event stream, before anything is built."""
    depth = 0
    for event in yaml.parse(text):
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            message = (
                f"YAML aliases (*{event.anchor}) are not allowed in configuration: write the "
                "value out"
            )
        elif isinstance(event, CollectionStartEvent) and (depth := depth + 1) > MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep: configuration never needs that"
        else:
            if isinstance(event, CollectionEndEvent):
                depth -= 1
            continue
        raise YamlProblem(
            Problem(message, file=display, line=mark.line + 1, column=mark.column + 1)
        )


def _marked(exc: MarkedYAMLError, display: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
    if "duplicate key" in what or "found duplicate key" in what:
        what = what.replace("while constructing a mapping ", "")
    return Problem(
        f"invalid YAML: {what}" if what else "invalid YAML",
        file=display,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def _plain(node: Any, path: KeyPath, positions: Positions, display: str) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        written: dict[str, Any] = {}
        for key, value in node.items():
            name = str(key)
            line, column = node.lc.key(key)
            if name in written:
                # YAML types keys: ``1:`` and ``"1":`` differ for ruamel's duplicate check, and
                # are one name here, where the second would silently replace the first.
                first = written[name]
                raise YamlProblem(
                    Problem(
                        f'duplicate key "{name}": {_as_written(first)} at line '
                        f"{node.lc.key(first)[0] + 1} and {_as_written(key)} here are the same "
                        "name",
                        file=display,
                        line=line + 1,
                        column=column + 1,
                        key_path=key_path_text((*path, name)),
                    )
                )
            written[name] = key
            child = (*path, name)
            positions[child] = (line + 1, column + 1)
            out[name] = _plain(value, child, positions, display)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            line, column = node.lc.item(index)
            positions[child] = (line + 1, column + 1)
            items.append(_plain(value, child, positions, display))
        return items
    if isinstance(node, str):
        return str(node)  # ruamel's scalar string subclasses carry no meaning here
    return node


def _as_written(key: Any) -> str:
    """A mapping key as YAML typed it: ``"1"`` (a string) or ``1`` (a number)."""
    return f'"{key}"' if isinstance(key, str) else str(key)
