"""Configuration loading: every error located at file:line:column, all at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.errors import ConfigError

SECRET = "s3cr3t-value-for-tests"


@pytest.fixture
def here(tmp_path: Path) -> Iterator[Path]:
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(root: Path | str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(root, env=env or {})
    return [str(p) for p in exc.value.problems]


GOOD = """\
providers:
  og:
    type: ongage
    credentials:
      password: ${env:OG_PASSWORD}
lists:
  news:
    provider: og
    list_id: 1001
    members:
      - csv: members/news.csv
      - inline:
          - email: ann@example.com
"""


def test_valid_file_with_env_secret(here: Path) -> None:
    write(here / "reconciler.yaml", GOOD)
    loaded = load_config("reconciler.yaml", env={"OG_PASSWORD": SECRET})
    creds = loaded.config.providers["og"].credentials
    assert creds.password is not None and creds.password.get_secret_value() == SECRET
    assert loaded.config.lists["news"].list_id == "1001"
    assert SECRET not in repr(loaded.config)
    loc = loaded.source_map.locate("lists", "news", "members", 1, "inline", 0)
    assert (loc.file, loc.line, loc.column) == ("reconciler.yaml", 13, 13)  # type: ignore[union-attr]


def test_missing_env_variable_is_named_with_its_place(here: Path) -> None:
    write(here / "reconciler.yaml", GOOD)
    assert problems("reconciler.yaml") == [
        "reconciler.yaml:5:7: [providers.og.credentials.password] environment variable "
        "OG_PASSWORD is not set (referenced as ${env:OG_PASSWORD})"
    ]


def test_every_error_at_once_with_locations(here: Path) -> None:
    write(
        here / "c.yaml",
        """\
providers:
  og:
    type: ongag
lists:
  news:
    provider: og
    list_id: "1"
    memebers: []
    members:
      - csvv: x.csv
      - csv: m.csv
        delimiter: x
  other:
    provider: og
suppressions:
  - inline:
      - email: a@example.com
        reason: spam
""",
    )
    assert problems("c.yaml") == [
        "c.yaml:3:5: [providers.og.type] expected 'ongage', 'listmonk', 'yesmail' or 'omnigage'",
        "c.yaml:8:5: [lists.news.memebers] unknown key 'memebers' (did you mean 'members'?); "
        "expected one of: drop_action, drop_scope, export, guards, list_id, managed_fields, "
        "members, mode, options, provider, skip_invalid, suppressions",
        "c.yaml:10:9: [lists.news.members[0]] expected a source with either 'csv:' (files) or "
        "'inline:' (rows)",
        "c.yaml:12:9: [lists.news.members[1].delimiter] expected 'auto', ',', ';', '|', '\\t' "
        "or 'tab'",
        "c.yaml:13:3: [lists.other.list_id] missing required key 'list_id'",
        "c.yaml:18:9: [suppressions[0].inline[0].reason] expected 'unsubscribe', 'bounce' or "
        "'complaint'",
    ]


def test_directory_merge_and_a_name_defined_twice(here: Path) -> None:
    write(here / "cfg/a.yaml", GOOD.replace("${env:OG_PASSWORD}", "x"))
    write(here / "cfg/b.yaml", 'lists:\n  news:\n    provider: og\n    list_id: "2"\n')
    write(here / "cfg/_ignored.yaml", "not: [valid")
    assert problems("cfg") == [
        "cfg/b.yaml:2:3: [lists.news] list 'news' is defined twice: at cfg/a.yaml:7:3 and at "
        "cfg/b.yaml:2:3"
    ]


def test_directory_merge_concatenates_suppressions(here: Path) -> None:
    write(
        here / "cfg/a.yaml",
        GOOD.replace("${env:OG_PASSWORD}", "x")
        + "suppressions:\n  - inline: [{email: a@example.com, reason: bounce}]\n",
    )
    write(here / "cfg/b.yaml", "suppressions:\n  - csv: sup/b.csv\n")
    loaded = load_config("cfg", env={})
    assert len(loaded.config.suppressions) == 2
    assert loaded.resolve_path(("suppressions", 1, "csv"), "sup/b.csv") == Path("cfg/sup/b.csv")
    assert loaded.resolve_path(("lists", "news", "members", 0, "csv"), "m.csv") == Path("cfg/m.csv")


def test_unknown_provider_reference(here: Path) -> None:
    write(here / "c.yaml", 'lists:\n  news:\n    provider: og\n    list_id: "1"\n')
    assert problems("c.yaml") == [
        "c.yaml:3:5: [lists.news.provider] unknown provider 'og' for list 'news' "
        "(defined providers: (none))"
    ]


def test_yaml_syntax_error_is_located(here: Path) -> None:
    write(here / "c.yaml", "lists:\n  news: [a, b\n")
    (message,) = problems("c.yaml")
    assert message.startswith("c.yaml:3:1: invalid YAML:")


def test_duplicate_key_is_an_error(here: Path) -> None:
    write(here / "c.yaml", "providers: {}\nproviders: {}\n")
    (message,) = problems("c.yaml")
    assert message.startswith("c.yaml:2:1: invalid YAML:") and "duplicate key" in message


def test_alias_bomb_is_refused_before_expansion(here: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    write(here / "c.yaml", "\n".join(levels) + "\n")
    (message,) = problems("c.yaml")
    assert message == (
        "c.yaml:2:10: YAML aliases (*a0) are not allowed in configuration: write the value out"
    )


def test_secret_never_appears_in_errors(here: Path) -> None:
    write(
        here / "c.yaml",
        f"providers:\n  og:\n    type: ongage\n    credentials:\n      password: [{SECRET}]\n",
    )
    text = "\n".join(problems("c.yaml"))
    assert SECRET not in text
    assert "[providers.og.credentials.password]" in text


def test_checksum_is_stable_and_changes_with_content(here: Path) -> None:
    write(here / "a/reconciler.yaml", GOOD)
    write(here / "b/reconciler.yaml", GOOD)
    env = {"OG_PASSWORD": "x"}
    first = load_config("a", env=env).checksum
    assert first == load_config("b", env=env).checksum
    write(here / "b/reconciler.yaml", GOOD + "\n# a comment\n")
    assert load_config("b", env=env).checksum != first


def test_missing_path_and_empty_directory(here: Path) -> None:
    assert problems("nope.yaml") == ["no configuration at nope.yaml"]
    (here / "empty").mkdir()
    assert problems("empty") == ["no *.yaml files in directory empty"]


def test_non_utf8_file(here: Path) -> None:
    (here / "c.yaml").write_bytes(b"lists:\n  caf\xe9: {}\n")
    assert problems("c.yaml") == ["c.yaml:2: not valid UTF-8 (byte 0xe9)"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("lists: " + "[" * 5000 + "]" * 5000 + "\n", "c.yaml:1:71"),
        # Deep enough to refuse, small enough for the size limits (tests/security covers them).
        ("lists: " + "{a: " * 200 + "1" + "}" * 200 + "\n", "c.yaml:1:260"),
        (
            "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n",
            "c.yaml:65:129",
        ),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_deep_nesting_is_refused_before_the_document_is_built(
    here: Path, text: str, where: str
) -> None:
    write(here / "c.yaml", text)  # building it would end in a RecursionError
    assert problems("c.yaml") == [
        f"{where}: nested more than 64 levels deep: configuration never needs that"
    ]


def test_a_merge_key_is_an_alias_too(here: Path) -> None:
    write(here / "c.yaml", "base: &b {type: ongage}\nproviders:\n  og:\n    <<: *b\n")
    assert problems("c.yaml") == [
        "c.yaml:4:9: YAML aliases (*b) are not allowed in configuration: write the value out"
    ]


def test_a_control_character_is_located(here: Path) -> None:
    write(here / "c.yaml", "providers: {}\nlists:\n  news: {provider: og\x00}\n")
    assert problems("c.yaml") == [
        "c.yaml:3: invalid YAML: character #x0000 is not allowed (special characters are not "
        "allowed)"
    ]


def test_wrong_types_are_each_located(here: Path) -> None:
    write(
        here / "c.yaml",
        """\
providers:
  og: {type: ongage, options: [1, 2], credentials: hunter2}
lists:
  news:
    provider: og
    list_id: [1001]
    members: members.csv
    managed_fields: first_name
    mode: 3
sandbox: {polls_per_step: many}
""",
    )
    assert problems("c.yaml") == [
        "c.yaml:2:22: [providers.og.options] expected a mapping (key: value)",
        "c.yaml:2:39: [providers.og.credentials] expected a mapping (key: value)",
        "c.yaml:6:5: [lists.news.list_id] expected a valid string",
        "c.yaml:7:5: [lists.news.members] expected a valid list",
        "c.yaml:8:5: [lists.news.managed_fields] expected a valid list",
        "c.yaml:9:5: [lists.news.mode] expected 'authoritative' or 'additive'",
        "c.yaml:10:11: [sandbox.polls_per_step] expected a valid integer, unable to parse "
        "string as an integer",
    ]
