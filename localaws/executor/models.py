"""A Model step (the SDK's ModelStep / CreateModelStep): CreateModel in the local SageMaker.

`Arguments` is CreateModel's request without a ModelName: SageMaker Pipelines names the
model itself, as it names jobs, and the step's properties are DescribeModel's response
(`Properties.ModelName`, `PrimaryContainer`, `ModelArn`, ...), so a later Transform or
RegisterModel step finds the model by its name.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor.errors import StepFailed
from localaws.executor.jobs import StepContext, StepOutcome

CREATE = "CreateModel"


def run_model(ctx: StepContext) -> StepOutcome:
    """CreateModel with the resolved arguments; DescribeModel's response as properties."""
    shape = ctx.sagemaker.meta.service_model.operation_model(CREATE).input_shape
    request = {k: v for k, v in ctx.arguments.items() if k in shape.members}
    request["ModelName"] = request.get("ModelName") or ctx.job_name
    if not request.get("PrimaryContainer") and not request.get("Containers"):
        raise StepFailed(f"Step {ctx.name}: CreateModel needs a PrimaryContainer or Containers")
    try:
        arn = ctx.sagemaker.create_model(**request)["ModelArn"]
        described = ctx.sagemaker.describe_model(ModelName=request["ModelName"])
    except (ClientError, BotoCoreError) as exc:
        raise StepFailed(f"Step {ctx.name}: CreateModel failed: {exc}") from exc
    described.pop("ResponseMetadata", None)
    container = request.get("PrimaryContainer") or (request.get("Containers") or [{}])[0]
    with ctx.log.open("a", encoding="utf-8") as log:
        log.write(f"# {ctx.name} (Model)\n# created {arn}\n")
        log.write(f"# image {container.get('Image')}\n")
        log.write(f"# model data {container.get('ModelDataUrl')}\n")
        for key, value in sorted((container.get("Environment") or {}).items()):
            log.write(f"# env {key}={value}\n")
    return StepOutcome(properties=described, metadata={"Model": {"Arn": arn}})
