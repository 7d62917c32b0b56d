"""Step caching as SageMaker does it, kept in a local folder that outlives the local AWS.

The key is a hash of the step's identity and the attributes SageMaker documents for its cache
key ("Default cache key attributes by pipeline step type",
https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html), resolved
(Processing: AppSpecification, Environment, ProcessingInputs; Training:
AlgorithmSpecification, CheckpointConfig, DebugHookConfig, DebugRuleConfigurations,
Environment, HyperParameters, InputDataConfig; Transform: DataProcessing, Environment,
ModelName, TransformInput; QualityCheck: its QualityCheckConfig and CheckJobConfig, which
its processing request's AppSpecification, Environment, ProcessingInputs and
ProcessingResources carry, and SkipCheck, RegisterNewBaseline, ModelPackageGroupName,
SuppliedBaselineStatistics, SuppliedBaselineConstraints), plus the ETags of the step's code
objects. A step type without listed attributes would hit whatever its arguments, so only the
types listed here cache.
Output locations are left out: the SDK's defaults contain the execution id. A hit resolves
to the source execution's S3 URIs, so downstream steps get the same keys and hit too.

Each `mlops run` starts a fresh local S3, so an entry also holds a copy of the step's output
files (a hard link where the file system allows); a hit uploads them back to their recorded
URIs before later steps read them. Entries are written to a temporary folder and renamed into
place, so a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localaws.executor import s3files
from localaws.executor.jobs import Artifact, StepOutcome, restore_job

CACHE_KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    # QualityCheckConfig and CheckJobConfig, as the step's processing request carries them.
    "QualityCheck": (
        "AppSpecification",
        "Environment",
        "ProcessingInputs",
        "ProcessingResources",
        "CheckType",
        "SkipCheck",
        "RegisterNewBaseline",
        "ModelPackageGroupName",
        "SuppliedBaselineStatistics",
        "SuppliedBaselineConstraints",
    ),
}
_FORMAT = 1
#: Code objects up to this size are hashed by content; larger ones by ETag.
_MAX_CODE_BYTES = 64 << 20
_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)
_DAYS = {"Y": 365, "M": 30, "W": 7, "D": 1}
_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration (P30D, PT1H, P1Y2M3DT4H5M6S) as a timedelta (a month is 30 days)."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match or not any(match.groupdict().values()) or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P30D or PT1H")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    days = sum(parts.get(k, 0) * n for k, n in _DAYS.items())
    seconds = sum(parts.get(k, 0) * n for k, n in _SECONDS.items())
    return dt.timedelta(days=days, seconds=seconds)


def cacheable(step_type: str) -> bool:
    """Whether SageMaker caches this step type (it lists cache key attributes for it)."""
    return step_type in CACHE_KEY_ATTRIBUTES


def cache_key(
    pipeline: str, step: str, step_type: str, arguments: dict[str, Any], code: Any
) -> str:
    """sha256 over what makes two runs of a step interchangeable."""
    attributes = CACHE_KEY_ATTRIBUTES.get(step_type, ())
    payload = {
        "Pipeline": pipeline,
        "Step": step,
        "Type": step_type,
        "Arguments": {name: arguments.get(name) for name in attributes},
        "Code": code,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_uris(step_type: str, arguments: dict[str, Any]) -> list[str]:
    """The S3 objects holding the step's code: the `code` input, or the submit directory."""
    if step_type == "Processing":
        return [
            item["S3Input"]["S3Uri"]
            for item in arguments.get("ProcessingInputs") or []
            if item.get("InputName") == "code" and isinstance(item.get("S3Input"), dict)
        ]
    if step_type == "Training":
        submit = (arguments.get("HyperParameters") or {}).get("sagemaker_submit_directory")
        if isinstance(submit, str):
            with contextlib.suppress(ValueError):
                submit = json.loads(submit)
        return [submit] if isinstance(submit, str) and submit.startswith("s3://") else []
    return []


def code_digest(objects: s3files.Objects, uri: str) -> list[tuple[str, str]]:
    """(relative key, sha256) of each code object; a tar archive hashes its members.

    The SDK rebuilds sourcedir.tar.gz on every definition build, with fresh timestamps in
    the gzip and tar headers, so its bytes (and ETag) change while the code does not.
    """
    bucket, prefix = s3files.split_uri(uri)
    digests = []
    for item in s3files.list_objects(objects, uri):
        if item.get("Size", 0) > _MAX_CODE_BYTES:
            digest = item.get("ETag", "").strip('"')
        else:
            body = objects.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            digest = _archive_digest(body) or hashlib.sha256(body).hexdigest()
        digests.append((s3files.relative_key(item["Key"], prefix), digest))
    return sorted(digests)


def _archive_digest(body: bytes) -> str | None:
    """sha256 over the names and contents of a tar archive's files; None if not a tar."""
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
            digest = hashlib.sha256()
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                digest.update(member.name.encode() + b"\0")
                source = tar.extractfile(member) if member.isfile() else None
                if source is not None:
                    digest.update(hashlib.sha256(source.read()).digest())
            return digest.hexdigest()
    except (tarfile.TarError, OSError, EOFError):
        return None


@dataclass(frozen=True)
class CacheEntry:
    """A successful run of a step that later runs may reuse."""

    folder: Path
    record: dict[str, Any]

    @property
    def source_execution_arn(self) -> str:
        return self.record["SourcePipelineExecutionArn"]

    @property
    def created(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.record["CreatedAt"])

    def outcome(self) -> StepOutcome:
        job = self.record.get("Job")
        return StepOutcome(
            properties=self.record["Properties"],
            metadata=self.record.get("Metadata") or {},
            job=(job[0], job[1]) if job else None,
        )


class StepCache:
    """Entries in `root/<key>/` (record.json plus files/), shared by every execution."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def lookup(
        self, key: str, expire_after: dt.timedelta | None, now: dt.datetime
    ) -> CacheEntry | None:
        """The entry for `key` if there is one, complete and not expired."""
        folder = self.root / key
        try:
            record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
            entry = CacheEntry(folder, record)
            if record.get("Format") != _FORMAT or record.get("Key") != key:
                return None
            if expire_after is not None and entry.created + expire_after < now:
                return None
            if not all((folder / a["Path"]).exists() for a in record.get("Artifacts", [])):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return entry

    def store(
        self,
        key: str,
        step: str,
        step_type: str,
        outcome: StepOutcome,
        source_execution_arn: str,
        now: dt.datetime,
    ) -> None:
        """Save a successful step's outcome and a copy of its files, atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        try:
            staging.mkdir()
            artifacts = [
                _copy(artifact, staging, f"files/{n}")
                for n, artifact in enumerate(outcome.artifacts)
            ]
            record = {
                "Format": _FORMAT,
                "Key": key,
                "StepName": step,
                "StepType": step_type,
                "SourcePipelineExecutionArn": source_execution_arn,
                "CreatedAt": now.isoformat(),
                "Properties": outcome.properties,
                "Metadata": outcome.metadata,
                "Job": list(outcome.job) if outcome.job else None,
                "Artifacts": artifacts,
            }
            text = json.dumps(record, indent=1, sort_keys=True, default=str)
            (staging / "record.json").write_text(text, encoding="utf-8")
            _publish(staging, self.root / key)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def restore(entry: CacheEntry, objects: s3files.Objects, sagemaker: Any) -> None:
        """Put the entry's files back at their S3 URIs (if missing) and its job record."""
        for artifact in entry.record.get("Artifacts", []):
            path = entry.folder / artifact["Path"]
            if artifact["Kind"] == "dir":
                s3files.upload_tree(objects, path, artifact["Uri"], skip_existing=True)
            else:
                s3files.upload_file(objects, path, artifact["Uri"], skip_existing=True)
        job = entry.record.get("Job")
        if job:
            restore_job(sagemaker, job[0], job[1])


def _copy(artifact: Artifact, staging: Path, relative: str) -> dict[str, str]:
    target = staging / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if artifact.path.is_dir():
        shutil.copytree(artifact.path, target, copy_function=_link_or_copy)
        kind = "dir"
    else:
        _link_or_copy(artifact.path, target)
        kind = "file"
    return {"Uri": artifact.uri, "Path": relative, "Kind": kind}


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    """Hard-link a finished job's output file into the cache (no bytes move), else copy it.

    Nothing writes to a job's outputs once the job has ended, and deleting the job's folder
    leaves the linked entry intact.
    """
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, target)


def _publish(staging: Path, final: Path) -> None:
    """Rename staging to final, replacing an older entry without a moment of half an entry."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{uuid.uuid4().hex}")
        try:
            os.rename(final, old)
        except OSError:
            old = None
    # OSError: another execution published the same key meanwhile, with equivalent content.
    with contextlib.suppress(OSError):
        os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
