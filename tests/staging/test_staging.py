"""Staging backends: each publishes exactly the files of the run and retires them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.config.schema import StagingConfig
from reconciler.staging import open_stager
from reconciler.staging.base import StagingError
from reconciler.staging.http import HttpStager


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    path = tmp_path / "batch-0001.csv"
    path.write_text("email\na@example.com\n")
    return path


def test_http_stager_serves_only_published_files(batch: Path) -> None:
    with HttpStager() as stager:
        url = stager.publish(batch)
        assert url.startswith("http://127.0.0.1:") and url.endswith(".csv")
        assert len(url.rsplit("/", 1)[1]) >= 32  # unguessable
        assert httpx.get(url).text == "email\na@example.com\n"
        base = url.rsplit("/", 1)[0]
        assert httpx.get(f"{base}/").status_code == 404  # no index
        assert httpx.get(f"{base}/batch-0001.csv").status_code == 404
        stager.retire(url)
        assert httpx.get(url).status_code == 404


def test_directory_stager_writes_under_base_url(batch: Path, tmp_path: Path) -> None:
    config = StagingConfig(
        backend="directory", path="public", base_url="https://files.example.com/in/"
    )
    stager = open_stager(config, config_dir=tmp_path)
    url = stager.publish(batch)
    name = url.removeprefix("https://files.example.com/in/")
    assert (tmp_path / "public" / name).read_text() == "email\na@example.com\n"
    assert [p.name for p in (tmp_path / "public").iterdir()] == [name]  # no temp file left
    stager.retire(url)
    assert list((tmp_path / "public").iterdir()) == []


def test_directory_stager_needs_path_and_base_url(tmp_path: Path) -> None:
    with pytest.raises(StagingError, match="needs both 'path' and 'base_url'"):
        open_stager(StagingConfig(backend="directory"), config_dir=tmp_path)


def test_s3_stager_presigned_url_against_a_real_s3_server(
    batch: Path, tmp_path: Path, empty_s3: str
) -> None:
    import boto3

    client = boto3.client("s3", region_name="us-east-1", endpoint_url=empty_s3)
    client.create_bucket(Bucket="imports")
    config = StagingConfig(
        backend="s3",
        bucket="imports",
        prefix="batches/",
        region="us-east-1",
        endpoint_url=empty_s3,
        url_expiry_seconds=600,
    )
    stager = open_stager(config, config_dir=tmp_path)
    url = stager.publish(batch)
    assert "X-Amz-Signature=" in url or "Signature=" in url
    assert httpx.get(url).text == "email\na@example.com\n"  # what a vendor would fetch
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="imports")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("batches/") and keys[0].endswith(".csv")
    stager.retire(url)
    assert client.list_objects_v2(Bucket="imports").get("KeyCount") == 0
