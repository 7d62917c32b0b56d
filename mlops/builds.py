"""The two generated artifacts, and a cache of them.

- the pipeline definition JSON, exactly as SageMaker receives it (pipelines/);
- the state machine's ASL, with `${Placeholder}`s for DefinitionSubstitutions (workflow/).

Building either needs the sagemaker SDK, whose import alone takes seconds. Builds are
byte-identical for the same inputs, so they are cached under a hash of everything they depend
on (the pipeline, workflow and script sources, the settings, the SDK versions, the account)
together with the code objects the definition refers to; a cache hit re-uploads those objects
and skips the SDK entirely.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from clients.s3 import ensure_bucket
from clients.session import Target
from core.files import owner_tag, remove_stale, write_atomic
from core.settings import SCRIPTS_DIR, Settings, package_dir

#: The sources a build depends on, by the name their files are hashed under; found where the
#: code runs from, a checkout or an installed copy.
BUILD_INPUTS = {
    "pipelines": package_dir("pipelines"),
    "workflow": package_dir("workflow"),
    "scripts": SCRIPTS_DIR,
    "core": package_dir("core"),
}
_SDKS = ("sagemaker", "stepfunctions")
DEFINITION_FILE = "definition.json"
ASL_FILE = "state_machine.asl.json"


@dataclass(frozen=True)
class Build:
    """The generated artifacts of one deployment."""

    definition: str
    asl: str


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlops" / "definitions"


def remove_stale_builds(cache_dir: Path) -> list[Path]:
    """Remove what killed processes left half-stored in the cache (their `.partial` folders)."""
    return remove_stale(cache_dir)


def build_definition(settings: Settings, target: Target) -> str:
    """Render the definition; uploads the step code to the target's bucket on the way."""
    from pipelines import build_pipeline
    from pipelines.session import pipeline_session

    session = pipeline_session(settings, target.session, target.account_id)
    return build_pipeline(settings, session).definition()


def build_asl(settings: Settings) -> str:
    """The state machine's ASL; needs no AWS access."""
    import workflow

    return workflow.asl(settings)


def cached_build(settings: Settings, target: Target, cache_dir: Path) -> Build:
    """Both artifacts from the build cache (code re-uploaded), or fresh builds stored there."""
    bucket = settings.bucket_for(target.account_id)
    entry = cache_dir / build_key(settings, target.account_id)
    s3 = target.client("s3")
    if (entry / ASL_FILE).is_file():
        ensure_bucket(s3, bucket, target.region)
        for uri, name in json.loads((entry / "objects.json").read_text()).items():
            key = uri.removeprefix(f"s3://{bucket}/")
            s3.put_object(Bucket=bucket, Key=key, Body=(entry / name).read_bytes())
        return Build((entry / DEFINITION_FILE).read_text(), (entry / ASL_FILE).read_text())
    build = Build(build_definition(settings, target), build_asl(settings))
    _store(entry, build, code_uris(build.definition, settings, bucket), s3, bucket)
    return build


def code_uris(definition: str, settings: Settings, bucket: str) -> list[str]:
    """The S3 objects of step code that a definition refers to."""
    pattern = re.escape(f"s3://{bucket}/{settings.prefix('code')}/") + r'[^"\\\s]+'
    return sorted(set(re.findall(pattern, definition)))


def build_key(settings: Settings, account_id: str) -> str:
    """A hash of every input of a build."""
    digest = hashlib.sha256()
    for part in (repr(settings), account_id, *(metadata.version(sdk) for sdk in _SDKS)):
        digest.update(part.encode() + b"\0")
    for name, root in BUILD_INPUTS.items():
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{name}/{path.relative_to(root).as_posix()}".encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def _store(entry: Path, build: Build, uris: list[str], s3, bucket: str) -> None:
    """Assemble the entry in this process's own staging folder, then rename it into place.

    The cache only saves time, so a cache that cannot be written (full disk, read-only home)
    leaves this build uncached rather than failing the run. An interrupted store removes its
    folder; one killed outright leaves it to the next run (`remove_stale_builds`), since the
    folder's name says which process owned it. A rename that fails because another run stored
    the same build first is fine too.
    """
    staging = entry.with_name(f"{entry.name}.{owner_tag()}.partial")
    try:
        staging.mkdir(parents=True, exist_ok=True)
        objects = {}
        for index, uri in enumerate(uris):
            name = f"object-{index}"
            body = s3.get_object(Bucket=bucket, Key=uri.removeprefix(f"s3://{bucket}/"))["Body"]
            write_atomic(staging / name, body.read())
            objects[uri] = name
        write_atomic(staging / "objects.json", json.dumps(objects, indent=1))
        write_atomic(staging / DEFINITION_FILE, build.definition)
        write_atomic(staging / ASL_FILE, build.asl)
        staging.rename(entry)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not isinstance(exc, OSError):
            raise
