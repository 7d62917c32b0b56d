"""The pipeline definition JSON exactly as SageMaker receives it, and a cache of builds.

Rendering needs the sagemaker SDK, whose import alone takes seconds. Builds are byte-identical
for the same inputs, so a build is cached under a hash of everything it depends on (the
pipeline and script sources, the settings, the SDK version, the account) together with the
code objects it uploaded; a cache hit re-uploads those objects and skips the SDK entirely.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from importlib import metadata
from pathlib import Path

from mlops.aws import Target
from mlops.files import write_atomic
from mlops.settings import PROJECT_ROOT, SCRIPTS_DIR, Settings

BUILD_INPUTS = (PROJECT_ROOT / "pipelines", SCRIPTS_DIR, PROJECT_ROOT / "mlops" / "settings.py")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlops" / "definitions"


def build_definition(settings: Settings, target: Target) -> str:
    """Render the definition; uploads the step code to the target's bucket on the way."""
    from pipelines import build_pipeline
    from pipelines.session import pipeline_session

    session = pipeline_session(settings, target.session, target.account_id)
    return build_pipeline(settings, session).definition()


def cached_definition(settings: Settings, target: Target, cache_dir: Path) -> str:
    """The definition from the build cache (code re-uploaded), or a fresh build stored there."""
    bucket = settings.bucket_for(target.account_id)
    entry = cache_dir / build_key(settings, target.account_id)
    s3 = target.client("s3")
    if (entry / "definition.json").is_file():
        _ensure_bucket(s3, bucket, target.region)
        for uri, name in json.loads((entry / "objects.json").read_text()).items():
            key = uri.removeprefix(f"s3://{bucket}/")
            s3.put_object(Bucket=bucket, Key=key, Body=(entry / name).read_bytes())
        return (entry / "definition.json").read_text()
    text = build_definition(settings, target)
    _store(entry, text, code_uris(text, settings, bucket), s3, bucket)
    return text


def code_uris(definition: str, settings: Settings, bucket: str) -> list[str]:
    """The S3 objects of step code that a definition refers to."""
    pattern = re.escape(f"s3://{bucket}/{settings.prefix('code')}/") + r'[^"\\\s]+'
    return sorted(set(re.findall(pattern, definition)))


def build_key(settings: Settings, account_id: str) -> str:
    """A hash of every input of a build."""
    digest = hashlib.sha256()
    for part in (repr(settings), account_id, metadata.version("sagemaker")):
        digest.update(part.encode() + b"\0")
    for root in BUILD_INPUTS:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def _store(entry: Path, text: str, uris: list[str], s3, bucket: str) -> None:
    staging = entry.with_name(entry.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    objects = {}
    for index, uri in enumerate(uris):
        name = f"object-{index}"
        body = s3.get_object(Bucket=bucket, Key=uri.removeprefix(f"s3://{bucket}/"))["Body"]
        write_atomic(staging / name, body.read())
        objects[uri] = name
    write_atomic(staging / "objects.json", json.dumps(objects, indent=1))
    write_atomic(staging / "definition.json", text)
    try:
        staging.rename(entry)
    except OSError:  # another run stored the same build first
        shutil.rmtree(staging, ignore_errors=True)


def _ensure_bucket(s3, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        options = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **options)
