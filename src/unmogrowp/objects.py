"""One object read from a path, a ``file://`` URI or an ``s3://`` URI (small files: tenants, labels)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse


def s3_client(storage_options: Mapping[str, str] | None = None):
    """A boto3 S3 client for delta-rs-style options (endpoint, region, keys); unset ones: boto3's chain."""
    import boto3

    opts = storage_options or {}
    return boto3.client("s3", endpoint_url=opts.get("aws_endpoint_url") or None,
                        region_name=opts.get("aws_region") or None,
                        aws_access_key_id=opts.get("aws_access_key_id") or None,
                        aws_secret_access_key=opts.get("aws_secret_access_key") or None,
                        aws_session_token=opts.get("aws_session_token") or None)


def read_object(uri: str, storage_options: Mapping[str, str] | None = None) -> bytes | None:
    """The bytes at ``uri``, or None when there is no object there; S3 through boto3 with the
    endpoint and region of ``storage_options`` (delta-rs names) and boto3's own credential chain
    (AWS_* variables, the pod's IAM role) unless they hold keys."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        from botocore.exceptions import ClientError

        try:
            obj = s3_client(storage_options).get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
            return obj["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri}: expected a path, file:// or s3:// URI")
    path = Path(parsed.path if parsed.scheme == "file" else uri)
    return path.read_bytes() if path.is_file() else None
