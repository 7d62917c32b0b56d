"""File writes that never leave a half-written artifact behind, and cleanup of those that did.

Staging folders carry the id of the process writing them (`<name>.pid<N>.partial`,
`.work-pid<N>-<random>`): a process killed outright (SIGKILL, power loss) cannot remove its
own, so the next run removes those whose process is gone and leaves the others, which belong
to runs still going.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

#: A staging folder's name, with the id of the process that owns it.
_STAGING = re.compile(r".+\.pid(?P<partial>\d+)\.partial|\.work-pid(?P<work>\d+)-.*")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def owner_tag() -> str:
    """`pid<N>` for this process: put it in a staging folder's name (see `remove_stale`)."""
    return f"pid{os.getpid()}"


def staging_owner(name: str) -> int | None:
    """The process id in a staging folder's name, or None for any other name."""
    found = _STAGING.fullmatch(name)
    if found is None:
        return None
    return int(found["partial"] or found["work"])


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if os.name == "nt":  # os.kill would terminate it there: never call anything dead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OverflowError:  # no such pid can exist
        return False
    return True


def remove_stale(directory: Path) -> list[Path]:
    """Remove the staging folders in `directory` whose process has ended; returns them.

    Call it before creating this process's own: a folder tagged with this process's id is
    then stale too (a process runs one job at a time, and the id may be a dead one reused).
    Ids are per machine: a folder shared across machines is not for this cleanup.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:  # missing or unreadable: nothing this cleanup can do
        return removed
    for entry in entries:
        pid = staging_owner(entry.name)
        if pid is None or (pid != os.getpid() and process_alive(pid)):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        removed.append(Path(entry.path))
    return removed
