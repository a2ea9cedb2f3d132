"""Batch files uploaded to S3 and handed to the vendor as pre-signed GET URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.staging.base import Stager, StagingError, unguessable_name


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - depends on the installation
        raise StagingError(
            "the s3 staging backend needs boto3: pip install 'audience-reconciler[s3]'"
        ) from None
    return boto3


class S3Stager(Stager):
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "reconciler/",
        region: str | None = None,
        endpoint_url: str | None = None,
        expiry_seconds: int = 3600,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.expiry_seconds = expiry_seconds
        self.client = client or _boto3().client("s3", region_name=region, endpoint_url=endpoint_url)

    def publish(self, path: Path) -> str:
        key = f"{self.prefix}{unguessable_name(path)}"
        try:
            self.client.upload_file(
                str(path), self.bucket, key, ExtraArgs={"ContentType": "text/csv"}
            )
            url: str = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.expiry_seconds,
            )
        except Exception as exc:  # botocore's error tree is wide; name what failed
            raise StagingError(f"cannot stage {path.name} in s3://{self.bucket}: {exc}") from exc
        return url

    def key_of(self, url: str) -> str:
        """The object key inside a pre-signed URL (path-style or virtual-hosted)."""
        path = urlsplit(url).path.lstrip("/")
        if path.startswith(f"{self.bucket}/"):
            path = path[len(self.bucket) + 1 :]
        return path

    def retire(self, url: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key_of(url))
        except Exception as exc:
            raise StagingError(
                f"cannot remove a staged batch from s3://{self.bucket}: {exc}"
            ) from exc
