"""A provider of a vendor that fetches batch files by URL needs somewhere to publish them:
validate says so at the provider's line, and apply refuses before planning (it used to show
the plan, ask, then fail at the first batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import HostileProject

CONFIG = """\
providers:
  og:
    type: ongage
    base_url: http://127.0.0.1:9
    credentials: {username: u, password: p}
  lm: {type: listmonk, base_url: http://127.0.0.1:9}
lists:
  news: {provider: og, list_id: "1", members: [{inline: [{email: a@example.com}]}]}
  other: {provider: lm, list_id: "2", members: [{inline: [{email: b@example.com}]}]}
"""
REFUSAL = (
    "Error: The configuration cannot be applied (nothing was sent):\n"
    "  reconciler.yaml:2:3: [providers.og] ongage fetches every batch file by URL, so provider "
    "'og' needs staging: to publish them (e.g. staging: {backend: s3, bucket: …}, or "
    "{backend: directory, path: …, base_url: …}; specs/config.md)\n"
)


@pytest.mark.parametrize("command", [["validate"], ["apply", "--auto-approve"]])
def test_a_file_fetching_vendor_without_staging_is_refused_at_its_line(
    tmp_path: Path, command: list[str]
) -> None:
    project = HostileProject(tmp_path)
    project.write("reconciler.yaml", CONFIG)
    run = project.run(*command)
    # Nothing listens on port 9: had apply planned, it would have failed connecting instead.
    assert (run.code, run.out, run.err) == (1, "", REFUSAL)


def test_staging_or_the_sandbox_satisfies_it(tmp_path: Path) -> None:
    project = HostileProject(tmp_path)
    staged = CONFIG.replace(
        "    credentials: {username: u, password: p}\n",
        "    credentials: {username: u, password: p}\n"
        "    staging: {backend: directory, path: www, base_url: https://files.example.com}\n",
    )
    project.write("reconciler.yaml", staged)
    assert project.run("validate").code == 0
    project.write(
        "reconciler.yaml", CONFIG.replace("http://127.0.0.1:9\n    cred", "sandbox\n    cred")
    )
    assert project.run("validate").code == 0
