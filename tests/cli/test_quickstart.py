"""The README's quick start: apply the examples against the embedded sandbox, then plan."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.integration.project import Project


def test_quickstart_apply_then_plan(cli: Cli, project: Path) -> None:
    first = cli("apply", "-c", "config", "--auto-approve")
    assert first.code == 0, first.out + first.err
    assert (
        "Plan: 8 to add, 1 to remove, 2 to unsubscribe, 1 to resubscribe, "
        "1 to mark as bounced, 2 to mark as complained, 2 to update, 2 held."
    ) in first.out
    # The closing line says what was read back and what could not be.
    assert first.out.splitlines()[-1] == (
        "Verified: 2 list(s) read back from their vendors, nothing left to change "
        "('newsletter', 'product-updates'); not read back: 'vip', 'webinar' (their vendors "
        "cannot be read)."
    )
    vendors = Project(project / "config")
    assert vendors.vendor_list("ongage", "1001") == {
        "ann.archer@example.com": ("active", {"first_name": "Ann"}),
        "bob.baker@example.com": ("active", {"first_name": "Bob"}),
        "carl.cole@example.com": ("unsubscribed", {"first_name": "Carl"}),
        "dana.diaz@example.com": ("active", {"first_name": "Dana"}),
        "erin.evans@example.com": ("active", {"first_name": "Erin"}),
        "fay.fisher@example.com": ("bounced", {"first_name": "Fay"}),
        "gil.grant@example.com": ("active", {"first_name": "Gil"}),
        "ivy.irwin@example.com": ("complaint", {"first_name": "Ivy"}),
        "kim.kato@example.com": ("unsubscribed", {"first_name": "Kim"}),
    }
    # Keyed by email: the address was mapped onto the load table's email column.
    assert vendors.vendor_list("yesmail", "vip-offers") == {
        "ann.archer@example.com": ("active", {"firstname": "Ann"}),
        "erin.evans@example.com": ("active", {"firstname": "Erin"}),
        "gil.grant@example.com": ("active", {"firstname": "Gil"}),
    }
    assert vendors.vendor_list("omnigage", "webinar") == {
        "erin.evans@example.com": ("active", {"first-name": "Erin E."}),
        "lee.lopez@example.com": ("active", {"first-name": "Lee"}),
    }
    assert vendors.vendor_list("listmonk", "3") == {
        "ann.archer@example.com": ("active", {"name": "Ann Archer"}),
        # listmonk takes a complaint as a blocklist import: blocklisted, unsubscribed.
        "ivy.irwin@example.com": ("unsubscribed", {"name": "Ivy Irwin"}),
        "kim.kato@example.com": ("unsubscribed", {"name": "Kim Kato"}),
        "lee.lopez@example.com": ("active", {"name": "Lee Lopez"}),
        "mia.moss@example.com": ("unsubscribed", {"name": "Mia Moss"}),
        "nia.nolan@example.com": ("active", {"name": "Nia Nolan"}),
        "support-team@example.org": ("active", {"name": "Support Team"}),
    }
    again = cli("plan", "-c", "config")
    assert again.code == 0, again.err
    newsletter = again.out.split("List 'vip'")[0]
    assert "+ add" not in newsletter and "- remove" not in newsletter
    assert "= held: 2" in newsletter
    product_updates = again.out.split("List 'product-updates'")[1].split("List 'webinar'")[0]
    assert "+ add" not in product_updates and "~ update" not in product_updates


TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/python -m pytest"
)


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [block.split("```", 1)[0].strip() for block in quick_start.split("```sh")[1:]]
    assert len(commands) == 2, commands  # install-and-run, then the tests
    ci = (root / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == commands[1] == TEST_COMMAND
