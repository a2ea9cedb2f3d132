"""Every ``state:`` example in the README and the specs is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.config.schema import Config, LocalStateConfig, S3StateConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "specs/config.md", "specs/state.md"]


def _state_examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```yaml\n(.*?)```", (ROOT / doc).read_text(), re.S):
            if block.startswith("state:"):
                found.append((doc, block))
    return found


def test_every_document_has_state_examples() -> None:
    assert sorted({doc for doc, _ in _state_examples()}) == sorted(DOCS)


@pytest.mark.parametrize(("doc", "block"), _state_examples())
def test_state_example_is_valid(doc: str, block: str) -> None:
    config = Config.model_validate(YAML(typ="safe").load(block))
    expected = S3StateConfig if "backend: s3" in block else LocalStateConfig
    assert type(config.state) is expected
