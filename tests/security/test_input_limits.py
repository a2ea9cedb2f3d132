"""Input sizes have limits, each a clear error naming the limit and the environment variable
that raises it (set by whoever runs reconciler, never by the configuration a pull request
writes); nothing is sent. ``tests/benchmarks/bench_hostile.py`` shows the costs within the
limits grow linearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import HostileProject

CONFIG = (
    "providers:\n  og: {type: ongage, base_url: sandbox}\n"
    'lists:\n  news:\n    provider: og\n    list_id: "1001"\n    managed_fields: [first_name]\n'
)


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    return HostileProject(tmp_path)


def test_a_configuration_file_over_the_limit_is_refused_before_parsing(
    project: HostileProject,
) -> None:
    project.write("reconciler.yaml", CONFIG + "    members: [{csv: m.csv}]\n" + "# x\n" * 40)
    project.write("m.csv", "email\nann@example.com\n")
    run = project.run("plan", env={"RECONCILER_MAX_YAML_BYTES": "150"})
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml: the file is larger than 150 bytes, the most a configuration file "
        "may hold (RECONCILER_MAX_YAML_BYTES raises it); keep members and suppressions in CSV "
        "sources\n",
    )
    assert project.requests() == []  # not even a read: no sandbox started
    assert project.run("validate").code == 0  # within the default limit


def test_a_long_line_is_refused_at_its_line(project: HostileProject) -> None:
    # A megabyte comment took ruamel.yaml a minute to parse.
    project.write(
        "reconciler.yaml",
        CONFIG + "    members: [{inline: [{email: ann@example.com}]}]\n# " + "x" * 1_000_000 + "\n",
    )
    run = project.run("validate")
    assert (run.code, run.err) == (
        1,
        "Error: The configuration has 1 problem(s):\n"
        "  reconciler.yaml:9: the line is 1,000,002 bytes long, longer than 16,384, the most a "
        "configuration line may hold (RECONCILER_MAX_YAML_LINE raises it); split it (one list "
        "item per line), or keep long data in a CSV source\n",
    )
    assert project.run("validate", env={"RECONCILER_MAX_YAML_LINE": "2000000"}).code == 0


@pytest.mark.parametrize(
    ("members", "where"),
    [
        ({"m.csv": "email,first_name\nann@example.com,Ann\nbob@example.com,{long}\n"}, "m.csv:3"),
        ({}, "reconciler.yaml:9"),
    ],
    ids=["csv", "inline"],
)
def test_a_field_value_over_the_limit_is_a_located_error(
    project: HostileProject, members: dict[str, str], where: str
) -> None:
    long = "y" * 5000
    for name, text in members.items():
        project.write(name, text.replace("{long}", long))
    source = (
        "    members: [{csv: m.csv}]\n"
        if members
        else "    members:\n      - inline: [{email: bob@example.com, fields: {first_name: "
        f"{long}}}}}]\n"
    )
    project.write("reconciler.yaml", CONFIG + source)
    run = project.run("plan")
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        "Error: List 'news': 1 problem(s) in its sources (set skip_invalid: true to plan "
        "without bad rows):\n"
        f"  {where}: first_name is 5,000 characters long, longer than 4,096, the most a field "
        "value may hold (RECONCILER_MAX_FIELD_LENGTH raises it)\n"
    )
    assert project.changing_requests() == []
    raised = project.run("plan", env={"RECONCILER_MAX_FIELD_LENGTH": "5000"})
    assert raised.code == 0 and "+ bob@example.com  (first_name='yyyy" in raised.out


@pytest.mark.parametrize("value", ["0", "-1", "4k", "１０"])
def test_a_limit_that_is_not_a_whole_number_is_refused(project: HostileProject, value: str) -> None:
    project.write("reconciler.yaml", CONFIG + "    members: [{inline: [{email: a@example.com}]}]\n")
    run = project.run("validate", env={"RECONCILER_MAX_YAML_LINE": value})
    assert (run.code, run.err) == (
        1,
        "Error: 1 problem(s) found:\n"
        "  environment variable RECONCILER_MAX_YAML_LINE must be a whole number greater than 0, "
        f"not {value!r}\n",
    )
