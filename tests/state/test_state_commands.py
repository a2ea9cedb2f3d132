"""``reconciler state pull|push|migrate|show`` through the real command line, on a local file
and on S3 (moto's standalone server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.state.local import LocalStateStore
from reconciler.state.model import JobEntry, ListState, State
from reconciler.state.s3 import S3StateStore
from tests.integration.project import Project
from tests.s3server import create_buckets, s3_client

BUCKET = "cli-state"
PROVIDER = """\
providers:
  og: {type: ongage, base_url: sandbox, credentials: {password: "${env:OG_SECRET_UNSET}"}}
"""


@pytest.fixture
def s3_endpoint(empty_s3: str) -> str:
    return create_buckets(empty_s3, BUCKET)


def _state(*lists: str) -> State:
    state = State()
    for name in lists:
        state.lists[name] = ListState(provider="og", vendor="ongage", vendor_list_id=name)
    state.jobs.append(
        JobEntry(
            batch_key="a/add/0001/x",
            run_id="r1",
            provider="og",
            list="a",
            vendor_list_id="1",
            action="add",
            index=1,
            rows=3,
            sha256="x",
            file="f.csv",
            status="succeeded",
            vendor_job_id="77",
        )
    )
    return state


def _s3_project(tmp_path: Path, endpoint: str) -> tuple[Project, S3StateStore]:
    p = Project(tmp_path)
    key = f"{tmp_path.name}/state.json"
    p.write(
        "reconciler.yaml",
        f"state: {{backend: s3, bucket: {BUCKET}, key: {key}, endpoint_url: '{endpoint}'}}\n",
    )
    return p, S3StateStore(BUCKET, key, endpoint_url=endpoint)


def test_pull_prints_the_state_and_push_replaces_it_by_the_serial_and_lineage_rules(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "state: {path: st/state.json}\n")
    store = LocalStateStore(tmp_path / "st" / "state.json")
    store.write(_state("a"))

    pulled = p.run("state", "pull")
    assert pulled.code == 0, pulled.err
    assert json.loads(pulled.out) == json.loads(store.path.read_text())

    edited = json.loads(pulled.out)
    edited["lists"]["b"] = {"provider": "og", "vendor": "ongage", "vendor_list_id": "b"}
    p.write("edited.json", json.dumps(edited))
    pushed = p.run("state", "push", "edited.json")
    assert pushed.out == "Pushed edited.json to st/state.json: serial 2.\n"
    assert sorted(store.read().lists) == ["a", "b"]  # type: ignore[union-attr]

    again = p.run("state", "push", "edited.json")  # serial 1 is older than the stored 2
    assert again.code == 1
    assert again.err == (
        "Error: refusing to push edited.json over st/state.json: it holds a newer version of "
        "this state (serial 2; edited.json has serial 1); nothing was pushed. Compare them "
        "(`reconciler state pull`); to replace it with edited.json all the same, run "
        "`reconciler state push --force edited.json` (the state it replaces is kept as the "
        "previous version)\n"
    )
    z = _state("z")
    p.write("other.json", z.model_dump_json())
    other = p.run("state", "push", "other.json")
    assert other.code == 1
    assert other.err == (
        "Error: refusing to push other.json over st/state.json: it holds another state "
        f"(lineage {store.read().lineage}, serial 2; other.json has lineage {z.lineage}); "  # type: ignore[union-attr]
        "nothing was pushed. Compare them (`reconciler state pull`); to replace it with "
        "other.json all the same, run `reconciler state push --force other.json` (the state "
        "it replaces is kept as the previous version)\n"
    )
    assert store.read().serial == 2  # type: ignore[union-attr]
    forced = p.run("state", "push", "other.json", "--force")
    assert forced.out == "Pushed other.json to st/state.json: serial 3.\n"
    assert sorted(store.read().lists) == ["z"]  # type: ignore[union-attr]
    assert store.current_lock() is None


def test_push_is_refused_while_the_state_is_locked(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "lists: {}\n")
    store = LocalStateStore(tmp_path / ".reconciler" / "state.json")
    state = store.write(_state("a"))
    held = store.lock("apply")
    p.write("pushed.json", state.model_dump_json())
    pushed = p.run("state", "push", "pushed.json")
    assert pushed.code == 1
    assert f"is locked by {held.describe()}" in pushed.err
    assert store.current_lock() == held


def test_pull_of_no_state_is_an_error(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "lists: {}\n")
    pulled = p.run("state", "pull")
    assert (pulled.code, pulled.out) == (1, "")
    assert pulled.err == (
        f"Error: there is no state at {Path('.reconciler/state.json')} yet: nothing to pull\n"
    )


def test_migrate_local_to_s3_and_back_keeps_lineage_serial_and_ledger(
    tmp_path: Path, s3_endpoint: str
) -> None:
    p, s3 = _s3_project(tmp_path, s3_endpoint)
    local = LocalStateStore(tmp_path / ".reconciler" / "state.json")
    original = local.write(_state("a", "b"))

    there = p.run("state", "migrate", "--from", ".reconciler/state.json")
    assert there.code == 0, there.err
    assert there.out == (
        f"Migrated the state (lineage {original.lineage}, serial 1) from "
        f".reconciler/state.json to {s3.location}. .reconciler/state.json is left as it was: "
        "remove it.\n"
    )
    on_s3 = s3.read()
    assert on_s3 is not None
    assert on_s3.model_dump(exclude={"updated_at"}) == original.model_dump(exclude={"updated_at"})
    jobs = p.run("state", "jobs")  # every state command now reads S3
    assert jobs.out.splitlines()[1].split("\t")[:6] == ["a", "add", "1", "3", "succeeded", "77"]
    assert s3.current_lock() is None and local.current_lock() is None

    back = p.run("state", "migrate", "--to", "back/state.json")
    assert back.code == 0, back.err
    returned = LocalStateStore(tmp_path / "back" / "state.json").read()
    assert returned is not None
    assert returned.model_dump(exclude={"updated_at"}) == original.model_dump(
        exclude={"updated_at"}
    )


def test_migrate_never_overwrites_another_state(tmp_path: Path, s3_endpoint: str) -> None:
    p, s3 = _s3_project(tmp_path, s3_endpoint)
    theirs = s3.write(_state("theirs"))
    LocalStateStore(tmp_path / "mine.json").write(_state("mine"))
    refused = p.run("state", "migrate", "--from", "mine.json")
    assert refused.code == 1
    mine = LocalStateStore(tmp_path / "mine.json").read()
    assert mine is not None
    assert refused.err == (
        f"Error: refusing to migrate mine.json over {s3.location}: it holds another state "
        f"(lineage {theirs.lineage}, serial 1; mine.json has lineage {mine.lineage}); nothing "
        "was migrated. Move it away first, or run `reconciler state migrate --from mine.json "
        "--force` to replace it (the state it replaces is kept as the previous version)\n"
    )
    assert sorted(s3.read().lists) == ["theirs"]  # type: ignore[union-attr]
    assert s3.current_lock() is None

    forced = p.run("state", "migrate", "--from", "mine.json", "-force")
    assert forced.code == 0, forced.err
    assert sorted(s3.read().lists) == ["mine"]  # type: ignore[union-attr]

    empty = p.run("state", "migrate", "--from", "none.json")
    assert empty.err == "Error: there is no state at none.json yet: nothing to migrate\n"


def test_migrate_over_a_newer_serial_of_the_same_state_says_so_and_forces(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "lists: {}\n")
    configured = LocalStateStore(tmp_path / ".reconciler" / "state.json")
    old = configured.write(_state("a"))
    p.write("old.json", old.model_dump_json())
    old.lists.pop("a")
    configured.write(old)  # serial 2 in the configured store, old.json still serial 1
    refused = p.run("state", "migrate", "--from", "old.json")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        f"Error: refusing to migrate old.json over {Path('.reconciler/state.json')}: it holds a "
        "newer version of this state (serial 2; old.json has serial 1); nothing was migrated. "
        "Move it away first, or run `reconciler state migrate --from old.json --force` to "
        "replace it (the state it replaces is kept as the previous version)\n"
    )
    forced = p.run("state", "migrate", "--from", "old.json", "--force")
    assert forced.code == 0, forced.err
    now = configured.read()
    assert now is not None and (now.serial, sorted(now.lists)) == (3, ["a"])
    backup = LocalStateStore(tmp_path / ".reconciler" / "state.json.backup").read()
    assert backup is not None and (backup.serial, sorted(backup.lists)) == (2, [])


def test_push_force_of_an_older_serial_keeps_the_newer_as_the_previous_version(
    tmp_path: Path,
) -> None:
    p = Project(tmp_path)
    p.write("reconciler.yaml", "lists: {}\n")
    store = LocalStateStore(tmp_path / ".reconciler" / "state.json")
    first = store.write(_state("a"))
    p.write("old.json", first.model_dump_json())
    first.lists["b"] = first.lists["a"].model_copy()
    store.write(first)
    pushed = p.run("state", "push", "-force", "old.json")
    where = Path(".reconciler/state.json")
    assert (pushed.code, pushed.out) == (0, f"Pushed old.json to {where}: serial 3.\n")
    assert sorted(store.read().lists) == ["a"]  # type: ignore[union-attr]
    backup = LocalStateStore(tmp_path / ".reconciler" / "state.json.backup").read()
    assert backup is not None and (backup.serial, sorted(backup.lists)) == (2, ["a", "b"])


def test_the_state_stays_readable_without_the_vendors_secrets(
    tmp_path: Path, s3_endpoint: str
) -> None:
    p, s3 = _s3_project(tmp_path, s3_endpoint)
    p.write("providers.yaml", PROVIDER)
    s3.write(_state("a"))
    shown = p.run("state", "list", "-c", ".")
    assert shown.code == 0, shown.err
    assert shown.out.splitlines()[1] == "a\tongage a\tno export"
    # A configuration that is itself wrong is an error, not a silent fall-back to a local file.
    p.write("providers.yaml", PROVIDER + "bogus: 1\n")
    broken = p.run("state", "list", "-c", ".")
    assert broken.code == 1 and "unknown key 'bogus'" in broken.err


def test_an_unreadable_state_is_replaced_by_push_force_only(
    tmp_path: Path, s3_endpoint: str
) -> None:
    """What the unreadable state's error advises (push a good copy) works, on S3 as locally."""
    p, s3 = _s3_project(tmp_path, s3_endpoint)
    good = s3.write(_state("a"))
    p.write("good.json", good.model_dump_json())
    s3_client(s3_endpoint).put_object(Bucket=BUCKET, Key=s3.key, Body=b"{broken")
    pushed = p.run("state", "push", "good.json")
    assert (pushed.code, pushed.out) == (1, "")
    assert pushed.err.startswith(f"Error: {s3.location} is not valid JSON (")
    assert pushed.err.endswith(
        "Nothing was overwritten. To replace it with good.json, run `reconciler state push "
        "--force good.json`.\n"
    )
    forced = p.run("state", "push", "--force", "good.json")
    assert (forced.code, forced.err) == (0, "")
    assert forced.out == f"Pushed good.json to {s3.location}: serial 1.\n"
    assert sorted(s3.read().lists) == ["a"]  # type: ignore[union-attr]
    backup = s3_client(s3_endpoint).get_object(Bucket=BUCKET, Key=f"{s3.key}.backup")
    assert backup["Body"].read() == b"{broken"  # the state it replaced, kept

    local = Project(tmp_path / "local")
    local.write("reconciler.yaml", "lists: {}\n")
    local.write("good.json", good.model_dump_json())
    local.write(".reconciler/state.json", "{broken")
    assert local.run("state", "push", "good.json").code == 1
    forced = local.run("state", "push", "good.json", "-force")
    assert forced.code == 0, forced.err
    assert sorted(LocalStateStore(local.root / ".reconciler" / "state.json").read().lists) == ["a"]  # type: ignore[union-attr]
