"""The GitOps example repository: its configuration is valid and every reconciler command its
CI workflows run is one the command line accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import build_parser
from reconciler.config.loader import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"
SECRETS = (
    "ONGAGE_USERNAME",
    "ONGAGE_PASSWORD",
    "ONGAGE_ACCOUNT_CODE",
    "LISTMONK_USER",
    "LISTMONK_TOKEN",
)


def commands() -> list[tuple[str, str]]:
    """(workflow, command line) for every line of a ``run:`` step that calls reconciler."""
    found = []
    for workflow in sorted((EXAMPLE / ".github" / "workflows").glob("*.yml")):
        data = YAML(typ="safe").load(workflow.read_text())
        for job in data["jobs"].values():
            for step in job["steps"]:
                for line in str(step.get("run", "")).splitlines():
                    if line.strip().startswith("reconciler "):
                        found.append((workflow.name, line.strip()))
    return found


def test_the_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(name, "not-a-real-secret")
    monkeypatch.setenv("LISTMONK_URL", "https://lists.example.com")  # a repository variable
    loaded = load_config(EXAMPLE / "config")
    config = loaded.config
    assert config.providers["listmonk"].base_url == "https://lists.example.com"
    assert sorted(config.lists) == ["newsletter", "product-updates"]
    assert config.state.backend == "s3"
    assert config.providers["ongage"].staging is not None
    assert config.providers["ongage"].staging.backend == "s3"


def test_every_workflow_calls_reconciler() -> None:
    assert {workflow for workflow, _ in commands()} == {"apply.yml", "drift.yml", "plan.yml"}


@pytest.mark.parametrize(("workflow", "line"), commands())
def test_workflow_commands_parse(workflow: str, line: str) -> None:
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert callable(args.func)
    if args.command in ("plan", "apply", "drift", "validate"):
        assert args.config == "config", f"{workflow}: {line} must name the config directory"
