"""tar.gz in and out: the training code arrives as one, the model leaves as one."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from localaws.executor.errors import StepFailed


def extract(archive: Path, destination: Path) -> None:
    """Extract regular files and folders only; refuse absolute paths, '..', links, devices."""
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                name = PurePosixPath(member.name)
                unsafe = (
                    name.is_absolute()
                    or member.name.startswith("\\")
                    or ".." in name.parts
                    or not (member.isfile() or member.isdir())
                )
                target = (destination / member.name).resolve()
                if unsafe or not target.is_relative_to(root):
                    raise StepFailed(f"{archive.name}: refusing unsafe member {member.name!r}")
            for member in members:
                target = destination / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise StepFailed(f"{archive.name}: cannot read member {member.name!r}")
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                target.chmod(0o644 | (member.mode & 0o111))
    except (tarfile.TarError, OSError) as exc:
        raise StepFailed(f"{archive.name}: not a readable tar archive ({exc})") from None


def pack(source: Path, archive: Path) -> Path:
    """source's contents as archive (gzip), files at the archive root, in a stable order."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
    return archive
