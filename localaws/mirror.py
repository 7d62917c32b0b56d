"""Local copies of objects this process put into the local S3.

The local S3 lives in this process, so an object uploaded from a file and read back a step
later costs two transfers through HTTP for nothing. The mirror remembers where each uploaded
object came from; reading it back is then a file copy. S3 stays the truth: a copy is used only
while the object's ETag is the one recorded at upload and the source file is unchanged.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig

#: In-process downloads: threads and ranged parts only add overhead against a local server.
LOCAL_TRANSFER = TransferConfig(use_threads=False, multipart_threshold=1 << 40)


@dataclass(frozen=True)
class _Source:
    etag: str
    path: Path
    size: int
    mtime_ns: int


class ObjectMirror:
    """(bucket, key) -> the file an object was uploaded from, while both are unchanged."""

    def __init__(self) -> None:
        self._sources: dict[tuple[str, str], _Source] = {}
        self._lock = threading.Lock()

    def upload(self, s3: Any, path: Path, bucket: str, key: str) -> None:
        """Upload a file in one request and remember it as the object's source."""
        stat = path.stat()
        with path.open("rb") as body:
            etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
        with self._lock:
            self._sources[(bucket, key)] = _Source(etag, path, stat.st_size, stat.st_mtime_ns)

    def download(self, s3: Any, bucket: str, key: str, etag: str, target: Path) -> None:
        """Copy from the remembered source when it still matches, else download."""
        with self._lock:
            source = self._sources.get((bucket, key))
        if source is not None and source.etag == etag:
            try:
                stat = source.path.stat()
                if (stat.st_size, stat.st_mtime_ns) == (source.size, source.mtime_ns):
                    shutil.copyfile(source.path, target)
                    return
            except OSError:
                pass
        s3.download_file(bucket, key, os.fspath(target), Config=LOCAL_TRANSFER)

    def clear(self) -> None:
        with self._lock:
            self._sources.clear()


#: The process's mirror; the local AWS clears it when it stops.
MIRROR = ObjectMirror()
