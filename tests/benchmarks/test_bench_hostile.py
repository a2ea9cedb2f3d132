"""The hostile-input benchmark runs at a small scale and prints every shape with its growth (a
benchmark that broke silently would leave the linearity claim unreproducible)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_hostile.py")


def test_the_hostile_input_benchmark_prints_every_shape_and_its_growth() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--scale", "0.05"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    shapes = re.findall(r"^(\S.*)$", done.stdout, re.MULTILINE)
    assert shapes == [
        "yaml: lines of comment at the line limit",
        "yaml: inline members",
        "render: terminal, one value",
        "render: markdown, one value",
        "render: markdown address masking",
    ]
    assert (
        len(
            re.findall(
                r"^ +[\d,]+ \w+s: +[\d.]+ s  cpu +[\d.]+ s +[\d.]+ us/\w+$",
                done.stdout,
                re.MULTILINE,
            )
        )
        == 20
    )
    assert (
        len(
            re.findall(
                r"^  growth \(per-\w+ time, largest/smallest\): [\d.]+$", done.stdout, re.MULTILINE
            )
        )
        == 5
    )
