"""The contracts in specs/ match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.config.schema import Config
from reconciler.model import Action, VendorType
from reconciler.providers.capabilities import CAN_READ_CURRENT, CAPABILITIES

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
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in {v.value for v in VendorType}:
            rows[cells[0]] = cells[1:]
    header = next(line for line in text.splitlines() if line.startswith("| vendor"))
    columns = [c.strip() for c in header.strip().strip("|").split("|")][1:]
    for vendor in VendorType:
        cells = dict(zip(columns, rows[vendor.value], strict=True))
        for action in Action:
            assert cells[action.value].startswith("yes") == (action in CAPABILITIES[vendor]), (
                vendor,
                action,
            )
        assert cells["read membership"].startswith("yes") == CAN_READ_CURRENT[vendor]
    assert re.search(r"\| vendor \|", text)
