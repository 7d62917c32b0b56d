"""Moving a job's data between S3 and its work folder, as SageMaker's File mode does.

An S3Prefix input is every object whose key starts with the prefix; each lands at its key
relative to the prefix, so `s3://b/data/x.csv` (a file key) arrives as `x.csv` and
`s3://b/out/train` (a folder) arrives as its files.

Every function takes the account's `Objects`: its S3 client for listing and reading, and its
mirror for moving bytes without HTTP copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from localaws.executor.errors import StepFailed
from localaws.mirror import ObjectMirror


@dataclass(frozen=True)
class Objects:
    """One account's S3 as the executor uses it: a client and the account's mirror."""

    s3: Any
    mirror: ObjectMirror


def split_uri(uri: str) -> tuple[str, str]:
    """("bucket", "key") of an s3:// URI."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise StepFailed(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StepFailed(f"{uri!r} names no bucket")
    return bucket, key


def list_objects(objects: Objects, uri: str) -> Iterator[dict[str, Any]]:
    """Every object (Key, ETag, Size) under an S3 prefix."""
    bucket, prefix = split_uri(uri)
    for page in objects.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def relative_key(key: str, prefix: str) -> str:
    """Where an object under `prefix` goes, relative to the destination folder."""
    rest = key[len(prefix) :]
    if not rest:
        return PurePosixPath(key).name
    if rest.startswith("/") or prefix.endswith("/"):
        return rest.lstrip("/")
    # The prefix ends inside a name (data/abal -> data/abalone.csv): keep the whole name.
    return key[len(prefix.rsplit("/", 1)[0]) + 1 :] if "/" in prefix else key


def safe_join(root: Path, relative: str) -> Path:
    """root/relative, refusing absolute paths and '..' that would leave `root`."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise StepFailed(f"refusing to write {relative!r} outside {root}")
    return root.joinpath(*parts)


def download(objects: Objects, uri: str, destination: Path) -> list[Path]:
    """Download every object under `uri` into `destination`; fail if there is none."""
    bucket, prefix = split_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for item in list_objects(objects, uri):
        if item["Key"].endswith("/"):  # a folder marker
            continue
        target = safe_join(destination, relative_key(item["Key"], prefix))
        target.parent.mkdir(parents=True, exist_ok=True)
        objects.mirror.download(objects.s3, bucket, item["Key"], item["ETag"], target)
        written.append(target)
    if not written:
        raise StepFailed(f"no S3 objects found under {uri}")
    return written


def upload_tree(objects: Objects, source: Path, uri: str, skip_existing: bool = False) -> int:
    """Upload every file under `source` to `uri`/<relative path>; returns the count."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    existing = (
        {item["Key"] for item in list_objects(objects, f"s3://{bucket}/{prefix}/")}
        if skip_existing
        else set()
    )
    count = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = "/".join(filter(None, (prefix, path.relative_to(source).as_posix())))
        if key not in existing:
            objects.mirror.upload(path, bucket, key)
        count += 1
    return count


def upload_file(objects: Objects, source: Path, uri: str, skip_existing: bool = False) -> None:
    """Upload one file to an exact S3 URI."""
    bucket, key = split_uri(uri)
    if skip_existing and any(item["Key"] == key for item in list_objects(objects, uri)):
        return
    objects.mirror.upload(source, bucket, key)


def read_json_object(objects: Objects, uri: str) -> Any:
    """The JSON document stored at `uri`."""
    bucket, key = split_uri(uri)
    try:
        body = objects.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    except ValueError as exc:
        raise StepFailed(f"{uri}: not valid JSON ({exc})") from None
