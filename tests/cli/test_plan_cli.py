"""`reconciler validate` and `reconciler plan` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

SUMMARY = (
    "Plan: 3 to add, 1 to remove, 1 to unsubscribe, 1 to resubscribe, "
    "1 to mark as bounced, 2 to mark as complained, 2 to update, 2 held."
)


def test_validate_examples(cli: Cli) -> None:
    result = cli("validate", "-c", "offline")
    assert (result.code, result.out, result.err) == (
        0,
        "The configuration is valid: 2 list(s), 3 file(s).\n",
        "",
    )


def test_plan_examples_shows_every_kind_and_the_summary(cli: Cli) -> None:
    result = cli("plan", "-c", "offline")
    assert result.code == 0, result.err
    assert result.out.rstrip().splitlines()[-1] == SUMMARY
    assert "+ ann.archer@example.com  (first_name='Ann')  # members/newsletter.csv:2" in result.out
    assert "\033[" not in result.out  # no colour when not a terminal


def test_detailed_exitcode(cli: Cli, project: Path) -> None:
    assert cli("plan", "-c", "offline", "--detailed-exitcode").code == 2
    # A configuration whose lists match their exports exactly: exit 0.
    (project / "exports" / "same.csv").write_text("email,status\nann@example.com,active\n")
    (project / "same.yaml").write_text(
        "providers: {og: {type: ongage}}\n"
        "lists:\n  one:\n    provider: og\n    list_id: 1\n"
        "    members: [{inline: [{email: Ann@Example.com}]}]\n"
        "    export: {format: ongage, path: exports/same.csv}\n"
    )
    result = cli("plan", "-c", "same.yaml", "--detailed-exitcode")
    assert (result.code, result.out.splitlines()[-1]) == (
        0,
        "No changes. The vendors match the configuration.",
    )


def test_target_limits_the_plan_and_unknown_target_is_an_error(cli: Cli) -> None:
    result = cli("plan", "-c", "offline", "--target", "product-updates")
    assert "List 'newsletter'" not in result.out and "List 'product-updates'" in result.out
    bad = cli("plan", "-c", "offline", "--target", "nope")
    assert bad.code == 1
    assert bad.err == ("Error: unknown list 'nope' (defined lists: newsletter, product-updates)\n")


def test_json_and_markdown_outputs(cli: Cli, project: Path) -> None:
    result = cli("plan", "-c", "offline", "--json", "out/plan.json", "--markdown", "out/plan.md")
    assert result.code == 0, result.err
    data = json.loads((project / "out/plan.json").read_text())
    assert data["format_version"] == 1
    assert data["summary"] == {
        "add": 3,
        "remove": 1,
        "unsubscribe": 1,
        "resubscribe": 1,
        "bounce": 1,
        "complaint": 2,
        "update": 2,
        "held": 2,
    }
    newsletter = data["lists"][0]
    assert [(r["kind"], r["email"]) for r in newsletter["rows"]][:2] == [
        ("add", "ann.archer@example.com"),
        ("remove", "hal.hughes@example.com"),
    ]
    markdown = (project / "out/plan.md").read_text()
    assert "a***@example.com" in markdown and "ann.archer@example.com" not in markdown


def test_bad_yaml_is_an_error_with_location_and_no_traceback(cli: Cli, project: Path) -> None:
    (project / "offline" / "lists.yaml").write_text("lists:\n  news: [a, b\n")
    result = cli("plan", "-c", "offline")
    assert result.code == 1
    assert "Traceback" not in result.err
    assert result.err.splitlines()[1].startswith("  offline/lists.yaml:3:1: invalid YAML:")


def test_bad_csv_row_is_an_error_with_its_line(cli: Cli, project: Path) -> None:
    path = project / "members" / "newsletter.csv"
    path.write_text(path.read_text() + 'zed@example.com,"Zed\n')
    result = cli("plan", "-c", "offline")
    assert result.code == 1 and "Traceback" not in result.err
    assert "  members/newsletter.csv:9: value with an unterminated or stray quote" in result.err


def test_invalid_address_refuses_the_plan(cli: Cli, project: Path) -> None:
    path = project / "members" / "newsletter.csv"
    path.write_text(path.read_text() + "not-an-address,Nobody\n")
    result = cli("plan", "-c", "offline")
    assert result.code == 1
    assert "  members/newsletter.csv:9: invalid e-mail address 'not-an-address'" in result.err
    validate = cli("validate", "-c", "offline")
    assert validate.code == 1
    assert validate.err.splitlines() == [
        "Error: 1 problem(s) in the sources:",
        "  members/newsletter.csv:9: invalid e-mail address 'not-an-address'",
    ]


def test_capability_gap_renders_then_fails(cli: Cli, project: Path) -> None:
    (project / "exports" / "ym.csv").write_text("email\nold@example.com\n")
    (project / "ym.yaml").write_text(
        "providers: {ym: {type: yesmail}}\n"
        "lists:\n  ym-list:\n    provider: ym\n    list_id: weekly\n"
        "    members: [{inline: [{email: new@example.com}]}]\n"
        "    export: {format: ongage, path: exports/ym.csv}\n"
    )
    result = cli("plan", "-c", "ym.yaml")
    assert result.code == 1
    assert (
        "✗ CANNOT APPLY: yesmail cannot remove through its documented API: 1 removal on "
        "list 'ym-list' cannot be applied"
    ) in result.out
    assert "nothing was sent" in result.err


def test_an_exhausted_memory_budget_says_how_to_raise_it(cli: Cli) -> None:
    for command in ("validate", "plan"):
        result = cli(command, "-c", "offline", env={"RECONCILER_DUCKDB_MEMORY": "1MB"})
        assert result.code == 1, result.err
        assert result.err.startswith(
            "Error: the engine ran out of its memory budget (1MB; DuckDB: "
        )
        assert result.err.endswith(
            "). Give it more with the environment variable RECONCILER_DUCKDB_MEMORY (e.g. "
            "RECONCILER_DUCKDB_MEMORY=2GB) and run the command again; nothing was sent.\n"
        )
        assert "Traceback" not in result.err and result.out == ""
