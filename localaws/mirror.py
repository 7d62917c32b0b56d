"""Files into and out of the local S3 without HTTP where this process can avoid it.

The local S3 lives in this process. An upload puts the file's bytes straight into moto's S3
store, the one every S3 request reads (moto's HTTP layer would add a few copies of the bytes:
about 0.1 s per 50 MB), and the mirror remembers which file each object came from, so reading
the object back a step later is a file copy. S3 stays the truth: a copy is used only while the
object's ETag is the one recorded at upload and the source file is unchanged.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

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

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self._sources: dict[tuple[str, str], _Source] = {}
        self._lock = threading.Lock()

    def upload(self, path: Path, bucket: str, key: str) -> None:
        """Store a file as an object, as PutObject would, and remember it as the source."""
        stat = path.stat()
        etag = _put_object(self.account_id, bucket, key, path.read_bytes())
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


def _put_object(account_id: str, bucket: str, key: str, body: bytes) -> str:
    """PutObject into the local S3 store; returns the ETag. Errors are S3's ClientErrors."""
    from moto.core.exceptions import ServiceException
    from moto.s3.models import s3_backends

    try:
        return s3_backends[account_id]["aws"].put_object(bucket, key, body).etag
    except ServiceException as exc:
        error = {"Error": {"Code": exc.code, "Message": exc.message}}
        raise ClientError(error, "PutObject") from None
