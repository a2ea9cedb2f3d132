"""Every file the configuration names for reading or writing data stays inside the repository.

A pull request writes the configuration, and messages quote what files hold: ``csv:
/proc/self/environ`` would print the CI's environment, a state path of ``~/.bashrc`` would
overwrite it. So each such path, with ``..`` and symbolic links resolved, must lie below the
*root*: the Git work tree that holds the configuration (the nearest directory above it with a
``.git``), or, outside Git, the configuration's directory. Whoever runs reconciler (not the
configuration) may name another root with the environment variable :data:`ROOT_VARIABLE`;
``/`` turns the rule off.

Not confined: ``staging.path`` of the ``directory`` backend (a web server's directory, often
outside the repository, that reconciler only writes files of random names into) and paths
given on the command line (``--state``, ``--json``, …), which the person running it chose.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from reconciler.config.locations import KeyPath, SourceMap, problem_at
from reconciler.config.schema import Config, CsvSource, LocalStateConfig
from reconciler.errors import Problem

ROOT_VARIABLE = "RECONCILER_PATHS_ROOT"

#: ``resolve(key_path, written)``: the path a value written at ``key_path`` names.
Resolver = Callable[[KeyPath, str], Path]


def repository_root(config_root: Path, env: Mapping[str, str]) -> Path:
    """The directory every configured path must stay below (resolved)."""
    given = env.get(ROOT_VARIABLE, "").strip()
    if given:
        return Path(given).expanduser().resolve()
    start = (config_root if config_root.is_dir() else config_root.parent).resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def escape(path: Path, root: Path) -> str | None:
    """Why ``path`` is not allowed (it resolves outside ``root``), or None when it is."""
    try:
        real = path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a loop of links, a NUL byte
        return f"cannot be resolved ({exc})"
    if real.is_relative_to(root):
        return None
    link = _link_out(path, root)
    if link is not None and Path(os.path.abspath(path)).is_relative_to(root):
        return f"leads outside the repository ({root}) through the symbolic link {link}"
    return f"is outside the repository ({root})"


def _link_out(path: Path, root: Path) -> Path | None:
    """The first symbolic link on the way to ``path`` (itself included) that leads out of
    ``root``, if any."""
    current = Path(path.anchor)
    for part in path.parts[1:] if path.anchor else path.parts:
        current = current / part
        if current.is_symlink() and not current.resolve().is_relative_to(root):
            return current
    return None


def _advice() -> str:
    return (
        "the configuration may name files inside it only (another root: "
        f"{ROOT_VARIABLE}=DIR in the environment of the run)"
    )


def path_problems(
    config: Config, source_map: SourceMap, resolve: Resolver, config_dir: Path, root: Path
) -> list[Problem]:
    """A problem, at the key that names it, for each configured path outside ``root``."""
    problems = []
    for key_path, written, path in _named_paths(config, resolve, config_dir):
        why = _refusal(written, path, root)
        if why is not None:
            loc = source_map.locate(*key_path)
            problems.append(problem_at(f"{why}: {_advice()}", loc, key_path))
    return problems


def _refusal(written: str, path: Path, root: Path) -> str | None:
    """Why the value ``written`` (naming ``path``, maybe a glob) is refused, or None."""
    pattern = str(path)
    if not glob.has_magic(pattern):
        why = escape(path, root)
        return None if why is None else f"{written!r} {why}"
    why = escape(Path(*_until_magic(path.parts)), root)
    if why is not None:
        return f"{written!r} {why}"
    # Each match too: a link among the files a glob finds leads out as well.
    refused = [
        (match, reason)
        for match in sorted(glob.glob(pattern, recursive=True))
        if (reason := escape(Path(match), root)) is not None
    ]
    if not refused:
        return None
    (first, first_reason), more = refused[0], len(refused) - 1
    others = f" (and {more} more)" if more else ""
    return f"{written!r} matches {first}{others}, which {first_reason}"


def file_problem(file: Path, display: str, root: Path) -> Problem | None:
    """A configuration file that is a link out of the repository (its keys would be quoted)."""
    why = escape(file, root)
    if why is None:
        return None
    return Problem(
        f"configuration file {why}: it is not read (another root: {ROOT_VARIABLE}=DIR in the "
        "environment of the run)",
        file=display,
    )


def _until_magic(parts: tuple[str, ...]) -> Iterator[str]:
    for part in parts:
        if glob.has_magic(part):
            return
        yield part


def _named_paths(
    config: Config, resolve: Resolver, config_dir: Path
) -> Iterator[tuple[KeyPath, str, Path]]:
    """(key path, value as written, path it names) of every path the configuration names."""

    def at(key_path: KeyPath, written: str) -> tuple[KeyPath, str, Path]:
        return key_path, written, resolve(key_path, written)

    for name, list_config in config.lists.items():
        yield from _sources(("lists", name, "members"), list_config.members, at)
        yield from _sources(("lists", name, "suppressions"), list_config.suppressions, at)
        export = list_config.export
        if export is not None and export.path is not None:
            yield at(("lists", name, "export", "path"), export.path)
        for status, written in (export.by_status or {}).items() if export else ():
            yield at(("lists", name, "export", "by_status", status), written)
    yield from _sources(("suppressions",), config.suppressions, at)
    yield from _sources(("resubscribe",), config.resubscribe, at)
    if config.writeback is not None:
        yield at(("writeback", "path"), config.writeback.path)
    if config.sandbox.seed is not None:
        yield at(("sandbox", "seed"), config.sandbox.seed)
    yield at(("sandbox", "data"), config.sandbox.data)
    if isinstance(config.state, LocalStateConfig):
        # The state file is relative to the configuration's directory (reconciler.state.open).
        written = config.state.path
        yield ("state", "path"), written, config_dir / written


def _sources(
    key_path: KeyPath,
    sources: Sequence[object],
    at: Callable[[KeyPath, str], tuple[KeyPath, str, Path]],
) -> Iterator[tuple[KeyPath, str, Path]]:
    for index, source in enumerate(sources):
        if isinstance(source, CsvSource):
            yield at((*key_path, index, "csv"), source.csv)
