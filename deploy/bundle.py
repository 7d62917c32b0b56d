"""The approval Lambda's code as a deterministic zip, named by its content.

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

from core.contracts import LAMBDA_PACKAGE
from core.settings import Settings, package_dir

#: The Lambda handler's package; the zip holds it at its root so the handler path resolves.
APPROVAL_PACKAGE = LAMBDA_PACKAGE
APPROVAL_DIR = package_dir(APPROVAL_PACKAGE)
#: The modules of core/ the function imports (standard library only), zipped beside it.
SHARED_MODULES = ("__init__.py", "contracts.py")
#: Zip's earliest representable time; any fixed value would do.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16


@dataclass(frozen=True)
class Bundle:
    """The zip's bytes and where they belong in the code bucket."""

    data: bytes
    sha256: str

    def key(self, settings: Settings) -> str:
        return settings.prefix("deploy", f"{APPROVAL_PACKAGE}-{self.sha256[:20]}.zip")


def build_bundle(source: Path = APPROVAL_DIR) -> Bundle:
    """Zip what runs in Lambda: the package's .py files under `approval/`, and the shared
    contracts under `core/`."""
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    if not any(p.name == "__init__.py" for p in files):
        raise FileNotFoundError(f"{source}: no __init__.py, not the approval package")
    entries = [((Path(APPROVAL_PACKAGE) / p.relative_to(source)).as_posix(), p) for p in files]
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
