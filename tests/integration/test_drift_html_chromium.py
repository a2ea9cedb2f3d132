"""The HTML drift report rendered by a real browser (headless Chromium): a screenshot that is
not blank and shows the report's colours."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.drift.compute import compute_drift
from reconciler.model import ChangeKind, DropAction, ListMode
from reconciler.plan.model import CurrentStateRef, ListChange, ListPlan, Plan
from reconciler.render.drift_html import render_html
from tests.pngread import read_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOW = datetime(2026, 11, 23, 3, 20, tzinfo=UTC)

# The report's solid fills: badge and the bars of each part.
RED_BADGE = bytes.fromhex("dc2626")
BAR_CHANGES = bytes.fromhex("2563eb")
BAR_ABSORB = bytes.fromhex("d97706")
BAR_FIELDS = bytes.fromhex("7c3aed")


def drifted_plan() -> Plan:
    changes = [
        *(ListChange(ChangeKind.ADD, f"m{i}@example.com", f"m.csv:{i + 2}") for i in range(12)),
        ListChange(ChangeKind.REMOVE, "hal@example.com", "not declared"),
        ListChange(ChangeKind.UPDATE, "bob@example.com", "m.csv:30", {"n": "Bob"}, {"n": "Rob"}),
        *(
            ListChange(
                ChangeKind.HELD,
                f"u{i}@example.com",
                f"vendor status: unsubscribed; declared at m.csv:{i + 40}",
            )
            for i in range(5)
        ),
    ]
    lp = ListPlan(
        "newsletter",
        "og",
        "ongage",
        "1001",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        tuple(changes),
        CurrentStateRef("vendor", "ongage POST /1001/api/export", 60, "ab" * 32, NOW),
    )
    return Plan((lp,), NOW, "c" * 64)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "drift.html"
    page.write_text(render_html(compute_drift(drifted_plan(), None)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = read_png(shot.read_bytes())
    assert (image.width, image.height) == (1200, 900)
    colours = Counter(pixel[:3] for pixel in image.pixels())
    background = colours.most_common(1)[0][0]
    drawn = sum(n for colour, n in colours.items() if colour != background)
    # Text, tables, cards and bars: far from blank, and in the report's own colours.
    assert drawn > image.width * image.height // 10
    assert len(colours) > 50
    for colour in (RED_BADGE, BAR_CHANGES, BAR_ABSORB, BAR_FIELDS):
        assert colours[colour] > 100, colour.hex()
