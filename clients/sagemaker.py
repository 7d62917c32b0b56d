"""SageMaker: the pipeline and its executions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

#: How SageMaker answers a Describe of a pipeline that does not exist.
_NOT_FOUND = {"ResourceNotFound", "ValidationException"}
#: ClientRequestToken must be 32 to 128 characters.
_TOKEN_LENGTH = 32
TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped"})


def _describe_pipeline(sagemaker: Any, pipeline_name: str) -> dict[str, Any] | None:
    """DescribePipeline, or None when there is no such pipeline."""
    try:
        return dict(sagemaker.describe_pipeline(PipelineName=pipeline_name))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _NOT_FOUND:
            return None
        raise


def pipeline_definition(sagemaker: Any, pipeline_name: str) -> str | None:
    """The stored definition JSON, or None when there is no such pipeline."""
    described = _describe_pipeline(sagemaker, pipeline_name)
    return None if described is None else str(described["PipelineDefinition"])


def upsert_pipeline(
    sagemaker: Any,
    pipeline_name: str,
    role_arn: str,
    definition: str,
    tags: Sequence[Mapping[str, str]] = (),
) -> bool:
    """Create or update the pipeline; returns False when the stored definition is the same.

    `tags` go on a new pipeline (CreatePipeline Tags); an existing one gets them by AddTags,
    which replaces tags of the same keys.
    """
    current = _describe_pipeline(sagemaker, pipeline_name)
    if current is None:
        sagemaker.create_pipeline(
            PipelineName=pipeline_name,
            PipelineDefinition=definition,
            RoleArn=role_arn,
            **({"Tags": [dict(t) for t in tags]} if tags else {}),
        )
        return True
    if tags:
        sagemaker.add_tags(ResourceArn=current["PipelineArn"], Tags=[dict(t) for t in tags])
    if current["PipelineDefinition"] == definition:
        return False
    sagemaker.update_pipeline(
        PipelineName=pipeline_name, PipelineDefinition=definition, RoleArn=role_arn
    )
    return True


def start_pipeline_execution(
    sagemaker: Any, pipeline_name: str, run_id: str, parameters: Mapping[str, str]
) -> str:
    """Start with an idempotency token derived from the run id; returns the execution ARN."""
    token = hashlib.sha256(run_id.encode()).hexdigest()[:_TOKEN_LENGTH]
    response = sagemaker.start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineExecutionDisplayName=run_id.replace("_", "-"),
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        ClientRequestToken=token,
    )
    return response["PipelineExecutionArn"]


def describe_pipeline_execution(sagemaker: Any, execution_arn: str) -> dict[str, Any]:
    return sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)


def list_steps(sagemaker: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's steps, oldest first."""
    return sagemaker.list_pipeline_execution_steps(
        PipelineExecutionArn=execution_arn, SortOrder="Ascending"
    )["PipelineExecutionSteps"]


def job_name(step: Mapping[str, Any] | None, kind: str) -> str | None:
    """The job a step ran ("ProcessingJob", "TrainingJob"), from its metadata's ARN."""
    arn = ((step or {}).get("Metadata") or {}).get(kind, {}).get("Arn")
    return arn.rsplit("/", 1)[1] if arn else None
