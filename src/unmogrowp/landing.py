"""The landing zone: list, read and write landing files in a local directory or on S3.

Layout (SPEC §1): ``events/app_id=<app>/dt=<YYYY-MM-DD>/hr=<HH>/<batch>.json.gz`` and
``cost/media_source=<network>/dt=<YYYY-MM-DD>/<pulled_at>.json.gz`` under the landing root. Every
other object under ``events/`` or ``cost/`` is a bad landing key (``key_problem`` names why); the
loaders record it in the quarantine instead of reading it. App ids and networks match ``NAME``.

Size limits: a line over ``MAX_LINE_BYTES`` keeps only its first ``LINE_PREFIX_BYTES`` (and its
size); a file over ``MAX_FILE_BYTES`` (as stored or decompressed) keeps nothing but its size, and so
does a file inflating past ``MAX_COMPRESSION_RATIO`` times its stored size (once past
``RATIO_FLOOR_BYTES``). Decompression streams with a bound, so a gzip bomb never inflates into memory.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_LINE_BYTES = 1 << 20  # 1 MiB; SDK lines are under 1 KB (the generator's longest: 637 bytes)
MAX_FILE_BYTES = 64 << 20  # 64 MiB, as stored and decompressed; generated batches are under 3 MB decompressed
# decompressed / stored: generated NDJSON batches measure 1.4-5.2x (gzip level 6); bombs 200-1000x
MAX_COMPRESSION_RATIO = 200
RATIO_FLOOR_BYTES = 8 << 20  # the ratio is not held against files that inflate to at most this (one step)
COMPRESSION_RATIO = "compression_ratio"
FILE_TOO_LARGE = "file_too_large"
TOO_LARGE = (FILE_TOO_LARGE, COMPRESSION_RATIO)  # file errors that keep nothing but the size
LINE_PREFIX_BYTES = 1024  # what a line over the limit keeps (at most the limit)
_CHUNK = 8 << 20  # decompressed bytes per step
NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"  # app ids and networks: no '.', '..', spaces or newlines
_BATCH = r"[A-Za-z0-9][A-Za-z0-9._:+=-]{0,199}\.json\.gz"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_EVENT_KEY = re.compile(rf"events/app_id=({NAME})/dt=({_DAY})/hr=([01][0-9]|2[0-3])/({_BATCH})")
_COST_KEY = re.compile(rf"cost/media_source=({NAME})/dt=({_DAY})/({_BATCH})")
_LAYOUTS = {"events": (("app_id=", NAME), ("dt=", _DAY), ("hr=", "[01][0-9]|2[0-3]")),
            "cost": (("media_source=", NAME), ("dt=", _DAY))}
BAD_KEY = "bad_landing_key"


class ChangedSinceListing(Exception):
    """An S3 object whose ETag is no longer the one listed (rewritten between listing and read)."""


class LandingObjectError(Exception):
    """A landing object that must not be read (a symlink out of the root, not a regular file)."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class LandingFile:
    key: str  # relative to the landing root
    size: int
    modified: float  # seconds since the epoch
    etag: str | None = None  # S3's ETag (None locally)
    problem: str | None = None  # seen when listing: symlink_outside_root, symlink_dangling, directory, ...

    @property
    def kind(self) -> str:
        return self.key.split("/", 1)[0]

    def _match(self, pattern: re.Pattern, what: str) -> re.Match:
        m = pattern.fullmatch(self.key) if self.problem is None else None
        if not m or _bad_date(m.group(2)):
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

    @property
    def bad_key(self) -> str | None:
        """None for a key of the layout, else ``bad_landing_key:<why>``."""
        why = self.problem or key_problem(self.key)
        return f"{BAD_KEY}:{why}" if why else None

    @property
    def landing_hour(self) -> datetime:
        """The hour any object under ``events/`` is accounted to: the hour its key names (``dt=`` a real
        date and ``hr=`` 00..23), hour 00 when only ``dt=`` is valid, else the hour it was last modified."""
        day, hour = _named(self.key)
        if day is None:
            return datetime.fromtimestamp(self.modified, UTC).replace(minute=0, second=0, microsecond=0)
        return datetime(day.year, day.month, day.day, hour or 0, tzinfo=UTC)

    @property
    def landing_date(self) -> date:
        """The date any object under ``cost/`` is accounted to: its ``dt=`` when a real date, else the
        date it was last modified (UTC)."""
        day, _ = _named(self.key)
        return day if day is not None else datetime.fromtimestamp(self.modified, UTC).date()


def _bad_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return False
    except ValueError:
        return True


def _named(key: str) -> tuple[date | None, int | None]:
    """The date and hour a key names in its dt= / hr= directories, where valid."""
    day = hour = None
    for part in key.split("/")[1:-1]:
        if day is None and part.startswith("dt=") and re.fullmatch(_DAY, part[3:]) and not _bad_date(part[3:]):
            day = date.fromisoformat(part[3:])
        elif hour is None and re.fullmatch(r"hr=([01][0-9]|2[0-3])", part):
            hour = int(part[3:])
    return day, (hour if day is not None else None)


def key_problem(key: str) -> str | None:
    """Why a key under events/ or cost/ is outside the layout (None when it is a batch of the layout):
    hidden, directory, depth, app_id / media_source, date, hour or name."""
    parts = key.split("/")
    layout = _LAYOUTS.get(parts[0])
    if layout is None:
        return "prefix"
    if key.endswith("/"):
        return "directory"
    if any(p.startswith(".") for p in parts) or not all(parts):
        return "hidden"
    if len(parts) != len(layout) + 2:
        return "depth"
    for part, (label, pattern) in zip(parts[1:], layout, strict=False):
        value = part[len(label):]
        if not part.startswith(label) or not re.fullmatch(pattern, value) or (label == "dt=" and _bad_date(value)):
            return {"app_id=": "app_id", "media_source=": "media_source", "dt=": "date", "hr=": "hour"}[label]
    if not re.fullmatch(_BATCH, parts[-1]):
        return "name"
    return None


def event_key(app_id: str, hour: datetime, batch_id: str) -> str:
    return f"events/app_id={app_id}/dt={hour:%Y-%m-%d}/hr={hour:%H}/{batch_id}.json.gz"


def cost_key(media_source: str, day: date, pulled_at: datetime) -> str:
    return f"cost/media_source={media_source}/dt={day:%Y-%m-%d}/{pulled_at:%Y%m%dT%H%M%SZ}.json.gz"


def is_event_key(key: str) -> bool:
    return key.startswith("events/") and key_problem(key) is None


def is_cost_key(key: str) -> bool:
    return key.startswith("cost/") and key_problem(key) is None


class LandingStore:
    """Landing files under a root URI: ``file:///…``, a plain path, or ``s3://bucket/prefix``.

    ``storage_options`` (delta-rs names, :meth:`unmogrowp.config.S3Settings.storage_options`) give
    the S3 endpoint, region and credentials; none: boto3's own defaults. Not a ``pyarrow.fs``
    filesystem: the landing rules need what it cannot express, on S3 each object's ETag (the
    checksum kept per load, and the ``If-Match`` read that detects a rewrite since listing), locally
    the link itself (``lstat``, a symlink out of the root) and a read that cannot block on a FIFO.
    """

    def __init__(self, root_uri: str, storage_options: Mapping[str, str] | None = None):
        self.root_uri = root_uri.rstrip("/")
        parsed = urlparse(self.root_uri)
        self.is_s3 = parsed.scheme == "s3"
        if self.is_s3:
            from unmogrowp.objects import s3_client

            self.bucket, self.prefix = parsed.netloc, parsed.path.lstrip("/")
            self._s3 = s3_client(storage_options)
        else:
            self.path = Path(parsed.path if parsed.scheme == "file" else self.root_uri)

    def _s3_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def list(self, prefix: str = "") -> list[LandingFile]:
        """Every object under ``prefix`` (relative), sorted by key: hidden ones too, and locally
        symlinks (not followed out of the root), special files and directories where a batch file
        belongs, each with its ``problem``."""
        out: list[LandingFile] = []
        if self.is_s3:
            paginator = self._s3.get_paginator("list_objects_v2")
            base = self._s3_key("")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._s3_key(prefix)):
                for obj in page.get("Contents", []):
                    out.append(LandingFile(obj["Key"][len(base):], obj["Size"], obj["LastModified"].timestamp(),
                                           etag=obj.get("ETag", "").strip('"') or None))
        else:
            root = self.path / prefix
            if root.is_dir() and not root.is_symlink():
                self._walk(root, os.path.realpath(self.path), out)
        return sorted(out, key=lambda f: f.key)

    def _walk(self, directory: Path, real_root: str, out: list[LandingFile]) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                key = Path(entry.path).relative_to(self.path).as_posix()
                st = entry.stat(follow_symlinks=False)
                problem = None
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not (target == real_root or target.startswith(real_root + os.sep)):
                        problem = "symlink_outside_root"
                    elif not os.path.exists(target):
                        problem = "symlink_dangling"
                    elif not os.path.isfile(target):
                        problem = "symlink_not_a_file"
                    else:
                        st = os.stat(entry.path)
                elif entry.is_dir(follow_symlinks=False):
                    layout = _LAYOUTS.get(key.split("/", 1)[0])
                    if layout is not None and key.count("/") == len(layout) + 1:  # where a batch file belongs
                        out.append(LandingFile(key + "/", 0, st.st_mtime, problem="directory"))
                    self._walk(Path(entry.path), real_root, out)
                    continue
                elif not stat.S_ISREG(st.st_mode):
                    problem = "not_a_file"
                out.append(LandingFile(key, st.st_size, st.st_mtime, problem=problem))

    def read_bytes(self, key: str, limit: int | None = None, etag: str | None = None) -> bytes:
        """The object's bytes (at most ``limit + 1`` of them). Locally refuses, with
        ``LandingObjectError``, anything that is not a regular file inside the root. An object gone
        since listing raises ``FileNotFoundError`` (S3 too); on S3 with ``etag`` (the listed one) an
        object rewritten since raises ``ChangedSinceListing``."""
        if self.is_s3:
            from botocore.exceptions import ClientError

            args = {"Bucket": self.bucket, "Key": self._s3_key(key), **({"IfMatch": f'"{etag}"'} if etag else {})}
            try:
                body = self._s3.get_object(**args)["Body"]
            except ClientError as e:
                code = str(e.response.get("Error", {}).get("Code", ""))
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                    raise FileNotFoundError(key) from e
                if code in ("PreconditionFailed", "412") or status == 412:
                    raise ChangedSinceListing(key) from e
                raise
            return body.read(limit + 1) if limit is not None else body.read()
        path = self.path / key
        real_root, target = os.path.realpath(self.path), os.path.realpath(path)
        if not target.startswith(real_root + os.sep):
            raise LandingObjectError("symlink_outside_root")
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the load
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise LandingObjectError("not_a_file")
            return fh.read(limit + 1) if limit is not None else fh.read()

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
    text: bytes  # the decompressed content that could be read (lines over the limit cut to a prefix)
    last_line_error: str | None  # reason for the final line when the file was cut short
    file_error: str | None  # "not_gzip" / "truncated_gzip" / "corrupt_gzip" / "file_too_large" / "compression_ratio"
    long_lines: tuple[tuple[int, int], ...] = ()  # (0-based line, its full size) of lines over the limit
    size: int = 0  # decompressed bytes seen (for file_too_large: where reading stopped)
    _ends: np.ndarray | None = None  # end offsets of the lines in text (newline excluded)

    @property
    def lines(self) -> list[bytes]:
        if self.file_error == "not_gzip":
            return [self.text] if self.text else []
        if self._ends is not None and len(self._ends):
            starts = np.concatenate([[0], self._ends[:-1] + 1])
            return [self.text[s:e] for s, e in zip(starts.tolist(), self._ends.tolist(), strict=True)]
        return []

    def line_array(self) -> pa.LargeBinaryArray:
        """The lines as one Arrow array, split without a Python object per line."""
        if self.file_error == "not_gzip" or self._ends is None or not len(self._ends):
            return pa.array(self.lines, pa.large_binary())
        ends = self._ends
        buf = self.text if len(self.text) > ends[-1] else self.text + b"\n"
        offsets = np.concatenate([[0], ends + 1]).astype(np.int64)
        with_newline = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
        return pc.binary_slice(with_newline, 0, -1)


def _line_ends(text: bytes) -> np.ndarray:
    ends = np.flatnonzero(np.frombuffer(text, np.uint8) == 0x0A)
    if text and not text.endswith(b"\n"):
        ends = np.append(ends, len(text))
    return ends


def decode_ndjson_gz(data: bytes, max_line: int = MAX_LINE_BYTES, max_file: int = MAX_FILE_BYTES,
                     max_ratio: float = MAX_COMPRESSION_RATIO) -> DecodedFile:
    """Decompress a gzip NDJSON batch, keeping whatever a damaged file still holds, within the limits.

    Not gzip: the whole content is one line with ``not_gzip``. Truncated or corrupt gzip: the
    complete lines that decompressed are kept and a final partial line is flagged. A line over
    ``max_line`` keeps a prefix; past ``max_file`` decompressed bytes nothing is kept (``file_too_large``),
    nor past ``max_ratio`` times the stored size once over ``RATIO_FLOOR_BYTES`` (``compression_ratio``).
    """
    prefix = min(LINE_PREFIX_BYTES, max_line)
    if len(data) > max_file:
        return DecodedFile(b"", None, FILE_TOO_LARGE, size=len(data))
    max_inflated = max(max_ratio * len(data), RATIO_FLOOR_BYTES)  # past it: compression_ratio
    if data[:2] != b"\x1f\x8b":
        if len(data) > max_line:
            return DecodedFile(data[:prefix], "not_gzip", "not_gzip", ((0, len(data)),), len(data))
        return DecodedFile(data, "not_gzip" if data else None, "not_gzip", size=len(data))
    steps = _inflate(data)
    first = next(steps, b"")
    second = next(steps, None) if isinstance(first, bytes) else None
    if second is None and isinstance(first, bytes) and len(first) <= min(max_file, max_inflated):  # one step
        return _finish(first, [], len(first), None, max_line, prefix)
    parts: list[bytes] = []  # complete lines (each ending with a newline)
    pending: list[bytes] = []  # the line being read
    pending_len = total = counted = lines_before = 0
    skipping = None  # [line index, size] of a line over the limit whose rest is being skipped
    long_lines: list[tuple[int, int]] = []
    error = None
    for chunk in itertools.chain([c for c in (first, second) if c is not None], steps):
        if isinstance(chunk, str):
            error = chunk
            break
        total += len(chunk)
        if total > max_file:
            return DecodedFile(b"", None, FILE_TOO_LARGE, size=total)
        if total > max_inflated:
            return DecodedFile(b"", None, COMPRESSION_RATIO, size=total)
        if skipping is not None:
            nl = chunk.find(b"\n")
            if nl < 0:
                skipping[1] += len(chunk)
                continue
            skipping[1] += nl
            long_lines.append(tuple(skipping))
            parts.append(b"\n")
            skipping, chunk = None, chunk[nl + 1:]
        last = chunk.rfind(b"\n")
        if last < 0:
            pending.append(chunk)
            pending_len += len(chunk)
        else:
            parts.extend(pending)
            parts.append(chunk[:last + 1])
            pending, pending_len = [chunk[last + 1:]], len(chunk) - last - 1
        if pending_len > max_line:  # a line longer than the limit: keep its prefix, skip the rest
            for p in parts[counted:]:
                lines_before += p.count(b"\n")
            counted = len(parts)
            skipping = [lines_before, pending_len]
            parts.append(b"".join(pending)[:prefix])
            pending, pending_len = [], 0
    if skipping is not None:
        long_lines.append(tuple(skipping))
    parts.extend(pending)
    return _finish(b"".join(parts), long_lines, total, error, max_line, prefix)


def _finish(text: bytes, long_lines: list[tuple[int, int]], total: int, error: str | None, max_line: int,
            prefix: int) -> DecodedFile:
    """Cut the lines over the limit that arrived within one step; the file's lines and their ends."""
    ends = _line_ends(text)
    lengths = np.diff(np.concatenate([[-1], ends])) - 1
    over = np.flatnonzero(lengths > max_line)
    if len(over):  # lines over the limit that arrived within one step: cut them too
        pieces, prev = [], 0
        for i in over.tolist():
            start = int(ends[i] - lengths[i])
            pieces.append(text[prev:start + prefix])
            prev = int(ends[i])
            long_lines.append((i, int(lengths[i])))
        pieces.append(text[prev:])
        text = b"".join(pieces)
        ends = _line_ends(text)
    complete = text.endswith(b"\n") or not text
    return DecodedFile(text, None if complete or error is None else error, error,
                       tuple(sorted(long_lines)), total, ends)


def _inflate(data: bytes):
    """The decompressed content of every gzip member in steps of at most ``_CHUNK`` bytes; ends with
    the error's name (a str) when the data is truncated or corrupt."""
    rest = data
    while rest:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        buf = rest
        try:
            while not d.eof:
                out = d.decompress(buf, _CHUNK)
                buf = d.unconsumed_tail
                if out:
                    yield out
                elif not buf:
                    break
        except zlib.error:
            yield "corrupt_gzip"
            return
        if not d.eof:
            yield "truncated_gzip"
            return
        rest = d.unused_data
        if rest[:2] != b"\x1f\x8b":  # trailing garbage after the last member
            if rest.strip(b"\x00"):
                yield "corrupt_gzip"
            return
