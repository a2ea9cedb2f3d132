"""The plan benchmark runs end to end at a small size, every shape, and prints the figures it
promises (a benchmark that broke silently would leave the README's figures unreproducible);
reconciler and the peer script find the same changes, so the peer does the same work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_plan.py")
FIGURES = r" +[\d.]+ s +cpu +[\d.]+ s +peak RSS +\d+ MiB +[\d,]+ rows/s"


def test_the_plan_benchmark_runs_every_shape_beside_its_peer(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "2000", "--shape", "all", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    out = done.stdout
    shapes = re.split(r"^\[(\w+)\] ", out, flags=re.M)[1:]
    by_shape = dict(zip(shapes[::2], shapes[1::2], strict=True))
    assert list(by_shape) == ["steady", "first", "update", "removal"]
    for text in by_shape.values():
        for program in ("reconciler plan :", "peer script     :", "anti-join floor :"):
            assert re.search(re.escape(program) + FIGURES, text), text
        assert re.search(r"ratio plan/peer: [\d.]+ \(cpu [\d.]+\)", text)
        mine = re.search(r"changes: reconciler (\{.*\})", text)
        peer = re.search(r"changes: peer +(\{.*\})$", text, flags=re.M)
        assert mine is not None and peer is not None and mine.group(1) == peer.group(1), text
    # The generator's mix at 2,000 members: 10 new (one of them suppressed, so held), 10 gone,
    # three suppressed (a bounce, a complaint, an unsubscribe), 9 first names changed, 6
    # unsubscribed or bounced at the vendor.
    assert (
        "changes: reconciler {'add': 9, 'bounce': 1, 'complaint': 1, 'held': 7, "
        in (by_shape["steady"])
    )
    assert "changes: reconciler {'add': 2000}" in by_shape["first"]
    assert "changes: reconciler {'update': 2000}" in by_shape["update"]
    assert "changes: reconciler {'remove': 1980}" in by_shape["removal"]
    assert "(10 adds, 10 removes)" in by_shape["steady"]
