"""Files reconciler writes that hold personal data are readable by their owner only, and the
staging server's access log (every staged URL) never reaches the terminal."""

from __future__ import annotations

import io
import logging
import stat
import zipfile
from pathlib import Path

import httpx
import pytest

from reconciler.apply.batches import write_batches
from reconciler.errors import ProviderError
from reconciler.model import Action, ChangeKind, DropAction, ListMode
from reconciler.plan.model import ListChange, ListPlan
from reconciler.private import open_private, private_dir, write_private
from reconciler.providers.base import BatchFormat
from reconciler.providers.ongage import unzip_export
from reconciler.staging.directory import DirectoryStager
from reconciler.staging.http import HttpStager


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> object:
    """The usual umask (022) would already take write bits away; a permissive one shows the
    modes come from reconciler, not from the environment."""
    import os

    old = os.umask(0)
    yield
    os.umask(old)


def test_private_dir_creates_every_missing_parent_0700(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    leaf = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", leaf)] == [0o700] * 3
    assert mode(tmp_path) == 0o755  # an existing directory (the repository) is left as it was
    assert private_dir(leaf) == leaf  # existing: nothing happens


def test_private_files_are_0600_from_their_creation(tmp_path: Path) -> None:
    write_private(tmp_path / "a.csv", b"email\n")
    with open_private(tmp_path / "b.csv", "w", encoding="utf-8") as fh:
        fh.write("email\n")
    (tmp_path / "c.csv").write_bytes(b"old, longer content\n")
    (tmp_path / "c.csv").chmod(0o600)
    write_private(tmp_path / "c.csv", b"new\n")  # truncated, not appended
    assert [mode(tmp_path / n) for n in ("a.csv", "b.csv", "c.csv")] == [0o600] * 3
    assert (tmp_path / "c.csv").read_bytes() == b"new\n"
    with pytest.raises(FileExistsError):
        open_private(tmp_path / "a.csv", "xb")


def test_batch_files_and_their_directories_are_private(tmp_path: Path) -> None:
    plan = ListPlan(
        "news",
        "og",
        "ongage",
        "1",
        ListMode.AUTHORITATIVE,
        DropAction.REMOVE,
        (ListChange(ChangeKind.ADD, "ann@example.com", "members.csv:2"),),
    )
    directory = tmp_path / "batches" / "run-1" / "news"
    [batch] = write_batches(plan, Action.ADD, BatchFormat(), directory)
    assert batch.path.read_bytes() == b"email\nann@example.com\n"
    assert mode(batch.path) == 0o600
    assert [mode(d) for d in (directory, directory.parent, directory.parent.parent)] == [0o700] * 3


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_an_export_is_unzipped_into_a_private_file(tmp_path: Path) -> None:
    content = b"email,status\nann@example.com,active\n" * 1000
    unzip_export(_zip("export.csv", content), tmp_path / "x.csv", "GET /1/api/export/9/retrieve")
    assert (tmp_path / "x.csv").read_bytes() == content
    assert mode(tmp_path / "x.csv") == 0o600


def test_a_damaged_export_zip_is_a_clear_error(tmp_path: Path) -> None:
    good = _zip("export.csv", b"email,status\n" + b"ann@example.com,active\n" * 1000)
    # Corrupt the deflate stream (the CRC and sizes in the headers stay as they were).
    start = good.index(b"export.csv") + len(b"export.csv")
    damaged = good[:start] + bytes(b ^ 0xFF for b in good[start : start + 40]) + good[start + 40 :]
    with pytest.raises(ProviderError) as caught:
        unzip_export(damaged, tmp_path / "x.csv", "GET /1/api/export/9/retrieve")
    assert str(caught.value).startswith(
        "ongage GET /1/api/export/9/retrieve: export ZIP is damaged (error: Error -3 while "
        "decompressing data"
    )
    assert str(caught.value).endswith("run the command again to download the export afresh")
    with pytest.raises(ProviderError) as caught:
        unzip_export(b"PK\x03\x04 not really", tmp_path / "y.csv", "GET /r")
    assert str(caught.value) == "ongage GET /r: export is not a ZIP file"


def test_directory_staging_is_group_readable_only(tmp_path: Path) -> None:
    source = tmp_path / "batch.csv"
    source.write_bytes(b"email\nann@example.com\n")
    url = DirectoryStager(tmp_path / "www", "https://files.example.com/b").publish(source)
    [staged] = (tmp_path / "www").iterdir()
    assert url == f"https://files.example.com/b/{staged.name}"
    assert (mode(staged), staged.read_bytes()) == (0o640, b"email\nann@example.com\n")


def test_the_staging_server_logs_no_url(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="werkzeug")  # it logs each request at INFO
    source = tmp_path / "batch.csv"
    source.write_bytes(b"email\nann@example.com\n")
    stager = HttpStager().start()
    try:
        url = stager.publish(source)
        assert httpx.get(url).content == b"email\nann@example.com\n"
        assert httpx.get(f"{stager.base_url}/guess").status_code == 404
    finally:
        stager.stop()
    out, err = capfd.readouterr()
    assert (out, err, [r.getMessage() for r in caplog.records if r.name == "werkzeug"]) == (
        "",
        "",
        [],
    )
