"""What ``validate`` (and ``apply``, before planning) checks of ``staging: http``, the server each
run starts for the vendor to fetch batch files from: what would otherwise fail after batches
were sent (a second server on a port already taken) or after a crash (a job whose file nobody
serves any more)."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.config.loader import LoadedConfig
from reconciler.config.locations import problem_at
from reconciler.errors import Problem

#: The example port in messages and docs (unassigned by IANA).
EXAMPLE_PORT = 8750


def http_staging_problems(loaded: LoadedConfig, providers: Iterable[str]) -> list[Problem]:
    """For each of ``providers`` (used by a list, of a vendor that fetches files by URL) staged
    on ``http``: its port must be fixed, and no other of them may take the same one."""
    problems = []
    taken: dict[int, str] = {}
    for name in providers:
        staging = loaded.config.providers[name].staging
        if staging is None or staging.backend != "http":
            continue
        where = ("providers", name, "staging")
        if staging.port == 0:
            problems.append(
                problem_at(
                    f"provider {name!r} serves batch files on http without a fixed port: a new "
                    "port each run, so the file of a job the vendor has not fetched yet when "
                    "apply stops (a crash, a kill) is served nowhere and the job fails. Set "
                    f"`port:` (e.g. staging: {{backend: http, port: {EXAMPLE_PORT}}}, with "
                    "public_url if the vendor reaches this machine at another address): the "
                    "next apply or poll serves the file again at the same URL before it "
                    "polls the job. Or use s3 or directory staging, which outlive the run "
                    "(specs/config.md#staging)",
                    loaded.source_map.locate(*where),
                    where,
                )
            )
            continue
        first = taken.setdefault(staging.port, name)
        if first != name:
            there = loaded.source_map.locate("providers", first, "staging", "port")
            problems.append(
                problem_at(
                    f"providers {first!r} and {name!r} both serve batch files on port "
                    f"{staging.port} ({first!r} at {there}): each provider runs its own "
                    "server, and the second could not start; give each its own port",
                    loaded.source_map.locate(*where, "port"),
                    (*where, "port"),
                )
            )
    return problems


__all__ = ["EXAMPLE_PORT", "http_staging_problems"]
