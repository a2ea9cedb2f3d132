"""The contracts in specs/ match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.config.schema import Config
from reconciler.model import Action
from reconciler.registry import provider_classes

SPECS = Path(__file__).resolve().parents[2] / "specs"


def config_schema_text() -> str:
    return json.dumps(Config.model_json_schema(), indent=2, sort_keys=True) + "\n"


def test_config_json_schema_is_current() -> None:
    path = SPECS / "config.schema.json"
    assert path.read_text() == config_schema_text(), (
        "specs/config.schema.json is out of date: regenerate it with\n"
        "  python -c 'from tests.unit.test_specs import config_schema_text as t; "
        'open("specs/config.schema.json", "w").write(t())\''
    )


def test_capability_matrix_in_specs_matches_the_code() -> None:
    text = (SPECS / "vendors" / "README.md").read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| vendor"))
    columns = [c.strip() for c in lines[start].strip().strip("|").split("|")][1:]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break  # the matrix ends at its first line that is not a table row
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    classes = {cls.vendor: cls for cls in provider_classes()}
    # The matrix has one row per registered provider, no more and no fewer.
    assert set(rows) == set(classes)
    for vendor, cls in classes.items():
        cells = dict(zip(columns, rows[vendor], strict=True))
        for action in Action:
            assert cells[action.value].startswith("yes") == (action in cls.capabilities), (
                vendor,
                action,
            )
        assert cells["read membership"].startswith("yes") == cls.can_read_current
    assert re.search(r"\| vendor \|", text)
