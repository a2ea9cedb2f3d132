"""Costs that hostile input controls, at growing sizes: each must grow linearly.

    python tests/benchmarks/bench_hostile.py [--scale K]

For each shape, the input doubles four times (``--scale`` multiplies every size) and the time
per unit of input is printed beside the time; ``growth`` is the per-unit time of the largest
input over the smallest's (about 1 for linear cost; 2 for each doubling means quadratic: the
address masking before it was fixed took 4.9, 9.6 and 19.3 us/char at 8, 16 and 32 Ki
characters, and 9 s for a 120 KiB field value). CPU seconds are printed next to wall time.
Figures are printed, never asserted.

Shapes: a configuration line of comment at the line limit, repeated (YAML parsing); inline
members in YAML; one long field value through the terminal and Markdown renderers, and the
Markdown comment's address masking (a run of local-part characters with no ``@``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.config.yamlfile import read_yaml
from reconciler.limits import Limits
from reconciler.render import safe
from reconciler.render.markdown import mask_text


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _yaml_comments(lines: int, tmp: Path) -> Callable[[], object]:
    path = tmp / f"comments-{lines}.yaml"
    width = Limits().yaml_line - 1
    path.write_text(("# " + "x" * (width - 2) + "\n") * lines + "lists: {}\n")
    return lambda: read_yaml(path, path.name)


def _yaml_members(members: int, tmp: Path) -> Callable[[], object]:
    path = tmp / f"members-{members}.yaml"
    rows = "".join(
        f"      - {{email: user{i}@example.com, fields: {{first_name: Name{i}}}}}\n"
        for i in range(members)
    )
    path.write_text("lists:\n  news:\n    members:\n    - inline:\n" + rows)
    return lambda: read_yaml(path, path.name)


def _render(kind: str, chars: int) -> Callable[[], object]:
    value = ("y" * 63 + "_") * (chars // 64)  # no "@": every masking attempt fails
    if kind == "terminal":
        return lambda: safe.terminal(value)
    if kind == "markdown":
        return lambda: safe.markdown(value)
    return lambda: mask_text(value)


SHAPES: dict[str, tuple[str, list[int], Callable[[int, Path], Callable[[], object]]]] = {
    "yaml: lines of comment at the line limit": ("line", [16, 32, 64, 128], _yaml_comments),
    "yaml: inline members": ("member", [500, 1000, 2000, 4000], _yaml_members),
    "render: terminal, one value": (
        "char",
        [1 << 17, 1 << 18, 1 << 19, 1 << 20],
        lambda n, _t: _render("terminal", n),
    ),
    "render: markdown, one value": (
        "char",
        [1 << 17, 1 << 18, 1 << 19, 1 << 20],
        lambda n, _t: _render("markdown", n),
    ),
    "render: markdown address masking": (
        "char",
        [1 << 17, 1 << 18, 1 << 19, 1 << 20],
        lambda n, _t: _render("mask", n),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (unit, sizes, make) in SHAPES.items():
            per_unit = []
            print(name)
            for size in (max(1, int(s * args.scale)) for s in sizes):
                wall, cpu = _timed(make(size, Path(tmp)))
                per_unit.append(wall / size)
                print(
                    f"  {size:>9,} {unit}s: {wall:8.3f} s  cpu {cpu:8.3f} s  "
                    f"{wall / size * 1e6:10.3f} us/{unit}"
                )
            print(f"  growth (per-{unit} time, largest/smallest): {per_unit[-1] / per_unit[0]:.2f}")


if __name__ == "__main__":
    main()
