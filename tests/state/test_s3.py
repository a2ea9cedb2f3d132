"""S3StateStore against a real S3 API server (moto's standalone server on loopback): the
conformance suite on a plain and a versioned bucket, plus what only S3 can get wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from reconciler.errors import StateError, StateLockedError
from reconciler.state.model import ListState, State
from reconciler.state.s3 import S3StateStore
from reconciler.state.store import LockInfo, StateStore
from tests.s3server import create_buckets, s3_client
from tests.state.conformance import StateStoreConformance

PLAIN, VERSIONED = "state-plain", "state-versioned"


@pytest.fixture
def s3_endpoint(empty_s3: str) -> str:
    # The child processes of the lock tests inherit the test credentials.
    return create_buckets(empty_s3, PLAIN, VERSIONED, versioned=(VERSIONED,))


def _key(tmp_path: Path) -> str:
    return f"{tmp_path.name}/state.json"  # one state per test


class TestS3Conformance(StateStoreConformance):
    bucket = PLAIN

    @pytest.fixture(autouse=True)
    def _endpoint(self, s3_endpoint: str) -> None:
        self.endpoint = s3_endpoint

    def make_store(self, tmp_path: Path) -> StateStore:
        return S3StateStore(self.bucket, _key(tmp_path), endpoint_url=self.endpoint)

    def store_factory(self, tmp_path: Path) -> Callable[[], StateStore]:
        return partial(S3StateStore, self.bucket, _key(tmp_path), endpoint_url=self.endpoint)


class TestS3VersionedConformance(TestS3Conformance):
    bucket = VERSIONED


def _changed(state: State, name: str) -> State:
    state.lists[name] = ListState(provider="og", vendor="ongage", vendor_list_id=name)
    return state


def test_previous_version_is_a_backup_object_on_a_plain_bucket(
    tmp_path: Path, s3_endpoint: str
) -> None:
    store = S3StateStore(PLAIN, _key(tmp_path), endpoint_url=s3_endpoint)
    state = store.write(State())
    client = s3_client(s3_endpoint)
    first = client.get_object(Bucket=PLAIN, Key=_key(tmp_path))["Body"].read()
    store.write(_changed(state, "a"))
    backup = client.get_object(Bucket=PLAIN, Key=f"{_key(tmp_path)}.backup")["Body"].read()
    assert backup == first
    listed = client.list_objects_v2(Bucket=PLAIN, Prefix=f"{tmp_path.name}/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [_key(tmp_path), f"{_key(tmp_path)}.backup"]


def test_previous_versions_are_object_versions_on_a_versioned_bucket(
    tmp_path: Path, s3_endpoint: str
) -> None:
    store = S3StateStore(VERSIONED, _key(tmp_path), endpoint_url=s3_endpoint)
    state = store.write(State())
    store.write(_changed(state, "a"))
    store.write(_changed(state, "b"))
    client = s3_client(s3_endpoint)
    versions = client.list_object_versions(Bucket=VERSIONED, Prefix=f"{tmp_path.name}/")
    assert [v["Key"] for v in versions["Versions"]] == [_key(tmp_path)] * 3  # no backup object
    serials = sorted(
        json.loads(
            client.get_object(Bucket=VERSIONED, Key=_key(tmp_path), VersionId=v["VersionId"])[
                "Body"
            ].read()
        )["serial"]
        for v in versions["Versions"]
    )
    assert serials == [1, 2, 3]


def test_the_lock_is_an_object_created_only_if_absent(tmp_path: Path, s3_endpoint: str) -> None:
    store = S3StateStore(PLAIN, _key(tmp_path), endpoint_url=s3_endpoint)
    info = store.lock("apply")
    client = s3_client(s3_endpoint)
    held = client.get_object(Bucket=PLAIN, Key=f"{_key(tmp_path)}.lock")["Body"].read()
    assert LockInfo.model_validate_json(held) == info
    # The store's own condition, sent by hand: S3 itself refuses a second lock object.
    with pytest.raises(client.exceptions.ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=PLAIN, Key=f"{_key(tmp_path)}.lock", Body=b"{}", IfNoneMatch="*")
    store.unlock(info.id)
    assert client.list_objects_v2(Bucket=PLAIN, Prefix=f"{tmp_path.name}/")["KeyCount"] == 0


def test_an_unreadable_lock_object_still_locks_and_can_be_cleared(
    tmp_path: Path, s3_endpoint: str
) -> None:
    s3_client(s3_endpoint).put_object(Bucket=PLAIN, Key=f"{_key(tmp_path)}.lock", Body=b"garbage")
    store = S3StateStore(PLAIN, _key(tmp_path), endpoint_url=s3_endpoint)
    with pytest.raises(StateLockedError, match="locked by an unreadable lock object"):
        store.lock("apply")
    store.unlock("<LOCK_ID>")
    store.unlock(store.lock("apply").id)


def test_a_write_the_sdk_retried_after_it_landed_is_not_a_conflict(
    tmp_path: Path, s3_endpoint: str
) -> None:
    store = S3StateStore(PLAIN, _key(tmp_path), endpoint_url=s3_endpoint)
    state = store.write(State())
    etag = store._etag
    _changed(state, "a")
    state.serial = 2
    store._write_raw(state)
    store._etag = etag  # as if the response to the first attempt had been lost
    store._write_raw(state)  # the retry finds its own bytes there
    assert store.read().serial == 2  # type: ignore[union-attr]


def test_a_corrupted_state_object_is_a_clear_error_and_nothing_is_overwritten(
    tmp_path: Path, s3_endpoint: str
) -> None:
    client = s3_client(s3_endpoint)
    client.put_object(Bucket=PLAIN, Key=_key(tmp_path), Body=b'{"format_version": 1, "seri')
    store = S3StateStore(PLAIN, _key(tmp_path), endpoint_url=s3_endpoint)
    with pytest.raises(StateError) as exc:
        store.write(State())
    message = str(exc.value)
    assert message.startswith(f"s3://{PLAIN}/{_key(tmp_path)} is not valid JSON")
    # A plain bucket, and no backup object yet: no version to offer (#15 item 8).
    assert f"There is no previous version: no s3://{PLAIN}/{_key(tmp_path)}.backup," in message
    assert message.endswith("Nothing was overwritten.")
    assert (
        client.get_object(Bucket=PLAIN, Key=_key(tmp_path))["Body"].read()
        == b'{"format_version": 1, "seri'
    )


def test_a_missing_bucket_is_named(s3_endpoint: str) -> None:
    store = S3StateStore("no-such-bucket", "state.json", endpoint_url=s3_endpoint)
    with pytest.raises(StateError) as exc:
        store.read()
    assert str(exc.value) == (
        "cannot read s3://no-such-bucket/state.json: the bucket 'no-such-bucket' does not exist"
    )


def test_missing_credentials_say_where_they_come_from(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3StateStore(PLAIN, "state.json", endpoint_url=s3_endpoint)
    with pytest.raises(StateError, match=r"^cannot read s3://state-plain/state.json: no AWS cre"):
        store.read()


def test_an_unknown_profile_is_a_state_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    store = S3StateStore(PLAIN, "state.json", profile="nobody")
    with pytest.raises(StateError, match=r"cannot set up the S3 client for the state: .*nobody"):
        store.read()
