"""Every request the Yesmail provider sends is one yesmail-target-list-file-import.txt allows:
mapping keys are columns of the list's load table (learnt from ``GET /v2/target-lists?view=
schema``, else the ``id_column`` option), and failed rows are named. Checked at the vendor: the
sandbox's request log and its final list contents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from reconciler.config.schema import Credentials, ListConfig, ProviderConfig
from reconciler.errors import ProviderError
from reconciler.model import Action
from reconciler.providers.base import JobState
from reconciler.providers.yesmail import YesmailProvider
from reconciler.sandbox.server import EmbeddedSandbox
from reconciler.staging.http import HttpStager
from tests.integration.project import Project
from tests.providers import test_yesmail  # not its class by name: pytest would run it twice

CREDS = Credentials(username="tester", api_key="secret")  # type: ignore[arg-type]
IMPORT = "/yesmail/v2/target-lists/vip/members/file-import"
POINTER = "; their addresses are in the job's failures file under .reconciler/failures/"


def provider(sandbox: EmbeddedSandbox, tmp_path: Path, **options: Any) -> YesmailProvider:
    config = ProviderConfig(type="yesmail", credentials=CREDS, options=options)
    return YesmailProvider("ym", config, base_url=f"{sandbox.base_url}/yesmail", workdir=tmp_path)


def vip(fields: list[str], **options: str | int | float | bool) -> ListConfig:
    return ListConfig(provider="ym", list_id="vip", managed_fields=fields, options=dict(options))


def requests(sandbox: EmbeddedSandbox) -> list[tuple[str, str, str, int]]:
    """(method, path, query, status) of every request the emulated Yesmail received."""
    return [
        (r["method"], r["path"], r["query"], r["status"])
        for r in sandbox.app.request_log()
        if r["vendor"] == "yesmail"
    ]


def mappings(sandbox: EmbeddedSandbox) -> list[list[dict[str, Any]]]:
    return [
        json.loads(r["body"])["source"]["mappings"]
        for r in sandbox.app.request_log()
        if r["method"] == "POST" and r["path"] == IMPORT
    ]


def import_rows(
    sandbox: EmbeddedSandbox, tmp_path: Path, ym: YesmailProvider, cfg: ListConfig, rows: list[Any]
) -> Any:
    """Submit one batch of (address, firstname) rows for ``cfg`` and follow it to its end."""

    class Suite(test_yesmail.TestYesmailConformance):  # its helpers, for list vip as cfg
        list_id: ClassVar[str] = "vip"

        def list_config(self) -> ListConfig:
            return cfg

    suite = Suite()
    with HttpStager() as stager:
        batch = suite.batch(ym, tmp_path, stager, Action.ADD, rows)
        return suite.run_job(ym, batch)[1]


SEED_BY_EMAIL = {
    "yesmail": {
        "subscribers": ["ann@example.com", "bo@example.com"],
        "lists": {
            "vip": {
                "columns": ["email", "firstname", "lastname"],
                "contacts": [
                    {"email": "bo@example.com", "fields": {"firstname": "Rob", "lastname": "S"}}
                ],
            }
        },
    }
}


# -- member identity ----------------------------------------------------------------------------
def test_a_load_table_keyed_by_email_is_mapped_by_email_from_the_schema_view(
    tmp_path: Path,
) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(SEED_BY_EMAIL)
        ym = provider(sandbox, tmp_path)
        status = import_rows(
            sandbox,
            tmp_path,
            ym,
            vip(["firstname"]),
            [("ann@example.com", "Ann"), ("bo@example.com", "Bo")],
        )
        ym.close()
        assert status.state is JobState.SUCCEEDED
        assert mappings(sandbox) == [[{"email": "email"}, {"firstname": "firstname"}]]
        assert requests(sandbox)[:2] == [
            ("GET", "/yesmail/v2/target-lists", "view=schema", 200),
            ("POST", IMPORT, "", 202),
        ]
        # The schema view is read once per provider, not per batch.
        assert [r for r in requests(sandbox) if r[1] == "/yesmail/v2/target-lists"] == [
            ("GET", "/yesmail/v2/target-lists", "view=schema", 200)
        ]
        assert sandbox.app.state()["vendors"]["yesmail"]["lists"]["vip"] == [
            {"email": "ann@example.com", "status": "active", "fields": {"firstname": "Ann"}},
            {
                "email": "bo@example.com",
                "status": "active",
                "fields": {"firstname": "Bo", "lastname": "S"},
            },
        ]


def test_a_load_table_with_id_is_mapped_by_id(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed({"yesmail": {"subscribers": ["ann@example.com"]}})  # default: id, ...
        ym = provider(sandbox, tmp_path)
        status = import_rows(sandbox, tmp_path, ym, vip(["firstname"]), [("ann@example.com", "A")])
        ym.close()
        assert status.state is JobState.SUCCEEDED
        assert mappings(sandbox) == [[{"id": "email"}, {"firstname": "firstname"}]]


@pytest.mark.parametrize("where", ["list", "provider"])
def test_without_a_schema_view_the_id_column_option_decides(tmp_path: Path, where: str) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(SEED_BY_EMAIL)
        sandbox.app.seed({"yesmail": {"quirks": {"schema_view": False}}})
        option = {"id_column": "email"}
        ym = provider(sandbox, tmp_path, **(option if where == "provider" else {}))
        cfg = vip(["firstname"], **(option if where == "list" else {}))
        status = import_rows(sandbox, tmp_path, ym, cfg, [("ann@example.com", "Ann")])
        ym.close()
        assert status.state is JobState.SUCCEEDED
        assert requests(sandbox)[:2] == [
            ("GET", "/yesmail/v2/target-lists", "view=schema", 404),
            ("POST", IMPORT, "", 202),
        ]
        assert mappings(sandbox) == [[{"email": "email"}, {"firstname": "firstname"}]]
        members = sandbox.app.state()["vendors"]["yesmail"]["lists"]["vip"]
        assert [m["email"] for m in members] == ["ann@example.com", "bo@example.com"]


def test_without_a_schema_view_nor_option_the_document_example_id_is_mapped(
    tmp_path: Path,
) -> None:
    """The fallback beyond the document: ``id``. The vendor refuses it for an email-keyed
    table with the document's 400, and the provider reports that answer."""
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(SEED_BY_EMAIL)
        sandbox.app.seed({"yesmail": {"quirks": {"schema_view": False}}})
        ym = provider(sandbox, tmp_path)
        with pytest.raises(ProviderError) as exc:
            import_rows(sandbox, tmp_path, ym, vip(["firstname"]), [("ann@example.com", "Ann")])
        ym.close()
        assert str(exc.value) == (
            "yesmail POST /v2/target-lists/vip/members/file-import: answered 400: "
            "source.mappings key 'id' does not exist in the load table of target list 'vip' "
            "(columns: email, firstname, lastname)."
        )


@pytest.mark.parametrize(
    ("fields", "options", "message"),
    [
        (
            ["firstname", "tier"],
            {},
            "yesmail: target list 'vip': managed field 'tier' is not a column of its load table"
            " (columns: email, firstname, lastname); nothing was sent",
        ),
        (
            ["email"],
            {},
            "yesmail: target list 'vip': managed field 'email' is the member ID column; the"
            " address is mapped to it",
        ),
        (
            ["firstname"],
            {"id_column": "member"},
            "yesmail: target list 'vip': id_column 'member' is not a column of its load table"
            " (columns: email, firstname, lastname)",
        ),
    ],
)
def test_a_list_the_load_table_cannot_hold_fails_before_anything_is_sent(
    tmp_path: Path, fields: list[str], options: dict[str, str], message: str
) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(SEED_BY_EMAIL)
        ym = provider(sandbox, tmp_path)
        with pytest.raises(ProviderError) as exc:
            ym.batch_format(vip(fields, **options), Action.ADD)
        ym.close()
        assert str(exc.value) == message
        assert requests(sandbox) == [("GET", "/yesmail/v2/target-lists", "view=schema", 200)]


def test_a_schema_view_for_the_whole_company_is_read_as_every_list_columns(
    tmp_path: Path,
) -> None:
    """Yesmail's public Target Lists page says lists share one dataset: a ``targetList`` of
    bare attributes (no per-list entries) applies to every list."""
    answer = {"targetList": [{"name": "email", "type": "String"}, {"name": "firstname"}]}

    def vendor(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path, request.url.query) == (
            "GET",
            "/v2/target-lists",
            b"view=schema",
        )
        return httpx.Response(200, json=answer)

    config = ProviderConfig(type="yesmail", credentials=CREDS)
    ym = YesmailProvider("ym", config, base_url="https://api.yesmail.com", workdir=tmp_path)
    ym.http.client = httpx.Client(
        base_url="https://api.yesmail.com", transport=httpx.MockTransport(vendor)
    )
    assert ym.load_table(vip(["firstname"])).id_column == "email"
    with pytest.raises(ProviderError) as exc:
        ym.batch_format(vip(["lastname"]), Action.ADD)
    assert str(exc.value) == (
        "yesmail: target list 'vip': managed field 'lastname' is not a column of its load table"
        " (columns: email, firstname); nothing was sent"
    )


# -- failed rows are named ----------------------------------------------------------------------
def test_a_failed_job_names_at_most_five_rows_with_the_vendor_reason(tmp_path: Path) -> None:
    with EmbeddedSandbox() as sandbox:
        sandbox.app.seed(SEED_BY_EMAIL)
        ym = provider(sandbox, tmp_path)
        rows: list[Any] = [("ann@example.com", "Ann")] + [
            (f"nobody{i}@example.com", None) for i in range(7)
        ]
        status = import_rows(sandbox, tmp_path, ym, vip(["firstname"]), rows)
        ym.close()
    assert status.state is JobState.FAILED
    assert status.message == (
        "7 of 8 rows failed: row 2 (Member does not exist.), row 3 (Member does not exist.),"
        " row 4 (Member does not exist.), row 5 (Member does not exist.), row 6 (Member does"
        " not exist.) and 2 more" + POINTER
    )
    assert [(f["row"], f["email"], f["error"]) for f in status.failures] == [
        (i + 2, f"nobody{i}@example.com", "Member does not exist.") for i in range(7)
    ]


# -- end to end: plan and apply through the command line -----------------------------------------
CONFIG = """\
providers:
  ym: {type: yesmail, base_url: sandbox}
sandbox: {seed: seed.yaml}
lists:
  vip:
    provider: ym
    list_id: vip
    mode: additive
    managed_fields: [FIELDS]
    members: [{csv: members.csv}]
    # Yesmail cannot be read: the current state comes from an export kept by hand.
    export: {format: ongage, path: current.csv}
guards: {max_update_percent: 100, max_add_percent: null}
"""
SEED = """\
yesmail:
  subscribers: [ann@example.com, bo@example.com]
  lists:
    vip:
      columns: [email, firstname, lastname]
      contacts:
        - {email: bo@example.com, fields: {firstname: Robert, lastname: Smith}}
"""


def project(tmp_path: Path, members: str, fields: str = "firstname") -> Project:
    p = Project(tmp_path)
    p.write("reconciler.yaml", CONFIG.replace("FIELDS", fields))
    p.write("seed.yaml", SEED)
    p.write("members.csv", members)
    p.write("current.csv", "email,firstname\nbo@example.com,Robert\n")
    return p


def test_apply_adds_and_updates_a_list_keyed_by_email(tmp_path: Path) -> None:
    p = project(tmp_path, "email,firstname\nAnn@Example.com,Ann\nbo@example.com,Bo\n")
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert result.code == 0, result.out + result.err
    assert (
        "Plan: 1 to add, 0 to remove, 0 to unsubscribe, 0 to resubscribe, 0 to mark as bounced"
        in result.out
    )
    assert "1 to update" in result.out
    assert p.vendor_list("yesmail", "vip") == {
        "ann@example.com": ("active", {"firstname": "Ann"}),
        "bo@example.com": ("active", {"firstname": "Bo", "lastname": "Smith"}),
    }
    log = [r for r in p.sandbox_requests() if r["vendor"] == "yesmail"]
    assert [(r["method"], r["path"], r["query"], r["status"]) for r in log] == [
        ("GET", "/yesmail/v2/target-lists", "view=schema", 200),
        *(
            step
            for n in (1, 2)
            for step in (
                ("POST", IMPORT, "", 202),
                ("GET", f"/yesmail/v2/tickets/{n}", "", 200),
                ("GET", f"/yesmail/v2/tickets/{n}", "", 200),
                ("GET", f"/yesmail/v2/async-results/{n}", "", 200),
            )
        ),
    ]
    bodies = [json.loads(r["body"]) for r in log if r["method"] == "POST"]
    for body in bodies:  # the add, then the update: the same documented payload
        assert body["importType"] == "update"
        assert body["source"]["mappings"] == [{"email": "email"}, {"firstname": "firstname"}]


def test_apply_names_the_rows_yesmail_refused_and_keeps_their_addresses(
    tmp_path: Path,
) -> None:
    p = project(
        tmp_path,
        "email,firstname\nann@example.com,Ann\nbo@example.com,Bo\nzed@example.com,Zed\n",
    )
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert result.code == 5, result.out + result.err
    # The add batch holds ann and zed (bo is an update): zed, row 2, is no Yesmail subscriber.
    assert (": 1 of 2 rows failed: row 2 (Member does not exist.)" + POINTER + "\n") in result.out
    (failures,) = (tmp_path / ".reconciler" / "failures").glob("*.jsonl")
    assert [json.loads(line) for line in failures.read_text().splitlines()] == [
        {"row": 2, "email": "zed@example.com", "status": 404, "error": "Member does not exist."}
    ]
    assert p.vendor_list("yesmail", "vip") == {
        "ann@example.com": ("active", {"firstname": "Ann"}),
        "bo@example.com": ("active", {"firstname": "Bo", "lastname": "Smith"}),
    }


def test_apply_of_a_field_the_load_table_lacks_sends_nothing(tmp_path: Path) -> None:
    p = project(tmp_path, "email,firstname,tier\nann@example.com,Ann,gold\n", "firstname, tier")
    result = p.run("apply", "-c", "reconciler.yaml", "--auto-approve", "--no-verify")
    assert result.code == 1, result.out + result.err
    assert (
        "yesmail: target list 'vip': managed field 'tier' is not a column of its load table"
        " (columns: email, firstname, lastname); nothing was sent"
    ) in result.err
    log = [r for r in p.sandbox_requests() if r["vendor"] == "yesmail"]
    assert [(r["method"], r["path"]) for r in log] == [("GET", "/yesmail/v2/target-lists")]
