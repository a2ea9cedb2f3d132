"""The in-flight benchmark runs end to end at a small size and prints the figures it promises
(a benchmark that broke silently would leave the README's figures unreproducible)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_apply_in_flight.py")


def test_the_in_flight_benchmark_prints_both_settings_and_their_overlap() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "3", "0.8", "5"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "15 adds in 3 batches of 5; every import takes 0.8 s at the vendor "
        "(2.4 s one after another)"
    )
    figure = r"max_imports_in_flight {}: +[\d.]+ s wall, +[\d.]+ s CPU, 3 jobs, at most {} in"
    assert re.search(figure.format(1, 1), lines[1]), lines[1]
    assert re.search(figure.format(3, 3), lines[2]), lines[2]
