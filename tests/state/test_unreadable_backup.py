"""A state that cannot be read is refused, and the message says what to do with its previous
version: copy it back (or push it) when it reads, never when it is unreadable too (#15 item 8):
then it says both are unreadable, and what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state.local import LocalStateStore
from reconciler.state.model import State
from reconciler.state.s3 import S3StateStore
from tests.s3server import create_buckets, s3_client
from tests.security.hostile import HostileProject

BAD_JSON = (
    "is not valid JSON (Expecting value: line 1 column 1 (char 0)); it may be truncated or "
    "corrupted"
)
NEITHER = (
    "Neither can be used: restore the state from a copy of your own (a backup or snapshot). "
    "Without one, move both aside: the next command starts a new, empty state, which knows of "
    "no job a previous run left in flight, so check the vendors' jobs and lists before you "
    "apply."
)
PLAIN, VERSIONED = "state-plain", "state-versioned"


def broken_local(tmp_path: Path, backup: str | None) -> LocalStateStore:
    store = LocalStateStore(tmp_path / "state.json")
    store.write(State())
    store.write(State(lineage=store.read().lineage, serial=1, lists={}))  # type: ignore[union-attr]
    store.path.write_text("")
    if backup is None:
        store.backup.unlink(missing_ok=True)
    else:
        store.backup.write_text(backup)
    return store


def refusal(store: LocalStateStore | S3StateStore) -> str:
    with pytest.raises(StateError) as caught:
        store.read()
    return str(caught.value)


def test_local_both_unreadable_says_so_and_never_advises_the_backup(tmp_path: Path) -> None:
    store = broken_local(tmp_path, backup="{trunc")
    assert refusal(store) == (
        f"{store.path} {BAD_JSON}. Its previous version is no better: {store.backup} is not "
        "valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char "
        f"1)); it may be truncated or corrupted. {NEITHER} Nothing was overwritten."
    )


def test_local_a_good_backup_is_still_offered(tmp_path: Path) -> None:
    store = broken_local(tmp_path, backup=State().model_dump_json())
    assert refusal(store) == (
        f"{store.path} {BAD_JSON}. The previous version is in {store.backup}: inspect it and "
        "copy it over state.json if it is good. Nothing was overwritten."
    )


def test_apply_with_both_unreadable_names_both_and_sends_nothing(tmp_path: Path) -> None:
    p = HostileProject(tmp_path)
    p.write(
        "reconciler.yaml",
        "providers:\n  lm: {type: listmonk, base_url: sandbox}\n"
        "lists:\n  news: {provider: lm, list_id: '3', members: [{inline: [{email: a@b.example}]}]}"
        "\n",
    )
    p.write(".reconciler/state.json", "")
    p.write(".reconciler/state.json.backup", '{"hello": 1}')
    run = p.run("apply", "--auto-approve")
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        f"Error: .reconciler/state.json {BAD_JSON}. Its previous version is no better: "
        ".reconciler/state.json.backup is not a reconciler state file (no format_version). "
        f"{NEITHER} Nothing was overwritten.\n"
    )
    assert p.requests() == []
    assert not (tmp_path / ".reconciler" / "state.json.lock").exists()


@pytest.fixture
def s3_endpoint(empty_s3: str) -> str:
    return create_buckets(empty_s3, PLAIN, VERSIONED, versioned=(VERSIONED,))


def broken_s3(endpoint: str, bucket: str, backup: bytes | None) -> S3StateStore:
    store = S3StateStore(bucket, "p/state.json", endpoint_url=endpoint)
    client = s3_client(endpoint)
    client.put_object(Bucket=bucket, Key="p/state.json", Body=b"")
    if backup is not None:
        client.put_object(Bucket=bucket, Key="p/state.json.backup", Body=backup)
    return store


def test_s3_both_unreadable_on_a_plain_bucket(s3_endpoint: str) -> None:
    store = broken_s3(s3_endpoint, PLAIN, b"\x00garbage")
    message = refusal(store)
    assert message.startswith(
        f"s3://{PLAIN}/p/state.json {BAD_JSON}. Its previous version is no better: "
        f"s3://{PLAIN}/p/state.json.backup is not valid JSON ("
    )
    assert message.endswith(f"it may be truncated or corrupted. {NEITHER} Nothing was overwritten.")
    assert "state push" not in message


def test_s3_a_good_backup_is_offered(s3_endpoint: str) -> None:
    store = broken_s3(s3_endpoint, PLAIN, State().model_dump_json().encode())
    assert refusal(store) == (
        f"s3://{PLAIN}/p/state.json {BAD_JSON}. The previous version is in "
        f"s3://{PLAIN}/p/state.json.backup: inspect it and `reconciler state push --force` it "
        "if it is good. Nothing was overwritten."
    )


def test_s3_on_a_versioned_bucket_points_at_the_versions(s3_endpoint: str) -> None:
    versions = (
        "The previous versions are in the bucket's object versions of p/state.json: inspect "
        "them and `reconciler state push --force` one that is good. Nothing was overwritten."
    )
    store = broken_s3(s3_endpoint, VERSIONED, None)
    assert refusal(store) == f"s3://{VERSIONED}/p/state.json {BAD_JSON}. {versions}"
    store = broken_s3(s3_endpoint, VERSIONED, b"{")
    message = refusal(store)
    assert "Its previous version is no better" in message and message.endswith(versions)
