"""Done when (#19): members from a real PostgreSQL view are planned and applied against the
sandbox, and the end state is asserted in the vendor's own records."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.project import Project
from tests.warehouse.pgserver import Server

CONFIG = """\
providers:
  lm: {type: listmonk, base_url: sandbox, options: {poll_interval_seconds: 0.005}}
warehouses:
  crm:
    dsn: ${env:WAREHOUSE_DSN}
sandbox: {seed: seed.yaml}
guards: {max_drop_percent: null, max_add_percent: null, max_update_percent: null}
suppressions:
  - sql: crm
    query: SELECT id, email FROM complaints
    key: id
    reason: complaint
lists:
  product:
    provider: lm
    list_id: 3
    managed_fields: [name]
    members:
      - sql: crm
        table: product_members
        key: customer_id
        columns: {name: full_name}
"""
SEED = """\
listmonk:
  lists:
    "3":
      name: product
      contacts:
        - {email: gone@example.com}
        - {email: ann@example.com, fields: {name: Ann Old}}
"""
SCHEMA = """
CREATE TABLE customers (customer_id bigint PRIMARY KEY, email text, full_name text,
                        product_updates boolean);
INSERT INTO customers VALUES
  (1, 'ann@example.com', 'Ann Archer', true),
  (2, 'BOB@example.com', 'Bob Baker', true),
  (3, 'carl@example.com', 'Carl Cole', true),
  (4, 'dora@example.com', 'Dora Diaz', false);
CREATE VIEW product_members AS
  SELECT customer_id, email, full_name FROM customers WHERE product_updates;
CREATE TABLE complaints (id int, email text);
INSERT INTO complaints VALUES (70, 'carl@example.com');
"""


def members(p: Project) -> dict[str, tuple[str, dict[str, object]]]:
    return p.vendor_list("listmonk", "3")


def test_members_from_a_view_are_applied_to_the_vendor(database: Server, tmp_path: Path) -> None:
    database.psql(SCHEMA)
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)

    planned = p.run("plan", "-c", "reconciler.yaml")
    assert planned.code == 0, planned.err
    for line in (
        "+ bob@example.com  (name='Bob Baker')  # reconciler.yaml:19 (product_members "
        "customer_id=2)",
        "~ ann@example.com  (name: 'Ann Old' → 'Ann Archer')  # reconciler.yaml:19 "
        "(product_members customer_id=1)",
        "= carl@example.com  # suppressed: complaint (reconciler.yaml:9 (crm id=70)); declared "
        "at reconciler.yaml:19 (product_members customer_id=3)",
        "Plan: 1 to add, 1 to remove, 0 to unsubscribe, 0 to resubscribe, 0 to mark as bounced, "
        "0 to mark as complained, 1 to update, 1 held.",
    ):
        assert line in planned.out
    assert database.dsn() not in planned.out + planned.err

    applied = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    # carl complained (a suppression from the warehouse): never added; gone is not declared.
    assert members(p) == {
        "ann@example.com": ("active", {"name": "Ann Archer"}),
        "bob@example.com": ("active", {"name": "Bob Baker"}),
    }

    # The warehouse changes: dora opts in, bob's name changes, ann opts out.
    database.psql(
        "UPDATE customers SET product_updates = true WHERE customer_id = 4; "
        "UPDATE customers SET full_name = 'Robert Baker' WHERE customer_id = 2; "
        "UPDATE customers SET product_updates = false WHERE customer_id = 1"
    )
    again = p.run("apply", "-c", "reconciler.yaml", "--auto-approve")
    assert again.code == 0, again.out + again.err
    assert members(p) == {
        "bob@example.com": ("active", {"name": "Robert Baker"}),
        "dora@example.com": ("active", {"name": "Dora Diaz"}),
    }

    settled = p.run("plan", "-c", "reconciler.yaml", "--json", "-")
    assert settled.code == 0, settled.err
    (product,) = json.loads(settled.out)["lists"]
    # Nothing left to send: carl stays held by the complaint.
    assert {kind: n for kind, n in product["changes"].items() if n} == {"held": 1}
