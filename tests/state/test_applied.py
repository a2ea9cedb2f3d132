"""The applied membership's journal, merge and read, on a local state and on S3."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from reconciler.apply.recording import applied_rows_known, merge_applied
from reconciler.engine.duck import connect
from reconciler.errors import StateError
from reconciler.model import Action
from reconciler.providers.base import BatchFormat, JobState, JobStatus
from reconciler.state.applied import list_files, record_batch, record_rows
from reconciler.state.blobs import Blobs, LocalBlobs, S3Blobs, blobs_for
from reconciler.state.keys import field_hash, key_of, state_salt
from reconciler.state.local import LocalStateStore
from reconciler.state.membership import (
    Files,
    Form,
    Recorded,
    journals,
    membership_sql,
    open_applied,
    open_files,
)
from reconciler.state.model import ListState, State
from reconciler.state.s3 import S3StateStore
from tests.s3server import create_buckets

FORMAT = BatchFormat(delimiter=";", email_column="Email", field_columns={"name": "First"})


def batch(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def members(blobs: Blobs, state: State, tmp_path: Path) -> dict[str, tuple[str, str | None]]:
    snapshot = open_applied(
        blobs, "vip", state.lists["vip"].applied, ["name"], tmp_path / "read", vendor="yesmail"
    )
    assert snapshot is not None
    con = connect()
    snapshot.prepare(con)
    rows = con.execute(f"SELECT email, status, f0 FROM {snapshot.sql()}").fetchall()
    return {email: (status, name) for email, status, name in rows}


def state_with_list() -> State:
    state = State()
    state.lists["vip"] = ListState(provider="ym", vendor="yesmail", vendor_list_id="vip")
    return state


def scenario(blobs: Blobs, tmp_path: Path) -> None:
    """Two applies and a forget, with a reader between each."""
    state = state_with_list()
    scratch = tmp_path / "scratch"
    added = batch(tmp_path, "add.csv", 'Email;First\nann@example.com;Ann\nbo@example.com;"B;o"\n')
    record_batch(blobs, "vip", "e1", Action.ADD, added, FORMAT, ["BO@example.com "], scratch)
    # Read before any merge (a killed run): the journal alone.
    assert members(blobs, state, tmp_path) == {"ann@example.com": ("active", "Ann")}
    for name in merge_applied(state, blobs, scratch):
        blobs.delete(name)
    assert journals(blobs, "vip") == []
    first = state.lists["vip"].applied
    assert first is not None and first.rows == 1

    both = batch(tmp_path, "add2.csv", 'Email;First\nann@example.com;Annie\nbo@example.com;"B;o"\n')
    record_batch(blobs, "vip", "e2", Action.UPDATE, both, FORMAT, [], scratch)
    unsub = batch(tmp_path, "unsub.csv", "Email\nann@example.com\n")
    record_batch(blobs, "vip", "e3", Action.UNSUBSCRIBE, unsub, FORMAT, [], scratch)
    for name in merge_applied(state, blobs, scratch):
        blobs.delete(name)
    # The latest row of an address wins; an unsubscribe, which carries no fields, keeps them.
    assert members(blobs, state, tmp_path) == {
        "ann@example.com": ("unsubscribed", "Annie"),
        "bo@example.com": ("active", "B;o"),
    }
    second = state.lists["vip"].applied
    assert second is not None and second.file != first.file
    # The file before the current one stays (the state's backup names it).
    assert sorted(list_files(blobs, "vip")) == sorted([first.file, second.file])

    record_rows(blobs, "vip", "forget", Action.REMOVE, ["bo@example.com"], scratch)
    for name in merge_applied(state, blobs, scratch):
        blobs.delete(name)
    assert members(blobs, state, tmp_path) == {"ann@example.com": ("unsubscribed", "Annie")}
    third = state.lists["vip"].applied
    assert third is not None
    assert sorted(list_files(blobs, "vip")) == sorted([second.file, third.file])


def test_local(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / ".reconciler" / "state.json")
    blobs = blobs_for(store)
    assert isinstance(blobs, LocalBlobs)
    assert blobs.root == tmp_path / ".reconciler" / "state.json.applied"
    scenario(blobs, tmp_path)
    assert (blobs.root / "lists").stat().st_mode & 0o777 == 0o700


def test_s3(tmp_path: Path, empty_s3: str) -> None:
    endpoint = create_buckets(empty_s3, "applied")
    store = S3StateStore("applied", "team/state.json", endpoint_url=endpoint)
    blobs = blobs_for(store)
    assert isinstance(blobs, S3Blobs) and blobs.location == "s3://applied/team/state.json.applied/"
    scenario(blobs, tmp_path)


def test_a_list_does_not_take_another_lists_files(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    blobs.put("lists/vip-0123456789abcdef.parquet", b"x")
    blobs.put("lists/vip-2-0123456789abcdef.parquet", b"y")
    assert list_files(blobs, "vip") == ["lists/vip-0123456789abcdef.parquet"]
    assert list_files(blobs, "vip-2") == ["lists/vip-2-0123456789abcdef.parquet"]


def test_nothing_recorded_is_no_snapshot(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path / "blobs")
    assert open_applied(blobs, "vip", None, [], tmp_path, vendor="yesmail") is None
    assert "WHERE false" in membership_sql(None, [])


@pytest.mark.parametrize(
    ("status", "known"),
    [
        (JobStatus(JobState.SUCCEEDED, "completed"), True),
        # Failed row by row, every refused row named: the others were applied.
        (JobStatus(JobState.FAILED, "completed", {"failed": 1}, "", [{"email": "a"}]), True),
        # Some refused rows not named: which rows were applied is not known.
        (JobStatus(JobState.FAILED, "completed", {"failed": 3}, "", [{"email": "a"}]), False),
        (JobStatus(JobState.FAILED, "failed", {}, "File import failed"), False),
    ],
)
def test_which_jobs_applied_known_rows(status: JobStatus, known: bool) -> None:
    assert applied_rows_known(status) is known


TWO = BatchFormat(email_column="email", field_columns={"first": "first", "city": "city"})


def recorded(blobs: Blobs, tmp_path: Path, form: Form) -> dict[str, tuple[str, dict, bool]]:
    files = open_files(blobs, "vip", None, tmp_path / "read", form)
    assert files is not None
    con = connect()
    try:
        rows = con.execute(f"SELECT * FROM ({files.sql(con)})").fetchall()
    finally:
        con.close()
    return {k: (status, json.loads(f) if f else {}, added) for k, status, f, added in rows}


def test_an_update_of_one_field_keeps_the_others_values(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path / "blobs")
    scratch = tmp_path / "scratch"
    add = batch(tmp_path, "a.csv", "email,first,city\nann@example.com,Ann,Oslo\n")
    record_batch(blobs, "vip", "e1", Action.ADD, add, TWO, [], scratch)
    update = batch(tmp_path, "u.csv", "email,first,city\nann@example.com,,Bergen\n")
    record_batch(blobs, "vip", "e2", Action.UPDATE, update, TWO, [], scratch)
    assert recorded(blobs, tmp_path, Form.EMAIL) == {
        "ann@example.com": ("active", {"first": "Ann", "city": "Bergen"}, True)
    }


def test_the_keyed_form_names_nobody_and_tells_who_reconciler_added(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path / "blobs")
    scratch = tmp_path / "scratch"
    salt = state_salt(blobs, create=True)
    assert salt is not None and state_salt(blobs) == salt
    add = batch(tmp_path, "a.csv", "email,first,city\nann@example.com,Ann,Oslo\n")
    record_batch(blobs, "vip", "e1", Action.ADD, add, TWO, [], scratch, salt=salt)
    unsub = batch(tmp_path, "u.csv", "email\nbob@example.com\n")
    record_batch(blobs, "vip", "e2", Action.UNSUBSCRIBE, unsub, TWO, [], scratch, salt=salt)
    assert journals(blobs, "vip")[0].endswith(".keyed.parquet")
    assert recorded(blobs, tmp_path, Form.KEYED) == {
        key_of("ann@example.com", salt): (
            "active",
            {"first": field_hash("Ann", salt), "city": field_hash("Oslo", salt)},
            True,
        ),
        key_of("bob@example.com", salt): ("unsubscribed", {}, False),
    }
    assert open_files(blobs, "vip", None, tmp_path, Form.EMAIL) is None  # the other form
    files = open_files(blobs, "vip", None, tmp_path / "read", Form.KEYED)
    assert files is not None
    con = connect()
    try:
        found = Recorded(files, salt).lookup(con, ["ann@example.com", "eve@example.com"])
    finally:
        con.close()
    assert list(found) == ["ann@example.com"]
    assert Recorded(files, salt).same_value(" Ann ", found["ann@example.com"].fields["first"])


def test_a_damaged_key_is_refused_not_written_into_sql(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path / "blobs")
    blobs.put("salt", b"'; DROP TABLE x; --")
    with pytest.raises(StateError) as raised:
        state_salt(blobs)
    assert str(raised.value) == f"the state's key {tmp_path / 'blobs'}/salt is damaged"


def test_a_version_3_file_has_everything_added(tmp_path: Path) -> None:
    """Files of format version 3 have no ``added`` column: all they hold reconciler sent."""
    old = tmp_path / "old.parquet"
    duckdb.sql(
        "COPY (SELECT 'ann@example.com' AS email, 'active' AS status, NULL::JSON AS fields) "
        f"TO '{old}' (FORMAT parquet)"
    )
    con = connect()
    try:
        rows = con.execute(f"SELECT * FROM ({Files(Form.EMAIL, old, (), '').sql(con)})").fetchall()
    finally:
        con.close()
    assert rows == [("ann@example.com", "active", None, True)]
