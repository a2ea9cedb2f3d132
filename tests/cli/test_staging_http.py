"""``staging: http`` is the server each run starts for the vendor to fetch batch files from: its
port must be fixed (the next run serves a killed run's files again at the same URLs), one per
provider, and free when apply starts. Each is refused before anything is sent (#15 items 2 and
8), with the exact message at the configuration's file:line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.security.hostile import HostileProject

#: JSON: every *.yaml beside reconciler.yaml is read as configuration.
SEED = '{"ongage": {"lists": {"1001": {"fields": []}, "1002": {"fields": []}}}}'

LISTS = """\
sandbox: {seed: seed.json}
guards: {max_add_percent: null}
lists:
  first:
    {provider: a, list_id: "1001", mode: additive, members: [{inline: [{email: a@example.com}]}]}
  second:
    {provider: b, list_id: "1002", mode: additive, members: [{inline: [{email: b@example.com}]}]}
"""


def project(tmp_path: Path, providers: str) -> HostileProject:
    p = HostileProject(tmp_path)
    p.write("reconciler.yaml", "providers:\n" + providers + LISTS)
    p.write("seed.json", SEED)
    return p


def column(p: HostileProject, line: int, key: str) -> int:
    text = (p.root / "reconciler.yaml").read_text().splitlines()[line - 1]
    return text.index(key) + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("command", [["validate"], ["apply", "--auto-approve"]])
def test_http_staging_without_a_fixed_port_is_refused_at_its_line(
    tmp_path: Path, command: list[str]
) -> None:
    p = project(
        tmp_path,
        "  a: {type: ongage, base_url: sandbox}\n"
        "  b: {type: ongage, base_url: sandbox, staging: {backend: http}}\n",
    )
    run = p.run(*command)
    assert (run.code, run.out) == (1, "")
    head = "configuration cannot be applied (nothing was sent)"
    assert run.err == (
        f"Error: The {head}:\n"
        f"  reconciler.yaml:3:{column(p, 3, 'staging')}: [providers.b.staging] provider 'b' "
        "serves batch files on http without a fixed port: a new port each run, so the file of "
        "a job the vendor has not fetched yet when apply stops (a crash, a kill) is served "
        "nowhere and the job fails. Set `port:` (e.g. staging: {backend: http, port: 8750}, "
        "with public_url if the vendor reaches this machine at another address): the next "
        "apply or poll serves the file again at the same URL before it polls the job. Or "
        "use s3 or directory staging, which outlive the run (specs/config.md#staging)\n"
    )
    assert p.requests() == []


def test_a_vendor_that_does_not_fetch_by_url_may_leave_it_unset(tmp_path: Path) -> None:
    p = HostileProject(tmp_path)
    p.write(
        "reconciler.yaml",
        "providers:\n  lm: {type: listmonk, base_url: sandbox, staging: {backend: http}}\n"
        "lists:\n  news: {provider: lm, list_id: '3', members: [{inline: [{email: a@b.example}]}]}"
        "\n",
    )
    assert p.run("validate").code == 0


def test_two_providers_on_one_port_are_refused_naming_both(tmp_path: Path) -> None:
    p = project(
        tmp_path,
        "  a: {type: ongage, base_url: sandbox, staging: {backend: http, port: 8750}}\n"
        "  b: {type: ongage, base_url: sandbox, staging: {backend: http, port: 8750}}\n",
    )
    first = f"reconciler.yaml:2:{column(p, 2, 'port')}"
    for command in (["validate"], ["apply", "--auto-approve"]):
        run = p.run(*command)
        assert (run.code, run.out) == (1, ""), run.err
        assert run.err == (
            "Error: The configuration cannot be applied (nothing was sent):\n"
            f"  reconciler.yaml:3:{column(p, 3, 'port')}: [providers.b.staging.port] providers "
            f"'a' and 'b' both serve batch files on port 8750 ('a' at {first}): each provider "
            "runs its own server, and the second could not start; give each its own port\n"
        )
    assert p.requests() == []


def test_a_port_another_program_holds_stops_apply_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """Provider a (staged on the sandbox's file host) comes first: before, its list was sent,
    then b's server failed to start (werkzeug printed its advice and exited)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        p = project(
            tmp_path,
            "  a: {type: ongage, base_url: sandbox}\n"
            f"  b: {{type: ongage, base_url: sandbox, staging: {{backend: http, port: {port}}}}}\n",
        )
        assert p.run("validate").code == 0
        run = p.run("apply", "--auto-approve")
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        f"Error: reconciler.yaml:3:{column(p, 3, 'port')}: [providers.b.staging.port] cannot "
        f"serve batch files on 127.0.0.1:{port}: another program listens on that port (Address "
        "already in use); nothing was sent. Stop that program, or set another port\n"
    )
    assert p.requests() == []  # no vendor asked anything, not even for the plan
    assert not (tmp_path / ".reconciler" / "state.json").exists()
    assert not (tmp_path / ".reconciler" / "state.json.lock").exists()
    again = p.run("apply", "--auto-approve")  # the port is free again
    assert again.code == 0, again.err
    assert [(r["method"], r["path"]) for r in p.requests() if r["method"] == "POST"].count(
        ("POST", "/ongage/1002/api/import")
    ) == 1


def test_a_fixed_port_serves_again_only_its_own_urls(tmp_path: Path) -> None:
    from reconciler.staging.http import HttpStager

    batch = tmp_path / "b.csv"
    batch.write_text("email\nann@example.com\n")
    port = free_port()
    with HttpStager(port=port) as stager:
        base = f"http://127.0.0.1:{port}"
        assert stager.serve_again(f"{base}/abc.csv", batch)
        assert not stager.serve_again(f"http://127.0.0.1:{free_port()}/abc.csv", batch)
        assert not stager.serve_again(f"{base}/x/../abc.csv", batch)
        import httpx

        assert httpx.get(f"{base}/abc.csv").text == "email\nann@example.com\n"
