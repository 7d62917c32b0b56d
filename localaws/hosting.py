"""Hosted models: a model archive loaded once, as its container loads it, then kept.

A real endpoint loads its model when an instance starts and answers every request from memory.
The local stand-in does the same: `load_archive` extracts a `model.tar.gz` into a private
folder and loads it with `localaws.serving` (the container's contract); the result is cached
by what defines a served model (image, environment and the archive's identity: its S3 ETag or
its file's size and modification time), so only the first call pays for loading. The local
endpoints make that call while Creating (localaws.deployments, through
`localaws.runtime_seam.provision`), so `InvokeEndpoint` finds the model loaded; `mlops predict`
and `mlops serve` load it on their first request.
"""

from __future__ import annotations

import io
import sys
import tarfile
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from localaws import serving

#: Models kept loaded at once; the least recently used one is dropped beyond this.
MAX_MODELS = 16

_CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]
#: A model or code archive: its bytes, a function that reads them, or a file.
Source = bytes | Path | Callable[[], bytes] | None


class _Worker:
    """A loaded model answering with XGBoost on one thread per request.

    XGBoost builds each request's DMatrix with OpenMP on every core by default; on a small
    machine shared with the HTTP server's threads that costs 5 to 30 ms per request, more than
    the prediction. XGBoost's global configuration is per thread, so each call sets `nthread`
    1 for its own thread only (the loaded Booster already predicts with one: serving.py).
    """

    def __init__(self, served: serving.Served) -> None:
        self.served = served

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> serving.Response:
        xgb = sys.modules.get("xgboost")
        if xgb is None:
            return self.served.invoke(body, content_type, accept)
        with xgb.config_context(nthread=1):
            return self.served.invoke(body, content_type, accept)


class _Hosted:
    """One loaded model and the folder its archive was extracted to (kept while it serves)."""

    def __init__(self, served: _Worker, folder: tempfile.TemporaryDirectory[str]) -> None:
        self.served = served
        self.folder = folder

    def close(self) -> None:
        self.folder.cleanup()


_CACHE: OrderedDict[_CacheKey, _Hosted] = OrderedDict()
_LOCK = threading.Lock()
#: One lock per key being loaded, so concurrent first requests load a model once.
_LOADING: dict[_CacheKey, threading.Lock] = {}


def extract(archive: bytes | Path, destination: Path) -> None:
    """Extract a model archive (tar, gzip or not) with tarfile's `data` filter.

    The filter refuses absolute paths, `..`, links leaving the folder and device files, as
    SageMaker's own extraction of model data does not let an archive escape /opt/ml/model.
    """
    try:
        if isinstance(archive, Path):
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(destination, filter="data")
        else:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
                tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        message = f"model data is not a readable tar archive: {exc}"
        raise serving.ServingError(500, message) from None


def load_archive(
    archive: Source,
    identity: str,
    image: str | None,
    environment: Mapping[str, str],
    code: Source = None,
) -> serving.Served:
    """The model in `archive` served as `image` serves it; loaded on first use, then cached.

    `identity` names the content (an S3 URI and ETag, a path and its mtime): calls with the
    same identity, image and environment share one loaded model, and `archive` (bytes, or a
    function returning them, or a file) is only read on the first. None is a model without
    model data. `code` is a source archive extracted into the model's `code/`, where the
    inference toolkit imports SAGEMAKER_PROGRAM from (SAGEMAKER_SUBMIT_DIRECTORY on S3).
    Raises serving.ServingError when the model cannot be loaded (status 500).
    """
    key: _CacheKey = (
        image or "",
        identity,
        tuple(sorted((str(k), str(v)) for k, v in environment.items())),
    )
    with _LOCK:
        hosted = _CACHE.get(key)
        if hosted is not None:
            _CACHE.move_to_end(key)
            return hosted.served
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:
        with _LOCK:
            hosted = _CACHE.get(key)
            if hosted is not None:
                return hosted.served
        folder = tempfile.TemporaryDirectory(prefix="localaws-model-")
        try:
            model_dir = Path(folder.name)
            for source, target in ((archive, model_dir), (code, model_dir / "code")):
                data = source() if callable(source) else source
                if data is not None:
                    extract(data, target)
            served = _Worker(serving.load(model_dir, image, dict(environment)))
        except BaseException:
            folder.cleanup()
            with _LOCK:
                _LOADING.pop(key, None)
            raise
        with _LOCK:
            _CACHE[key] = _Hosted(served, folder)
            _LOADING.pop(key, None)
            while len(_CACHE) > MAX_MODELS:
                _, dropped = _CACHE.popitem(last=False)
                dropped.close()
        return served


def file_identity(path: Path) -> str:
    """A model archive file's identity for the cache: its path, size and modification time."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def clear() -> None:
    """Drop every loaded model (tests)."""
    with _LOCK:
        for hosted in _CACHE.values():
            hosted.close()
        _CACHE.clear()
