"""specs/reliability.md is kept current: every test it names exists, and every reliability test
is named there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "specs" / "reliability.md"
SHORT = {"T/": "tests/reliability/", "P/": "tests/property/"}
#: `file.py::test` or `file.py::Class::test`, optionally with a parameter id in brackets.
REFERENCE = re.compile(r"`((?:T/|P/|tests/)[\w/]+\.py)::([\w:]+)(?:\[[^\]]*\])?`")


def _tests_in(path: Path) -> set[str]:
    """``name`` and ``Class::name`` of every test function in a module."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            found.add(node.name)
        if isinstance(node, ast.ClassDef):
            found |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test_")
            }
    return found


def _named() -> set[tuple[str, str]]:
    named = set()
    for file, test in REFERENCE.findall(RECORD.read_text()):
        for short, long in SHORT.items():
            if file.startswith(short):
                file = long + file[len(short) :]
        named.add((file, test))
    return named


def test_every_test_the_record_names_exists() -> None:
    named = _named()
    assert len(named) > 40
    missing = [
        f"{file}::{test}"
        for file, test in sorted(named)
        if not (ROOT / file).exists() or test not in _tests_in(ROOT / file)
    ]
    assert missing == []


def test_every_reliability_test_is_in_the_record() -> None:
    named = _named()
    unnamed = [
        f"{path.name}::{test}"
        for path in sorted((ROOT / "tests" / "reliability").glob("test_*.py"))
        if path.name != "test_record.py"
        for test in sorted(_tests_in(path))
        if (f"tests/reliability/{path.name}", test) not in named
    ]
    assert unnamed == []
