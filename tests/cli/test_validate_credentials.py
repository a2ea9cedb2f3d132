"""``validate`` without secrets: everything but what the runner's environment holds is checked
(a pre-commit hook or a fork's pull request has none of it), an unset variable is a note;
``--require-env``, ``plan`` and ``apply`` make it an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.project import Project

CONFIG = """\
providers:
  og:
    type: ongage
    base_url: {url}
    staging: {{backend: directory, path: staged, base_url: "https://files.example.com/"}}
    credentials:
      username: "${{env:RECONCILER_T_OG_USER}}"
      password: "${{env:RECONCILER_T_OG_PASSWORD}}"
      account_code: acme
lists:
  news:
    provider: og
    list_id: "1001"
    members: [{{csv: news.csv}}]
"""
UNSET = (
    "  reconciler.yaml:7:7: [providers.og.credentials.username] environment variable "
    "RECONCILER_T_OG_USER is not set (referenced as ${env:RECONCILER_T_OG_USER})\n"
    "  reconciler.yaml:8:7: [providers.og.credentials.password] environment variable "
    "RECONCILER_T_OG_PASSWORD is not set (referenced as ${env:RECONCILER_T_OG_PASSWORD})\n"
)


class _Project(Project):
    """The project run with the credentials' variables set as given, never inherited."""

    secrets: dict[str, str] = {}  # noqa: RUF012 - set per test

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if not k.startswith("RECONCILER_T_")}
        return {**env, **self.secrets}


@pytest.fixture
def project(tmp_path: Path) -> _Project:
    p = _Project(tmp_path)
    p.write("reconciler.yaml", CONFIG.format(url="sandbox"))
    p.write("news.csv", "email\nann@example.com\n")
    return p


def test_validate_without_secrets_checks_the_rest_and_notes_each_unset_credential(
    project: _Project,
) -> None:
    run = project.run("validate")
    assert (run.code, run.err) == (0, "")
    assert run.out == (
        "The configuration is valid: 1 list(s), 1 file(s).\n"
        "Note: credentials not checked: RECONCILER_T_OG_USER unset (reconciler.yaml:7:7 "
        "[providers.og.credentials.username])\n"
        "Note: credentials not checked: RECONCILER_T_OG_PASSWORD unset (reconciler.yaml:8:7 "
        "[providers.og.credentials.password])\n"
        "Note: plan and apply need them; `reconciler validate --require-env` makes an unset "
        "one an error.\n"
    )


def test_with_the_secrets_set_there_is_no_note(project: _Project) -> None:
    project.secrets = {"RECONCILER_T_OG_USER": "u", "RECONCILER_T_OG_PASSWORD": "p" * 12}
    run = project.run("validate")
    assert (run.code, run.out, run.err) == (
        0,
        "The configuration is valid: 1 list(s), 1 file(s).\n",
        "",
    )


@pytest.mark.parametrize(
    "command",
    [
        ("validate", "--require-env"),
        ("validate", "-require-env"),
        ("plan",),
        ("apply", "--auto-approve"),
    ],
)
def test_require_credentials_plan_and_apply_refuse_an_unset_one(
    project: _Project, command: tuple[str, ...]
) -> None:
    run = project.run(*command)
    assert (run.code, run.out) == (1, "")
    assert run.err == "Error: The configuration has 2 problem(s):\n" + UNSET
    assert not (project.root / ".sandbox").exists()  # no vendor was started


def test_the_other_checks_still_run_without_secrets(project: _Project) -> None:
    # A base_url the repository chose is refused for the credentials that would go there,
    # set or not; a bad row of a member file is still found.
    project.write("reconciler.yaml", CONFIG.format(url="https://collector.example.net"))
    run = project.run("validate")
    assert (run.code, run.out) == (1, "")
    assert run.err.startswith(
        "Error: The configuration has 1 problem(s):\n  reconciler.yaml:4:5: [providers.og."
        "base_url] base_url https://collector.example.net is not ongage's own API"
    )
    project.write("reconciler.yaml", CONFIG.format(url="sandbox"))
    project.write("news.csv", "email\nnot-an-address\n")
    run = project.run("validate")
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        "Error: 1 problem(s) in the sources:\n"
        "  news.csv:2: invalid e-mail address 'not-an-address'\n"
    )


def test_an_unset_base_url_is_a_connection_note_and_plan_still_needs_it(
    project: _Project,
) -> None:
    project.write("reconciler.yaml", CONFIG.format(url="'${env:RECONCILER_T_OG_URL}'"))
    project.secrets = {"RECONCILER_T_OG_USER": "u", "RECONCILER_T_OG_PASSWORD": "p" * 12}
    run = project.run("validate")
    assert (run.code, run.err) == (0, "")
    assert run.out == (
        "The configuration is valid: 1 list(s), 1 file(s).\n"
        "Note: connection settings not checked: RECONCILER_T_OG_URL unset (reconciler.yaml:4:5 "
        "[providers.og.base_url])\n"
        "Note: plan and apply need them; `reconciler validate --require-env` makes an unset "
        "one an error.\n"
    )
    planned = project.run("plan")
    assert (planned.code, planned.out) == (1, "")
    assert planned.err == (
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml:4:5: [providers.og.base_url] environment variable "
        "RECONCILER_T_OG_URL is not set (referenced as ${env:RECONCILER_T_OG_URL})\n"
    )
    assert "RECONCILER_T_OG_URL" not in os.environ
