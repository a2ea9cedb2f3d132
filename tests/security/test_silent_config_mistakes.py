"""Mistakes that used to pass without a word: keys that YAML types apart but reconciler reads
as one name, a configuration that declares nothing, invisible characters in field values, an
empty suppression reason printed as ``None``, an unknown encoding named without its place, and
a sandbox seed that is not YAML (a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import HostileProject

SANDBOX = "providers:\n  og: {type: ongage, base_url: sandbox}\n"
NEWS = 'lists:\n  news:\n    provider: og\n    list_id: "1001"\n    managed_fields: [first_name]\n'
REFUSED = "control and invisible format characters are refused in values: remove it"


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    return HostileProject(tmp_path)


def test_keys_one_and_quoted_one_are_the_same_list(project: HostileProject) -> None:
    project.write(
        "reconciler.yaml",
        SANDBOX
        + "lists:\n"
        + "  1: {provider: og, list_id: 1, members: [{inline: [{email: a@example.com}]}]}\n"
        + '  "1": {provider: og, list_id: 2}\n',
    )
    run = project.run("validate")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        '  reconciler.yaml:5:3: [lists.1] duplicate key "1": 1 at line 4 and "1" here are the '
        "same name\n",
    )


NOTHING = (
    "Error: Nothing is configured:\n"
    "  {where}: the configuration declares no lists; declare one under 'lists:' (see "
    "specs/config.md)\n"
)


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "drift"])
@pytest.mark.parametrize(
    ("files", "config"),
    [
        ({"reconciler.yaml": ""}, "reconciler.yaml"),
        ({"reconciler.yaml": "# nothing yet\n"}, "reconciler.yaml"),
        ({"cfg/providers.yaml": SANDBOX, "cfg/empty.yaml": ""}, "cfg"),
    ],
)
def test_a_configuration_without_lists_is_an_error_not_no_changes(
    project: HostileProject, command: str, files: dict[str, str], config: str
) -> None:
    for name, text in files.items():
        project.write(name, text)
    run = project.run(command, "-c", config, *(["--auto-approve"] if command == "apply" else []))
    assert (run.code, run.out, run.err) == (1, "", NOTHING.format(where=config))
    assert project.requests() == []


def test_invisible_characters_in_inline_field_values_are_located(project: HostileProject) -> None:
    project.write(
        "reconciler.yaml",
        SANDBOX
        + NEWS
        + "    members:\n"
        + "      - inline:\n"
        + '          - {email: ann@example.com, fields: {first_name: "A\\0nn"}}\n'
        + '          - {email: bob@example.com, fields: {first_name: "\\uFEFFBob"}}\n'
        + '          - {email: cat@example.com, fields: {first_name: "Cat\\u202Etac"}}\n'
        + '          - {email: dan@example.com, fields: {first_name: "Dan\\tDanny\\nD"}}\n',
    )
    run = project.run("plan")
    key = "lists.news.members[0].inline[{}].fields.first_name"
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 3 problem(s):\n"
        f"  reconciler.yaml:10:47: [{key.format(0)}] holds U+0000 (a control character) at "
        f"character 2; {REFUSED}\n"
        f"  reconciler.yaml:11:47: [{key.format(1)}] holds U+FEFF (a byte order mark) at "
        f"character 1; {REFUSED}\n"
        f"  reconciler.yaml:12:47: [{key.format(2)}] holds U+202E (a bidirectional control) at "
        f"character 4; {REFUSED}\n",
    )
    assert not (project.root / ".sandbox").exists()


MEMBERS = (
    b"email,first_name\n"
    b"ann@example.com,Ann\n"
    b"bob@example.com,\xef\xbb\xbfBob\n"
    b'"cat@example.com","Multi\nline\tname"\n'  # tab and line breaks are text
    b"dan@example.com,D\x00an\n"
)


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_invisible_characters_in_csv_cells_are_located(
    project: HostileProject, command: str
) -> None:
    project.write("members.csv", MEMBERS)
    project.write("reconciler.yaml", SANDBOX + NEWS + "    members: [{csv: members.csv}]\n")
    run = project.run(command)
    head = (
        "Error: 2 problem(s) in the sources:\n"
        if command == "validate"
        else "Error: List 'news': 2 problem(s) in its sources (set skip_invalid: true to plan "
        "without bad rows):\n"
    )
    assert (run.code, run.out, run.err) == (
        1,
        "",
        head
        + "  members.csv:3: first_name holds U+FEFF (a byte order mark) at character 1; "
        + f"{REFUSED}\n"
        + f"  members.csv:6: first_name holds U+0000 (a control character) at character 2; "
        f"{REFUSED}\n",
    )
    assert project.changing_requests() == []


def test_apply_sends_none_of_the_rows_and_skip_invalid_sends_only_the_good_ones(
    project: HostileProject,
) -> None:
    project.write("members.csv", MEMBERS)
    config = SANDBOX + NEWS + "    members: [{csv: members.csv}]\n"
    project.write("reconciler.yaml", config)
    refused = project.run("apply", "--auto-approve")
    assert refused.code == 1 and "members.csv:6: first_name holds U+0000" in refused.err
    assert project.changing_requests() == []
    project.write(
        "reconciler.yaml", config.replace("    managed", "    skip_invalid: true\n    managed")
    )
    applied = project.run("apply", "--auto-approve")
    assert applied.code == 0, applied.err
    assert project.vendor_list("ongage", "1001") == {
        "ann@example.com": {"first_name": "Ann"},
        "cat@example.com": {"first_name": "Multi\nline\tname"},
    }


def test_an_invisible_character_in_a_csv_consent_is_located(project: HostileProject) -> None:
    project.write("optins.csv", b"email,consent\nann@example.com,ticket\x001\n")
    project.write(
        "reconciler.yaml",
        SANDBOX
        + NEWS
        + "    members: [{inline: [{email: ann@example.com}]}]\n"
        + "resubscribe: [{csv: optins.csv}]\n",
    )
    run = project.run("validate")
    assert (run.code, run.err) == (
        1,
        "Error: 1 problem(s) in the sources:\n"
        f"  optins.csv:2: consent holds U+0000 (a control character) at character 7; {REFUSED}\n",
    )


def test_an_empty_suppression_reason_says_so(project: HostileProject) -> None:
    project.write(
        "sup.csv", "email,reason\nann@example.com,\nbob@example.com,  \ncat@example.com,x\n"
    )
    project.write(
        "reconciler.yaml",
        SANDBOX
        + NEWS
        + "    members: [{inline: [{email: ann@example.com}]}]\n"
        + "suppressions: [{csv: sup.csv}]\n",
    )
    expected = "(expected one of: unsubscribe, bounce, complaint)"
    for command in ("validate", "plan"):
        run = project.run(command)
        assert run.code == 1
        assert run.err.splitlines()[1:] == [
            f"  sup.csv:2: no reason given {expected}",
            f"  sup.csv:3: no reason given {expected}",
            f"  sup.csv:4: unknown suppression reason 'x' {expected}",
        ]


def test_an_unknown_encoding_is_located_in_the_yaml(project: HostileProject) -> None:
    project.write("members.csv", "email\nann@example.com\n")
    project.write(
        "reconciler.yaml",
        SANDBOX + NEWS + "    members:\n      - csv: members.csv\n        encoding: utf-9\n",
    )
    run = project.run("validate")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml:10:9: [lists.news.members[0].encoding] unknown encoding 'utf-9': "
        "give a Python codec name such as utf-8, latin-1 or cp1252\n",
    )


BAD_SEEDS = [
    (
        "ongage:\n  lists: {a: [1, 2}\n",
        "not valid YAML at line 2: while parsing a flow sequence expected ',' or ']', but got '}'",
    ),
    (
        "ongage:\n  lists: \x01\n",
        "not valid YAML at line 2: special characters are not allowed (#x0001)",
    ),
    ("- ongage\n", "a sandbox seed maps vendor names to their data"),
]


@pytest.mark.parametrize(("seed", "why"), BAD_SEEDS)
def test_a_bad_seed_for_sandbox_serve_is_one_error_line(
    project: HostileProject, seed: str, why: str
) -> None:
    project.write("bad.yaml", seed)
    run = project.run("sandbox", "serve", "--seed", "bad.yaml", "--port", "0")
    assert (run.code, run.out, run.err) == (1, "", f"Error: cannot read the seed bad.yaml: {why}\n")


@pytest.mark.parametrize(("seed", "why"), BAD_SEEDS[:2])
def test_a_bad_seed_in_the_configuration_is_one_error_line(
    project: HostileProject, seed: str, why: str
) -> None:
    project.write("seeds/bad.yaml", seed)
    project.write(
        "reconciler.yaml",
        SANDBOX
        + "sandbox: {seed: seeds/bad.yaml}\n"
        + NEWS
        + "    members: [{inline: [{email: ann@example.com}]}]\n",
    )
    run = project.run("plan")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        f"Error: cannot read the sandbox seed seeds/bad.yaml: {why}\n",
    )
    assert project.requests() == []


def test_the_python_and_duckdb_checks_refuse_the_same_characters() -> None:
    """The YAML values are checked in Python, the CSV cells in DuckDB: never differently."""
    import duckdb

    from reconciler.config.text import FORBIDDEN_RANGES, forbidden_character, sql_has_forbidden

    around = {c for first, last, _ in FORBIDDEN_RANGES for c in (first - 1, first, last, last + 1)}
    allowed = {0x09, 0x0A, 0x0D, 0x200C, 0x200D, 0x200E, 0x200F}
    points = sorted(c for c in around | allowed if c >= 0)
    con = duckdb.connect()
    found = con.execute(
        f"SELECT cp, {sql_has_forbidden('chr(cp::INTEGER)')} FROM unnest(?) AS t(cp) ORDER BY cp",
        [points],
    ).fetchall()
    assert found == [(c, forbidden_character(chr(c)) is not None) for c in points]
    assert allowed <= {c for c, refused in found if not refused}
    assert {0x00, 0x1F, 0x7F, 0x9F, 0xFEFF, 0x202E} <= {c for c, refused in found if refused}
