"""RegisterModel: a new version in the model package group, as the pipeline step creates it.

The step creates the group when it does not exist yet, as SageMaker Pipelines does, and tags
the package with the execution that registered it (CustomerMetadataProperties), which is how
a reviewer finds the run behind a model.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor.errors import StepFailed
from localaws.executor.jobs import StepContext, StepOutcome


def register_model(ctx: StepContext) -> StepOutcome:
    """CreateModelPackage with the resolved arguments; its Describe response as properties."""
    request = dict(ctx.arguments)
    group = request.get("ModelPackageGroupName")
    if not isinstance(group, str) or not group:
        raise StepFailed(f"Step {ctx.name}: RegisterModel needs a ModelPackageGroupName")
    metadata = dict(request.get("CustomerMetadataProperties") or {})
    metadata.setdefault("PipelineExecutionArn", ctx.execution_arn)
    request["CustomerMetadataProperties"] = metadata
    try:
        _ensure_group(ctx.sagemaker, group)
        arn = ctx.sagemaker.create_model_package(**request)["ModelPackageArn"]
        described = ctx.sagemaker.describe_model_package(ModelPackageName=arn)
    except (ClientError, BotoCoreError) as exc:
        raise StepFailed(f"Step {ctx.name}: CreateModelPackage failed: {exc}") from None
    described.pop("ResponseMetadata", None)
    with ctx.log.open("a", encoding="utf-8") as log:
        log.write(f"# {ctx.name} (RegisterModel)\n# registered {arn}\n")
        log.write(f"# approval status {described.get('ModelApprovalStatus')}\n")
        metrics = request.get("ModelMetrics") or {}
        for kind, sources in metrics.items():
            for name, source in (sources or {}).items():
                log.write(f"# metrics {kind}.{name}: {source.get('S3Uri')}\n")
    return StepOutcome(properties=described, metadata={"RegisterModel": {"Arn": arn}})


def _ensure_group(sagemaker: Any, group: str) -> None:
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        return
    except ClientError:
        pass
    try:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription="Created by a pipeline's RegisterModel step",
        )
    except ClientError as exc:  # another execution created it meanwhile
        if "exist" not in str(exc).lower():
            raise
