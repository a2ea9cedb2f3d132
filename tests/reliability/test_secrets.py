"""Secrets and personal data in artifacts.

A full plan → apply → refresh → state run (with a failing Yesmail row and a refused request for
good measure) with known fake credentials for all four vendors; then every artifact is searched
for them: stdout and stderr of each command, every file under the project (state and its backup,
batch and failure files, vendor exports, the plan's JSON and Markdown, the sandbox's store with
its request log) and the staged files' URLs. None may hold a credential, in clear or in the
encodings it travels in (HTTP Basic auth). The same run checks what ``specs/reliability.md``
says each artifact holds of personal data.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from reconciler.cli.main import COMMANDS
from tests.integration.project import Run
from tests.reliability.harness import FaultProject

pytestmark = pytest.mark.slow

ENV = {
    "OG_USER": "s3cr3t-ONGAGE-USER-do-not-log",
    "OG_PASS": "s3cr3t-ONGAGE-KEY-do-not-log",
    "OG_ACCOUNT": "s3cr3t-ONGAGE-ACCOUNT-do-not-log",
    "LM_USER": "s3cr3t-LISTMONK-USER-do-not-log",
    "LM_TOKEN": "s3cr3t-LISTMONK-TOKEN-do-not-log",
    "YM_USER": "s3cr3t-YESMAIL-USER-do-not-log",
    "YM_KEY": "s3cr3t-YESMAIL-KEY-do-not-log",
    "OM_ACCOUNT": "s3cr3t-OMNIGAGE-ACCOUNT-do-not-log",
    "OM_KEY": "s3cr3t-OMNIGAGE-KEY-do-not-log",
    "OM_SECRET": "s3cr3t-OMNIGAGE-SECRET-do-not-log",
}
#: What may not appear anywhere: each secret, and the Basic-auth headers built from them.
FORBIDDEN = [
    *ENV.values(),
    *(
        base64.b64encode(f"{ENV[user]}:{ENV[password]}".encode()).decode()
        for user, password in (("LM_USER", "LM_TOKEN"), ("OM_KEY", "OM_SECRET"))
    ),
    "s3cr3t",  # and no part of one
]
CONFIG = """\
providers:
  og:
    type: ongage
    base_url: sandbox
    credentials: {username: "${env:OG_USER}", password: "${env:OG_PASS}",
                  account_code: "${env:OG_ACCOUNT}"}
  lm:
    type: listmonk
    base_url: sandbox
    credentials: {username: "${env:LM_USER}", password: "${env:LM_TOKEN}"}
  ym:
    type: yesmail
    base_url: sandbox
    credentials: {username: "${env:YM_USER}", api_key: "${env:YM_KEY}"}
  om:
    type: omnigage
    base_url: sandbox
    credentials: {account_code: "${env:OM_ACCOUNT}", api_key: "${env:OM_KEY}",
                  password: "${env:OM_SECRET}"}
sandbox: {seed: seed.yaml}
# A first population of tiny lists: every change is a big share of them.
guards: {max_drop_percent: null, max_add_percent: null}
writeback: {path: out/vendor-suppressions.csv}
lists:
  news: {provider: og, list_id: 1001, managed_fields: [first_name], members: [{csv: members.csv}]}
  digest: {provider: lm, list_id: 3, managed_fields: [first_name], members: [{csv: members.csv}]}
  weekly:
    provider: ym
    list_id: weekly
    mode: additive
    members: [{csv: members.csv}, {inline: [{email: zed@example.com}]}]
  leads: {provider: om, list_id: L1, mode: additive, members: [{csv: members.csv}]}
"""
SEED = """\
ongage:
  lists:
    "1001": {fields: [first_name], contacts: [{email: hal@example.com, status: active}]}
listmonk:
  lists:
    "3": {name: digest}
yesmail:
  subscribers: [ann@example.com, bob@example.com]   # zed is not one: its row fails
  lists:
    weekly: {columns: [firstname, lastname]}
omnigage:
  lists:
    L1: {contacts: []}
"""
#: Every command, with the arguments that make it write what it can write. A new command is
#: one more line here (the test below fails until it is added or exempted).
RUNS: list[tuple[str, ...]] = [
    ("validate",),
    ("plan", "--json", "out/plan.json", "--markdown", "out/plan.md", "-out", "out/plan.zip"),
    ("apply", "--auto-approve"),
    ("poll",),
    ("state", "show"),  # the whole state; `state list` and `state jobs` print parts of it
    # Under the lock, reads and writes the state: here refused (no such entry), changing nothing.
    ("state", "resolve", "0123456789abcdef", "--unsent"),
    ("drift", "--report", "out/drift.html", "--report", "out/drift.json", "--report", "out/d.md"),
    ("suppressions", "pull"),
    ("show", "out/plan.zip"),  # the plan saved above; show reads no configuration
]
EXEMPT = {
    "sandbox": "the emulator itself: it is given no credentials",
    "completion": "prints a script generated from the parser: it reads no configuration",
    "refresh": "the old name of poll, which is in the run: the same code",
}
TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"


def test_every_command_is_in_the_secrets_run() -> None:
    assert {run[0] for run in RUNS} | set(EXEMPT) == set(COMMANDS)


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [secret for secret in FORBIDDEN if secret.encode() in data]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[FaultProject, list[Run]]:
    """Every command once, then a refused request; the project and each command's output."""
    p = FaultProject(tmp_path_factory.mktemp("secrets"), ENV)
    p.write("reconciler.yaml", CONFIG)
    p.write("seed.yaml", SEED)
    p.write("members.csv", "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n")
    runs: list[Run] = [
        p.run(*args) if args[0] == "show" else p.run(*args, "-c", "reconciler.yaml")
        for args in RUNS
    ]
    # A refused request puts the vendor's answer in an error message.
    p.inject(path="/ongage/", kind="status", status=401, count=20, body='{"message": "denied"}')
    runs.append(p.run("plan", "-c", "reconciler.yaml"))
    return p, runs


def test_no_artifact_holds_a_credential(full_run: tuple[FaultProject, list[Run]]) -> None:
    p, runs = full_run
    tmp_path = p.root
    # drift: 2, the Yesmail and Omnigage lists cannot be read back (every member is "to apply")
    assert [r.code for r in runs] == [0, 0, 5, 0, 0, 1, 2, 0, 0, 1], [r.err for r in runs]
    assert runs[5].err.startswith("Error: no ledger entry '0123456789abcdef'")
    assert runs[-1].err == "Error: ongage POST /1001/api/export: answered 401: denied\n"
    for run in runs:
        assert leaks(run.out) == leaks(run.err) == []
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    ours = [f for f in files if f.relative_to(tmp_path).parts[0] != ".sandbox"]
    assert {f.relative_to(tmp_path).parts[0] for f in ours} >= {".reconciler", "out"}
    assert [(f, leaks(f.read_bytes())) for f in ours if leaks(f.read_bytes())] == []

    # The emulator's store, cell by cell: its request log masks every credential; the one
    # credential it keeps is Yesmail's API user in its tickets, which real Yesmail echoes in
    # every ticket (`request.user`): the vendor's own record, not reconciler's.
    with p.store() as sandbox:
        logged = sandbox.request_log()
        found = sorted(
            (table, column, secret)
            for table in [r[0] for r in sandbox.db.query(TABLES)]
            for row in sandbox.db.query(f'SELECT * FROM "{table}"')
            for column in row.keys()  # noqa: SIM118 (sqlite3.Row)
            for secret in leaks(str(row[column]))
            if secret != "s3cr3t"
        )
    assert {(t, c, s) for t, c, s in found} == {("yesmail_tickets", "user", ENV["YM_USER"])}
    assert leaks(json.dumps(logged)) == []
    # The credentials were sent (and masked in the log), not merely absent.
    og = next(r for r in logged if r["vendor"] == "ongage")
    assert {og["headers"][h] for h in ("X-Username", "X-Password", "X-Account-Code")} == {"***"}
    staged = [j.url for j in p.state().jobs if j.url]
    assert staged and leaks(" ".join(staged)) == []


def test_personal_data_stays_where_the_spec_says(
    full_run: tuple[FaultProject, list[Run]],
) -> None:
    """The claims of specs/reliability.md, "Personal data", checked on the same run."""
    p, runs = full_run
    tmp_path = p.root
    assert runs[2].code == 5  # apply: the Yesmail row for zed failed
    state_dir = tmp_path / ".reconciler"

    # The state and its backup: no address, no name.
    for name in ("state.json", "state.json.backup"):
        text = (state_dir / name).read_text()
        # A name as a value, not as letters of a random staged file's name (7c6pAnnBeQ…).
        assert "@example.com" not in text, name
        assert not re.search(r"(?<![\w-])Ann(?![\w-])", text), name
    # The plan's JSON has every address; its Markdown masks them but shows field values.
    assert "ann@example.com" in (tmp_path / "out" / "plan.json").read_text()
    markdown = (tmp_path / "out" / "plan.md").read_text()
    assert "ann@example.com" not in markdown and "a***@example.com" in markdown
    # Batch files hold the rows sent, only while their job is in flight (tests/reliability/
    # test_kill.py reads one); the failure file keeps the rows a vendor refused, with address.
    assert [f for f in (state_dir / "batches").rglob("*") if f.is_file()] == []
    (failures,) = (state_dir / "failures").glob("*.jsonl")
    assert json.loads(failures.read_text())["email"] == "zed@example.com"
    # The vendors' current lists are read into a scratch directory removed with the command.
    assert [f for f in (state_dir / "work").rglob("*") if f.is_file()] == []
