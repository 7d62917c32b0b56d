"""The Lambda functions' code (approval, smoke test) as one deterministic zip, named by its
content.

Same sources, same bytes: entries sorted, fixed timestamps and permissions, only `.py` files
(no caches, no editor leftovers). The S3 key carries the content hash, so an unchanged
function uploads nothing new and CloudFormation sees no change; a changed one gets a new key,
which is what makes CloudFormation update the function's code.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.contracts import FUNCTION_PACKAGES
from core.settings import Settings, package_dir

#: The modules of core/ the functions import (standard library only), zipped beside them.
SHARED_MODULES = ("__init__.py", "contracts.py", "function_clients.py")
#: The zip's name in the code bucket, before its content hash.
BUNDLE_NAME = "functions"
#: Zip's earliest representable time; any fixed value would do.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


@dataclass(frozen=True)
class Bundle:
    """The zip's bytes and where they belong in the code bucket."""

    data: bytes
    sha256: str

    def key(self, settings: Settings) -> str:
        return settings.prefix("deploy", f"{BUNDLE_NAME}-{self.sha256[:20]}.zip")


def build_bundle(packages: tuple[str, ...] = FUNCTION_PACKAGES) -> Bundle:
    """Zip what runs in Lambda: each function package's .py files at the zip's root (so the
    handler paths resolve), and the shared modules under `core/`."""
    entries: list[tuple[str, Path]] = []
    for package in packages:
        source = package_dir(package)
        files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
        if not any(p.name == "__init__.py" for p in files):
            raise FileNotFoundError(f"{source}: no __init__.py, not the {package} package")
        entries += [((Path(package) / p.relative_to(source)).as_posix(), p) for p in files]
    core = package_dir("core")
    entries += [(f"core/{name}", core / name) for name in SHARED_MODULES]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return Bundle(data, hashlib.sha256(data).hexdigest())
