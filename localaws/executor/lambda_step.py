"""A Lambda step: Invoke the step's FunctionArn in the local AWS, read its OutputParameters.

As the SDK writes it (sagemaker/workflow/lambda_step.py), `Arguments` is the event, sent as
the request payload; the function answers a JSON object, and each declared output
(`OutputParameters`: OutputName, OutputType String|Integer|Float|Boolean) is read from it by
name, becoming `Steps.<name>.OutputParameters['<output>']`. A function error, a missing
output or a value of the wrong type fails the step, as in SageMaker.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor.errors import StepFailed, fit_reason
from localaws.executor.jobs import StepContext, StepOutcome

_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,),
    "Integer": (int,),
    "Float": (int, float),
    "Boolean": (bool,),
}


def run_lambda(ctx: StepContext) -> StepOutcome:
    """Invoke the function synchronously; the declared outputs become properties."""
    function = ctx.spec.get("FunctionArn")
    if not isinstance(function, str) or not function:
        raise StepFailed(f"Step {ctx.name}: a Lambda step needs a FunctionArn")
    env = ctx.environment
    client = boto3.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_REGION"),
    ).client(
        "lambda",
        endpoint_url=env.get("AWS_ENDPOINT_URL"),
        config=Config(read_timeout=900, retries={"max_attempts": 1}),
    )
    payload = json.dumps(ctx.arguments, default=str)
    try:
        response = client.invoke(FunctionName=function, Payload=payload.encode())
    except (ClientError, BotoCoreError) as exc:
        raise StepFailed(f"Step {ctx.name}: Invoke {function} failed: {exc}") from exc
    body = response["Payload"].read().decode("utf-8", errors="replace")
    with ctx.log.open("a", encoding="utf-8") as log:
        log.write(f"# {ctx.name} (Lambda) invoked {function}\n# event: {payload}\n")
        log.write(f"# status {response.get('StatusCode')}, response: {body}\n")
    if response.get("FunctionError"):
        raise StepFailed(fit_reason(f"Step {ctx.name}: {function} failed:", body))
    outputs = _outputs(ctx.name, ctx.spec.get("OutputParameters") or [], body)
    return StepOutcome(
        properties={"OutputParameters": outputs},
        metadata={
            "Lambda": {
                "Arn": function,
                "OutputParameters": [{"Name": k, "Value": str(v)} for k, v in outputs.items()],
            }
        },
    )


def _outputs(step: str, declared: list[dict[str, Any]], body: str) -> dict[str, Any]:
    if not declared:
        return {}
    try:
        result = json.loads(body)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise StepFailed(f"Step {step}: the function must return a JSON object, got {body[:200]}")
    outputs: dict[str, Any] = {}
    for item in declared:
        name, kind = str(item.get("OutputName", "")), item.get("OutputType", "String")
        if name not in result:
            raise StepFailed(f"Step {step}: the function's response has no output {name!r}")
        value = result[name]
        wrong_bool = isinstance(value, bool) and kind in ("Integer", "Float")
        if not isinstance(value, _TYPES.get(kind, (object,))) or wrong_bool:
            raise StepFailed(f"Step {step}: output {name!r} is {value!r}, not of type {kind}")
        outputs[name] = value
    return outputs
