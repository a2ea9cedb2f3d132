"""``sql:`` sources against a real PostgreSQL: rows, reasons named by key, and every rule of
file sources (normalisation, invalid rows, conflicts, suppressions, opt-ins)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.config.loader import load_config
from reconciler.engine.planner import build_plan
from reconciler.errors import SourceError
from reconciler.plan.model import Plan
from tests.warehouse.pgserver import Server

Write = Callable[[str, str], Path]

TABLE = """
CREATE TABLE crm_contacts (customer_id bigint PRIMARY KEY, email_address text, given_name text,
                           newsletter boolean);
INSERT INTO crm_contacts VALUES
  (1, 'ann@example.com', 'Ann', true),
  (2, ' Bob@Example.COM ', 'Bob', true),
  (3, 'carl@example.com', 'Carl', false),
  (4, 'dora@example.com', 'Dora', true);
CREATE VIEW newsletter_members AS
  SELECT customer_id, email_address AS email, given_name AS first_name
  FROM crm_contacts WHERE newsletter;
"""

HEAD = """\
providers:
  og: {type: ongage}
warehouses:
  crm:
    dsn: ${env:WAREHOUSE_DSN}
lists:
  news:
    provider: og
    list_id: "100"
    managed_fields: [first_name]
    export: {format: ongage, path: export.csv}
    members:
"""


def plan(
    write: Write, members: str, export: str = "email,first_name,status\n", **files: str
) -> Plan:
    write("lists.yaml", HEAD + members)
    write("export.csv", export)
    for name, text in files.items():
        write(name, text)
    return build_plan(load_config("lists.yaml"))


def changes(result: Plan) -> list[tuple[str, str, dict[str, str], str]]:
    return [
        (c.kind.value, c.email, dict(c.fields), c.reason)
        for c in sorted(result.lists[0].changes, key=lambda c: c.email)
    ]


def problems(exc: pytest.ExceptionInfo[SourceError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


@pytest.mark.usefixtures("reread")
def test_members_from_a_view_are_planned_with_their_key_as_reason(
    database: Server, project: Write
) -> None:
    database.psql(TABLE)
    result = plan(
        project,
        "      - sql: crm\n        table: newsletter_members\n        key: customer_id\n",
        export="email,first_name,status\ndora@example.com,Dora,active\ncarl@example.com,,active\n",
    )
    assert changes(result) == [
        (
            "add",
            "ann@example.com",
            {"first_name": "Ann"},
            "lists.yaml:13 (newsletter_members customer_id=1)",
        ),
        (
            "add",
            "bob@example.com",
            {"first_name": "Bob"},
            "lists.yaml:13 (newsletter_members customer_id=2)",
        ),
        (
            "remove",
            "carl@example.com",
            {},
            "not declared (authoritative list, drop action: remove)",
        ),
    ]
    assert result.lists[0].desired_members == 3


def test_a_query_with_a_column_mapping(database: Server, project: Write) -> None:
    database.psql(TABLE)
    members = (
        "      - sql: crm\n"
        "        query: >\n"
        "          SELECT customer_id AS id, email_address, given_name FROM crm_contacts\n"
        "          WHERE customer_id < 3;\n"
        "        key: id\n"
        "        columns: {email: email_address, first_name: given_name}\n"
    )
    assert changes(plan(project, members)) == [
        ("add", "ann@example.com", {"first_name": "Ann"}, "lists.yaml:13 (crm id=1)"),
        ("add", "bob@example.com", {"first_name": "Bob"}, "lists.yaml:13 (crm id=2)"),
    ]


@pytest.mark.usefixtures("reread")
def test_bad_addresses_are_reported_with_the_source_and_key(
    database: Server, project: Write
) -> None:
    database.psql(
        "CREATE TABLE m (id int, email text); "
        "INSERT INTO m VALUES (1, 'ok@example.com'), (7, 'not-an-email'), (9, NULL), "
        "(12, 'bad@@example.com')"
    )
    with pytest.raises(SourceError) as exc:
        plan(project, "      - sql: crm\n        table: m\n        key: id\n")
    assert problems(exc) == [
        "lists.yaml:13 (m id=7): invalid e-mail address 'not-an-email'",
        "lists.yaml:13 (m id=9): empty e-mail address",
        "lists.yaml:13 (m id=12): invalid e-mail address 'bad@@example.com'",
    ]


def test_conflicting_values_name_both_rows(database: Server, project: Write) -> None:
    database.psql(
        "CREATE TABLE m (id int, email text, first_name text); "
        "INSERT INTO m VALUES (1, 'ann@example.com', 'Ann'), (2, 'ANN@example.com', 'Anne')"
    )
    with pytest.raises(SourceError) as exc:
        plan(project, "      - sql: crm\n        table: m\n        key: id\n")
    assert problems(exc) == [
        "lists.yaml:13 (m id=2): conflicting first_name for ann@example.com: 'Ann' at "
        "lists.yaml:13 (m id=1), 'Anne' at lists.yaml:13 (m id=2)"
    ]


def test_suppressions_and_opt_ins_from_queries(database: Server, project: Write) -> None:
    database.psql(
        "CREATE TABLE m (id int, email text); "
        "INSERT INTO m VALUES (1, 'ann@example.com'), (2, 'bob@example.com'), "
        "(3, 'carl@example.com'); "
        "CREATE TABLE bounces (event_id text, address text, why text); "
        "INSERT INTO bounces VALUES ('ev-1', 'Ann@example.com', ' Bounce'); "
        "CREATE TABLE complaints (id int, email text); "
        "INSERT INTO complaints VALUES (5, 'bob@example.com'); "
        "CREATE TABLE consents (ticket int, email text, consent text); "
        "INSERT INTO consents VALUES (4821, 'carl@example.com', 'support ticket #4821')"
    )
    tail = (
        "suppressions:\n"
        "  - sql: crm\n    table: bounces\n    key: event_id\n"
        "    columns: {email: address, reason: why}\n"
        "  - sql: crm\n    query: SELECT id, email FROM complaints\n    key: id\n"
        "    reason: complaint\n"
        "resubscribe:\n"
        "  - sql: crm\n    table: consents\n    key: ticket\n"
    )
    export = (
        "email,first_name,status\nann@example.com,,active\nbob@example.com,,active\n"
        "carl@example.com,,unjoin-member\n"
    )
    result = plan(project, "      - sql: crm\n        table: m\n        key: id\n" + tail, export)
    assert changes(result) == [
        (
            "bounce",
            "ann@example.com",
            {},
            "suppressed: bounce (lists.yaml:17 (bounces event_id=ev-1))",
        ),
        ("complaint", "bob@example.com", {}, "suppressed: complaint (lists.yaml:21 (crm id=5))"),
        (
            "resubscribe",
            "carl@example.com",
            {},
            "opt-in: support ticket #4821 (lists.yaml:26 (consents ticket=4821))",
        ),
    ]


def test_a_key_is_shown_without_control_characters_and_cut(
    database: Server, project: Write
) -> None:
    database.psql(
        "CREATE TABLE m (k text, email text); INSERT INTO m VALUES "
        "(E'a\\x1b[31mred\\u200b', 'ann@example.com'), (repeat('x', 100), 'bob@example.com')"
    )
    reasons = [c[3] for c in changes(plan(project, "      - {sql: crm, table: m, key: k}\n"))]
    assert reasons == [
        "lists.yaml:13 (m k=a?[31mred?)",
        f"lists.yaml:13 (m k={'x' * 64})",
    ]


def test_an_empty_view_declares_no_member(database: Server, project: Write) -> None:
    database.psql("CREATE TABLE m (id int, email text); CREATE VIEW v AS SELECT * FROM m")
    result = plan(project, "      - {sql: crm, table: v, key: id}\n", "email,first_name,status\n")
    assert (changes(result), result.lists[0].desired_members) == ([], 0)
