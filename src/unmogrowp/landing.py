"""The landing zone: list, read and write landing files in a local directory or on S3.

Layout (SPEC §1): ``events/app_id=<app>/dt=<YYYY-MM-DD>/hr=<HH>/<batch>.json.gz`` and
``cost/media_source=<network>/dt=<YYYY-MM-DD>/<pulled_at>.json.gz`` under the landing root.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_EVENT_KEY = re.compile(r"^events/app_id=([^/]+)/dt=(\d{4}-\d{2}-\d{2})/hr=(\d{2})/([^/]+)$")
_COST_KEY = re.compile(r"^cost/media_source=([^/]+)/dt=(\d{4}-\d{2}-\d{2})/([^/]+)$")


@dataclass(frozen=True)
class LandingFile:
    key: str  # relative to the landing root
    size: int
    modified: float  # seconds since the epoch

    @property
    def kind(self) -> str:
        return self.key.split("/", 1)[0]

    def _match(self, pattern: re.Pattern, what: str) -> re.Match:
        m = pattern.match(self.key)
        if not m:
            raise ValueError(f"not {what} key: {self.key}")
        return m

    @property
    def event_hour(self) -> datetime:
        """The landing hour of an event batch (the partition it belongs to)."""
        m = self._match(_EVENT_KEY, "an event batch")
        return datetime.fromisoformat(f"{m.group(2)}T{m.group(3)}:00:00").replace(tzinfo=UTC)

    @property
    def app_id(self) -> str:
        return self._match(_EVENT_KEY, "an event batch").group(1)

    @property
    def cost_date(self) -> date:
        return date.fromisoformat(self._match(_COST_KEY, "a cost report").group(2))

    @property
    def media_source(self) -> str:
        return self._match(_COST_KEY, "a cost report").group(1)


def event_key(app_id: str, hour: datetime, batch_id: str) -> str:
    return f"events/app_id={app_id}/dt={hour:%Y-%m-%d}/hr={hour:%H}/{batch_id}.json.gz"


def cost_key(media_source: str, day: date, pulled_at: datetime) -> str:
    return f"cost/media_source={media_source}/dt={day:%Y-%m-%d}/{pulled_at:%Y%m%dT%H%M%SZ}.json.gz"


def is_event_key(key: str) -> bool:
    return bool(_EVENT_KEY.match(key))


def is_cost_key(key: str) -> bool:
    return bool(_COST_KEY.match(key))


class LandingStore:
    """Landing files under a root URI: ``file:///…``, a plain path, or ``s3://bucket/prefix``."""

    def __init__(self, root_uri: str):
        self.root_uri = root_uri.rstrip("/")
        parsed = urlparse(self.root_uri)
        self.is_s3 = parsed.scheme == "s3"
        if self.is_s3:
            import boto3

            self.bucket, self.prefix = parsed.netloc, parsed.path.lstrip("/")
            self._s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        else:
            self.path = Path(parsed.path if parsed.scheme == "file" else self.root_uri)

    def _s3_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list(self, prefix: str = "") -> list[LandingFile]:
        """Every file under ``prefix`` (relative), sorted by key."""
        out: list[LandingFile] = []
        if self.is_s3:
            paginator = self._s3.get_paginator("list_objects_v2")
            base = self._s3_key("")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._s3_key(prefix)):
                for obj in page.get("Contents", []):
                    out.append(LandingFile(obj["Key"][len(base):], obj["Size"],
                                           obj["LastModified"].timestamp()))
        else:
            root = self.path / prefix
            if root.exists():
                for p in root.rglob("*"):
                    if p.is_file() and not p.name.startswith("."):
                        st = p.stat()
                        out.append(LandingFile(p.relative_to(self.path).as_posix(), st.st_size, st.st_mtime))
        return sorted(out, key=lambda f: f.key)

    def read_bytes(self, key: str) -> bytes:
        if self.is_s3:
            return self._s3.get_object(Bucket=self.bucket, Key=self._s3_key(key))["Body"].read()
        return (self.path / key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        if self.is_s3:
            self._s3.put_object(Bucket=self.bucket, Key=self._s3_key(key), Body=data)
            return
        target = self.path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")  # atomic: readers never see half a file
        tmp.write_bytes(data)
        tmp.replace(target)


@dataclass(frozen=True)
class DecodedFile:
    text: bytes  # the decompressed content that could be read
    last_line_error: str | None  # reason for the final line when the file was cut short
    file_error: str | None  # "not_gzip" / "truncated_gzip" / "corrupt_gzip"

    @property
    def lines(self) -> list[bytes]:
        if self.file_error == "not_gzip":
            return [self.text] if self.text else []
        lines = self.text.split(b"\n")
        if not lines[-1]:
            lines.pop()  # the empty string after the final newline
        return lines

    def line_array(self) -> pa.LargeBinaryArray:
        """The lines as one Arrow array, split without a Python object per line."""
        if self.file_error == "not_gzip" or not self.text:
            return pa.array(self.lines, pa.large_binary())
        buf = self.text if self.text.endswith(b"\n") else self.text + b"\n"
        ends = np.flatnonzero(np.frombuffer(buf, np.uint8) == 0x0A) + 1
        offsets = np.concatenate([[0], ends]).astype(np.int64)
        with_newline = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
        return pc.binary_slice(with_newline, 0, -1)


def decode_ndjson_gz(data: bytes) -> DecodedFile:
    """Decompress a gzip NDJSON batch, keeping whatever a damaged file still holds.

    Not gzip: the whole content is one line with ``not_gzip``. Truncated or corrupt gzip: the
    complete lines that decompressed are kept and a final partial line is flagged.
    """
    if data[:2] != b"\x1f\x8b":
        return DecodedFile(data, "not_gzip" if data else None, "not_gzip")
    parts: list[bytes] = []
    error = None
    rest = data
    while rest:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            parts.append(d.decompress(rest))
            parts.append(d.flush())
        except zlib.error:
            error = "corrupt_gzip"
            break
        if not d.eof:
            error = "truncated_gzip"
            break
        rest = d.unused_data
        if rest[:2] != b"\x1f\x8b":  # trailing garbage after the last member
            if rest.strip(b"\x00"):
                error = "corrupt_gzip"
            break
    text = b"".join(parts)
    complete = text.endswith(b"\n") or not text
    return DecodedFile(text, None if complete or error is None else error, error)
