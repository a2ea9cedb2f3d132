"""The exception tree drawn in reconciler/errors.py is the tree of the classes."""

from __future__ import annotations

import importlib
import pkgutil
import re

import reconciler
from reconciler import errors


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def _drawn() -> dict[str, str]:
    """Each class named in the drawing → the class drawn as its parent."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)", line)
        if match is None or ("──" not in line and match.group(2) != "ReconcilerError"):
            continue
        depth = len(match.group(1)) // 4 if "──" in line else -1
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((depth, match.group(2)))
    return parents


def test_every_error_class_is_drawn_under_its_parent() -> None:
    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        # The emulator's errors are not the product's; __main__ runs the command line.
        if ".sandbox" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    # Private bases (_ProblemsError) are drawn through their public children.
    classes = {c for c in _subclasses(errors.ReconcilerError) if not c.__name__.startswith("_")}

    def public_parent(cls: type) -> str:
        parent = cls.__base__
        while parent is not None and parent.__name__.startswith("_"):
            parent = parent.__base__
        assert parent is not None
        return parent.__name__

    assert _drawn() == {c.__name__: public_parent(c) for c in classes}
