"""What every step runner receives and returns, and the job records SageMaker would keep.

Processing and Training steps also leave a job behind in the (local) SageMaker API, so
`DescribeProcessingJob`/`DescribeTrainingJob` on the ARN in the step's Metadata answer as on
AWS, including after a cache hit in a later session.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor.errors import StepFailed
from localaws.executor.s3files import Objects

#: SageMaker job names: at most 63 of [a-zA-Z0-9-], no leading or doubled '-'.
_JOB_NAME_LENGTH = 63


@dataclass(frozen=True)
class Artifact:
    """Something a step wrote to S3: a folder uploaded under a prefix, or one object."""

    uri: str
    path: Path


@dataclass
class StepContext:
    """One step about to run: its resolved arguments, its folders, the AWS clients."""

    name: str
    type: str
    arguments: dict[str, Any]
    spec: dict[str, Any]
    execution_arn: str
    execution_id: str
    work: Path
    log: Path
    objects: Objects
    #: The account's AWS variables (credentials, endpoint, region) for the job's process.
    environment: dict[str, str]
    sagemaker: Any
    python: str
    timeout: float

    @property
    def job_name(self) -> str:
        return job_name(self.execution_id, self.name, self.execution_arn)


@dataclass
class StepOutcome:
    """What a finished step contributes: properties for later steps, Metadata for the API."""

    properties: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Files to keep in the step cache, with where they live in S3.
    artifacts: list[Artifact] = field(default_factory=list)
    #: (Create* operation, request) that recreates the job record after a cache hit.
    job: tuple[str, dict[str, Any]] | None = None
    #: A Condition step's result.
    branch: bool | None = None


def job_name(execution_id: str, step_name: str, salt: str) -> str:
    """pipelines-<execution id>-<step>-<hash>, as SageMaker names a pipeline's jobs."""
    digest = hashlib.sha256(f"{salt}/{step_name}".encode()).hexdigest()[:10]
    step = re.sub(r"[^A-Za-z0-9]+", "-", step_name).strip("-") or "step"
    head = f"pipelines-{execution_id}"
    room = _JOB_NAME_LENGTH - len(head) - len(digest) - 2
    return f"{head}-{step[:room].rstrip('-')}-{digest}"


def max_runtime(args: dict[str, Any], ceiling: float) -> float:
    """StoppingCondition.MaxRuntimeInSeconds, capped by the executor's own limit."""
    limit = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    return min(float(limit), ceiling) if isinstance(limit, int | float) else ceiling


def record_job(sagemaker: Any, operation: str, request: dict[str, Any]) -> str:
    """Create the job record (e.g. operation "CreateTrainingJob"); returns its ARN.

    Only the request members the operation accepts are sent, so step arguments that a
    definition carries beside them (PropertyFiles, say) never break the call.
    """
    shape = sagemaker.meta.service_model.operation_model(operation).input_shape
    accepted = {k: v for k, v in request.items() if k in shape.members}
    method = getattr(sagemaker, _snake(operation))
    try:
        response = method(**accepted)
    except (ClientError, BotoCoreError) as exc:
        raise StepFailed(f"{operation} in the local SageMaker failed: {exc}") from None
    arn_key = next(k for k in response if k.endswith("Arn"))
    return response[arn_key]


def restore_job(sagemaker: Any, operation: str, request: dict[str, Any]) -> None:
    """Recreate a job record a cache hit points at, unless this SageMaker still has it."""
    kind = operation.removeprefix("Create")  # ProcessingJob / TrainingJob
    name_key = f"{kind}Name"
    describe = getattr(sagemaker, f"describe_{_snake(kind)}")
    try:
        describe(**{name_key: request[name_key]})
        return
    except ClientError:
        pass
    record_job(sagemaker, operation, request)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
