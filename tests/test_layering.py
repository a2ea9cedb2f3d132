"""The tiers of the code, enforced: a module imports only from its own tier or the tiers below
(README, "Project layout"). Read from the source, so the test needs nothing installed but the
project: every ``import reconciler…`` outside an ``if TYPE_CHECKING:`` block counts, at the
top of a module or inside a function.

The sandbox (the vendor emulator) stands apart: it imports nothing of the product (it is a
second reading of the vendors' documents, not the product's), and only the commands that
start it import it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"

#: Top to bottom. A name is a package under reconciler/ or a module at its top.
TIERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli", "render"),
    ("workflow",),
    ("apply", "drift", "safety"),
    ("providers", "state", "staging"),
    ("engine",),
    ("plan", "config", "sources", "exports"),
    (
        "model",
        "errors",
        "address",
        "limits",
        "private",
        "redact",
        "failures",
        "faultpoints",
        "registry",
        "workspace",
        "__init__",
    ),
)
SANDBOX = "sandbox"
#: Who may start the sandbox: the command that serves it, and the runtime (base_url: sandbox).
STARTS_SANDBOX = frozenset({"cli", "workflow"})
RANK = {name: len(TIERS) - i for i, names in enumerate(TIERS) for name in names}
UNITS = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | {
    p.stem for p in PACKAGE.glob("*.py")
}


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports() -> Iterator[tuple[str, str, str]]:
    """(importing unit, imported unit, where) for every import of another unit."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        unit = _unit(path)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "reconciler":  # a unit, or a name of the package itself
                    names = [
                        f"reconciler.{a.name if a.name in UNITS else '__init__'}"
                        for a in node.names
                    ]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "reconciler" and len(parts) > 1 and parts[1] != unit:
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    yield unit, parts[1], where


def test_every_unit_has_a_tier() -> None:
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {SANDBOX}
    assert sorted(units - set(RANK)) == []


def test_no_import_runs_upward() -> None:
    upward = [
        f"{where}: {unit} imports {target}"
        for unit, target, where in imports()
        if unit != SANDBOX and target != SANDBOX and RANK[target] > RANK[unit]
    ]
    assert upward == []


def test_the_sandbox_stands_apart() -> None:
    crossing = [
        f"{where}: {unit} imports {target}"
        for unit, target, where in imports()
        if (unit == SANDBOX) != (target == SANDBOX)
        and not (target == SANDBOX and unit in STARTS_SANDBOX)
    ]
    assert crossing == []


def test_the_test_sees_imports() -> None:
    """A check that finds nothing proves nothing: it does see the runtime start the sandbox
    and the planner use the engine's pieces."""
    found = {(unit, target) for unit, target, _ in imports()}
    assert {("workflow", "sandbox"), ("cli", "workflow"), ("state", "engine")} <= found
