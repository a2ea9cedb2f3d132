"""``${env:NAME}`` is substituted only in credentials, ``base_url`` and staging's ``bucket`` and
``endpoint_url``: a pull request that writes it into a member's field (or anywhere else) gets
an error at the key, and the variable's value is neither printed nor sent to a vendor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.errors import ConfigError
from reconciler.redact import forget_secrets, scrub
from tests.security.hostile import SECRET, SECRET_ENV, HostileProject

WHERE = (
    "${env:…} is only substituted in providers.NAME.credentials.*, providers.NAME.base_url, "
    "providers.NAME.staging.bucket / endpoint_url and warehouses.NAME.dsn; here it would put "
    "an environment variable into a value that plans and messages show or vendors receive "
    "(write $${env:…} for a literal)"
)
PROVIDERS = """\
providers:
  og:
    type: ongage
    base_url: sandbox
    credentials: {username: ci, password: "${env:ONGAGE_PASSWORD}", account_code: acme}
"""
FIELD = (
    PROVIDERS
    + """\
lists:
  news:
    provider: og
    list_id: "1001"
    managed_fields: [first_name]
    members:
      - inline:
          - email: ann@example.com
            fields: {first_name: "%s"}
"""
)


@pytest.fixture(autouse=True)
def no_secrets_registered() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    return HostileProject(tmp_path)


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(path, env=SECRET_ENV if env is None else env)
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("apply", "--auto-approve")])
def test_a_field_value_from_the_environment_is_refused_and_never_sent(
    project: HostileProject, command: tuple[str, ...]
) -> None:
    project.write("reconciler.yaml", FIELD % "${env:ONGAGE_PASSWORD}")
    run = project.run(*command)
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml:14:22: [lists.news.members[0].inline[0].fields.first_name] "
        f"{WHERE}\n",
    )
    assert project.leaks(run) == []
    # Refused while loading: no vendor (here the embedded sandbox) was ever started.
    assert not (project.root / ".sandbox").exists()
    assert project.requests() == []


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('    managed_fields: ["${env:ONGAGE_PASSWORD}"]', "10:22: [lists.news.managed_fields[0]]"),
        (
            '    options: {import_type: "x${env:ONGAGE_PASSWORD}"}',
            "10:15: [lists.news.options.import_type]",
        ),
        (
            '    members: [{csv: m.csv, columns: {email: "${env:ONGAGE_PASSWORD}"}}]',
            "10:38: [lists.news.members[0].columns.email]",
        ),
        (
            '    suppressions: [{inline: [{email: "${env:HOME}@example.com", reason: bounce}]}]',
            "10:31: [lists.news.suppressions[0].inline[0].email]",
        ),
    ],
)
def test_a_reference_anywhere_but_the_connection_settings_is_refused(
    tmp_path: Path, line: str, where: str
) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(PROVIDERS + "lists:\n  news:\n    provider: og\n    list_id: 1\n" + line)
    assert problems(config) == [f"{config}:{where} {WHERE}"]


def test_a_consent_reference_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        PROVIDERS
        + 'resubscribe:\n  - inline:\n      - {email: a@example.com, consent: "${env:X}"}\n'
    )
    assert problems(config) == [f"{config}:8:32: [resubscribe[0].inline[0].consent] {WHERE}"]


def test_an_unterminated_reference_is_an_error_not_a_literal(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        FIELD.replace('"${env:ONGAGE_PASSWORD}"', '"${env:ONGAGE_PASSWORD"') % "${env:PW"
    )
    assert problems(config) == [
        f"{config}:5:33: [providers.og.credentials.password] unterminated or malformed "
        "${env:…} reference: write ${env:NAME} (letters, digits and _, closed by '}'), or "
        "$${env:…} for a literal",
        f"{config}:14:22: [lists.news.members[0].inline[0].fields.first_name] {WHERE}",
    ]


def test_the_escape_writes_a_literal_that_plan_shows_as_written(project: HostileProject) -> None:
    project.write("reconciler.yaml", FIELD % "$${env:ONGAGE_PASSWORD} and $${env:PW")
    loaded = load_config(project.root / "reconciler.yaml", env=SECRET_ENV)
    (inline,) = loaded.config.lists["news"].members
    assert inline.inline[0].fields == {"first_name": "${env:ONGAGE_PASSWORD} and ${env:PW"}  # type: ignore[union-attr]
    run = project.run("plan")
    assert run.code == 0, run.err
    assert (
        "+ ann@example.com  (first_name='${env:ONGAGE_PASSWORD} and ${env:PW')  "
        "# reconciler.yaml:13"
    ) in run.out
    assert project.leaks(run) == []
    assert project.changing_requests() == []  # a plan asks for nothing


def test_connection_settings_are_substituted_and_every_value_is_registered(
    tmp_path: Path,
) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        "providers:\n"
        "  og:\n"
        "    type: ongage\n"
        '    base_url: "https://${env:OG_HOST}/"\n'
        '    credentials: {password: "${env:ONGAGE_PASSWORD}", username: "$${env:U}"}\n'
        "    staging: {backend: s3, bucket: '${env:BUCKET}', endpoint_url: '${env:S3_URL}'}\n"
        "lists:\n  news: {provider: og, list_id: 1}\n"
    )
    env = {**SECRET_ENV, "OG_HOST": "og.example.com", "BUCKET": "acme-staging", "S3_URL": "x"}
    provider = load_config(config, env=env).config.providers["og"]
    assert provider.base_url == "https://og.example.com/"
    assert provider.credentials.password is not None
    assert provider.credentials.password.get_secret_value() == SECRET
    assert provider.credentials.username is not None
    assert provider.credentials.username.get_secret_value() == "${env:U}"
    assert provider.staging is not None and provider.staging.bucket == "acme-staging"
    # Every value substituted is a secret to the output sinks; "x" is too short to mask.
    text = f"{SECRET} og.example.com acme-staging x ${{env:U}}"
    assert scrub(text) == "*** *** *** x ${env:U}"


def test_a_missing_variable_is_named_where_it_is_referenced(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(FIELD % "Ann")
    assert problems(config, env={}) == [
        f"{config}:5:33: [providers.og.credentials.password] environment variable "
        "ONGAGE_PASSWORD is not set (referenced as ${env:ONGAGE_PASSWORD})"
    ]
