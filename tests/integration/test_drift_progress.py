"""drift (and suppressions pull) show the vendors being read, as plan does: the runtime's read
events reach the progress the command passes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.config.loader import load_config
from reconciler.workflow.drift import read_drift
from reconciler.workflow.runtime import Runtime
from tests.integration.project import Project

CONFIG = """\
providers:
  og: {type: ongage, base_url: sandbox}
lists:
  news: {provider: og, list_id: 1001, members: [{inline: [{email: ann@example.com}]}]}
"""


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def reading(self, list_name: str, where: str) -> None:
        self.seen.append(("reading", f"{list_name} from {where}"))

    def read(self, list_name: str) -> None:
        self.seen.append(("read", list_name))


def test_the_drift_read_shows_each_vendor_read(tmp_path: Path) -> None:
    Project(tmp_path).write("reconciler.yaml", CONFIG)
    recorder = Recorder()

    @contextmanager
    def progress(runtime: Runtime) -> Iterator[None]:
        runtime.read_events = recorder
        yield

    drift = read_drift(load_config(tmp_path / "reconciler.yaml"), progress=progress)
    assert recorder.seen == [("reading", "news from ongage list 1001"), ("read", "news")]
    assert drift.lists[0].name == "news"
