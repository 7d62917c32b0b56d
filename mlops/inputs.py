"""`--input NAME=PATH`: a local file or folder, uploaded to the local S3 for a pipeline parameter.

A pipeline reads its data from S3 through a String parameter (the seed code's `InputDataUrl`);
locally the data is on disk. Each input is uploaded under a content-addressed key that keeps
the file's base name (a folder keeps its name and the relative paths of its files), so new
data never hits a stale step cache and a script that looks for `abalone.csv` finds it; the
parameter is set to the object's URI, or to the folder's prefix (ending in `/`, as
ProcessingInput and TrainingInput take an S3Prefix).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import UsageError


class Uploader(Protocol):
    def upload(self, path: Path, bucket: str, key: str) -> None: ...


@dataclass(frozen=True)
class Input:
    """One --input: the parameter it sets and the local file or folder it names."""

    name: str
    path: Path


def parse_inputs(pairs: Iterable[str]) -> list[Input]:
    """`NAME=PATH` pairs, each naming a readable file or folder; checked before anything runs."""
    inputs: dict[str, Input] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name or not raw:
            raise UsageError(f"--input {pair!r}: expected NAME=PATH")
        if name in inputs:
            raise UsageError(f"--input {name}: given twice")
        path = Path(raw).expanduser()
        if not path.exists():
            raise UsageError(f"--input {name}={raw}: no such file or folder")
        if not os.access(path, os.R_OK) or (path.is_dir() and not _files(path)):
            what = "an empty folder" if path.is_dir() else "not readable"
            raise UsageError(f"--input {name}={raw}: {what}")
        inputs[name] = Input(name, path)
    return list(inputs.values())


def check_inputs(
    inputs: Iterable[Input], definition: Mapping[str, Any], params: Mapping[str, str]
) -> None:
    """Each input names a String parameter of the pipeline that no --param also sets."""
    declared = {p["Name"]: p.get("Type") for p in definition.get("Parameters", [])}
    for item in inputs:
        if item.name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(
                f"--input {item.name}: not a parameter of the pipeline; its parameters: {known}"
            )
        if declared[item.name] != "String":
            raise UsageError(
                f"--input {item.name}: the parameter is {declared[item.name]}; an S3 URI "
                "needs a String parameter"
            )
        if item.name in params:
            raise UsageError(f"--input {item.name}: also set by --param {item.name}")


def upload_inputs(
    inputs: Iterable[Input], uploader: Uploader, bucket: str, prefix: str
) -> dict[str, str]:
    """Upload each input under `<prefix>/<content hash>/<base name>`; parameter -> S3 URI."""
    values = {}
    for item in inputs:
        files = _files(item.path) if item.path.is_dir() else [item.path]
        base = item.path if item.path.is_dir() else item.path.parent
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(base).as_posix().encode() + b"\0")
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        root = f"{prefix}/{digest.hexdigest()[:16]}/{item.path.resolve().name}"
        for path in files:
            key = root if not item.path.is_dir() else f"{root}/{path.relative_to(base).as_posix()}"
            uploader.upload(path, bucket, key)
        values[item.name] = f"s3://{bucket}/{root}" + ("/" if item.path.is_dir() else "")
    return values


def _files(folder: Path) -> list[Path]:
    """The files under a folder, sorted, hidden ones included (a data set may have them)."""
    return sorted(p for p in folder.rglob("*") if p.is_file())
