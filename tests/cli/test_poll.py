"""``reconciler poll`` follows jobs in flight; ``refresh``, its old name, still runs it and
says so on stderr."""

from __future__ import annotations

from pathlib import Path

from reconciler.cli.refresh import NOTICE
from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
lists:
  news: {provider: og, list_id: 1001, members: [{inline: [{email: ann@example.com}]}]}
"""


def test_refresh_is_the_old_name_of_poll(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    polled = p.run("poll", "-c", "reconciler.yaml")
    assert (polled.code, polled.out, polled.err) == (0, "No jobs in flight.\n", "")
    old = p.run("refresh", "-c", "reconciler.yaml")
    assert (old.code, old.out, old.err) == (0, "No jobs in flight.\n", NOTICE + "\n")
    assert NOTICE.startswith("reconciler: `reconciler refresh` is now `reconciler poll`")
