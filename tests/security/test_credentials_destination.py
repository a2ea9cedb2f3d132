"""A pull request cannot send the CI's vendor credentials to a host of its choosing by writing a
``base_url``: a provider with credentials talks only to the vendor's own API, the sandbox, this
machine, a base_url from the environment, or an origin the environment trusts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import HostileProject

PROVIDER = (
    "providers:\n"
    "  lm:\n"
    "    type: listmonk\n"
    "    base_url: {url}\n"
    "    credentials: {{username: api, password: '${{env:ONGAGE_PASSWORD}}'}}\n"
)
LISTS = (
    'lists:\n  news:\n    provider: lm\n    list_id: "3"\n'
    "    members: [{inline: [{email: a@example.com}]}]\n"
)


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    return HostileProject(tmp_path)


def refusal(origin: str) -> str:
    return (
        "Error: The configuration has 1 problem(s):\n"
        f"  reconciler.yaml:4:5: [providers.lm.base_url] base_url {origin} is not listmonk's own "
        "API, and the provider's credentials would be sent there: a base_url written in the "
        "repository could send them anywhere. Take it from the environment (base_url: "
        f"${{env:NAME}}), or list {origin} in the environment variable RECONCILER_TRUSTED_URLS "
        "where reconciler runs\n"
    )


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_a_base_url_the_repository_chose_is_refused_before_any_request(
    project: HostileProject, command: str
) -> None:
    project.write("reconciler.yaml", PROVIDER.format(url="https://collector.example.net/x") + LISTS)
    run = project.run(command, *(["--auto-approve"] if command == "apply" else []))
    assert (run.code, run.out, run.err) == (1, "", refusal("https://collector.example.net"))
    assert project.leaks(run) == []


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("https://lists.example.com", {"RECONCILER_TRUSTED_URLS": "https://LISTS.example.com/"}),
        (
            "https://lists.example.com:8443/api",
            {"RECONCILER_TRUSTED_URLS": "x https://lists.example.com:8443"},
        ),
        ("'${env:LM_URL}'", {"LM_URL": "https://lists.example.com"}),
        ("http://127.0.0.1:9", {}),
        ("http://localhost:9", {}),
        ("http://[::1]:9", {}),
    ],
    ids=[
        "trusted-origin",
        "trusted-with-port",
        "from-env",
        "loopback",
        "localhost",
        "ipv6-loopback",
    ],
)
def test_a_base_url_the_runner_chose_or_this_machine_is_accepted(
    project: HostileProject, url: str, env: dict[str, str]
) -> None:
    project.write("reconciler.yaml", PROVIDER.format(url=url) + LISTS)
    run = project.run("validate", env=env)
    assert (run.code, run.err) == (0, "")


def test_trust_is_per_origin_not_per_prefix(project: HostileProject) -> None:
    # A trusted https://lists.example.com does not cover a host that merely starts with it.
    project.write(
        "reconciler.yaml", PROVIDER.format(url="https://lists.example.com.evil.example.net") + LISTS
    )
    run = project.run("validate", env={"RECONCILER_TRUSTED_URLS": "https://lists.example.com"})
    assert (run.code, run.err) == (1, refusal("https://lists.example.com.evil.example.net"))


def test_without_credentials_any_base_url_is_allowed(project: HostileProject) -> None:
    project.write(
        "reconciler.yaml",
        "providers:\n  lm: {type: listmonk, base_url: https://lists.example.com}\n" + LISTS,
    )
    assert project.run("validate").code == 0
