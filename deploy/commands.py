"""The AWS-facing commands behind `mlops template|upsert|deploy|start`.

Each returns an exit code (0 success, 1 failed, 2 usage) and writes results to stdout and
progress to stderr. They reach AWS through `mlops.aws.connect`, so the standard AWS
environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...) decides where they act.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from core import names
from core.errors import UsageError
from core.settings import Settings
from deploy.stack import CREATED, UNCHANGED, UPDATED, DeployError
from mlops.aws import Target, connect
from mlops.cli import EXIT_FAILED, EXIT_OK

#: Environment variables the commands read (CodeBuild sets them; buildspec.yml lists them).
ENV_SAGEMAKER_ROLE_ARN = "SAGEMAKER_ROLE_ARN"
ENV_STACK_NAME = "STACK_NAME"
ENV_DEPLOY_ROLE_ARN = "DEPLOY_ROLE_ARN"


def render_template(settings: Settings, ci: bool) -> str:
    """`mlops template [--ci]`: the workflow stack's template, or the CI stack's."""
    from deploy.template import render, workflow_template

    if ci:
        from deploy.ci import build_ci_template

        return render(build_ci_template(settings))
    return render(workflow_template(settings))


def upsert(settings: Settings, role_arn: str | None, local: bool | None, out: TextIO) -> int:
    """Create or update the pipeline; an unchanged definition is not sent again."""
    from mlops.builds import build_definition
    from mlops.pipeline_run import upsert_pipeline

    with _aws(settings, local, "upsert") as (target, settings):
        settings = dataclasses.replace(
            settings, role_arn=_sagemaker_role(settings, role_arn, target)
        )
        definition = build_definition(settings, target)
        sagemaker = target.client("sagemaker")
        existed = _pipeline_definition(sagemaker, settings) is not None
        changed = upsert_pipeline(sagemaker, settings, definition)
    outcome = (UPDATED if existed else CREATED) if changed else UNCHANGED
    print(f"Pipeline {settings.pipeline_name}: {outcome}", file=out)
    return EXIT_OK


def deploy(
    settings: Settings,
    stack_name: str,
    role_arn: str | None,
    deploy_role_arn: str | None,
    parameters: Sequence[str],
    local: bool | None,
    out: TextIO,
) -> int:
    """Upload the function's zip, then create or update the stack through a change set."""
    from deploy import template as tpl
    from deploy.bundle import build_bundle
    from deploy.stack import DeployResult, TemplateSource, current_stack, deploy_stack

    template = tpl.workflow_template(settings)
    overrides = _template_parameters(parameters, template)
    with _aws(settings, local, "deploy") as (target, settings):
        bucket = settings.bucket_for(target.account_id)
        s3 = target.client("s3")
        bundle = build_bundle()
        key = bundle.key(settings)
        _upload_once(s3, bucket, key, bundle.data)
        values = {
            tpl.CODE_BUCKET: bucket,
            tpl.CODE_KEY: key,
            tpl.SAGEMAKER_ROLE_ARN: _sagemaker_role(settings, role_arn, target),
            **overrides,
        }
        body = json.dumps(template, separators=(",", ":"))

        def upload_template(text: str) -> str:
            digest = hashlib.sha256(text.encode()).hexdigest()[:20]
            template_key = settings.prefix("deploy", f"template-{digest}.json")
            s3.put_object(Bucket=bucket, Key=template_key, Body=text.encode())
            return f"https://{bucket}.s3.{target.region}.amazonaws.com/{template_key}"

        cloudformation = target.client("cloudformation")
        source = TemplateSource(body, upload_template)
        base_url = _approval_base_url(overrides, current_stack(cloudformation, stack_name))
        if base_url is not None:
            values[tpl.APPROVAL_BASE_URL] = base_url

        def apply(parameter_values: dict[str, str]) -> DeployResult:
            return deploy_stack(
                cloudformation,
                stack_name,
                source,
                parameter_values,
                role_arn=deploy_role_arn or os.environ.get(ENV_DEPLOY_ROLE_ARN) or None,
                log=lambda line: print(line, file=sys.stderr),
            )

        result = apply(values)
        function_url = result.outputs.get(tpl.OUT_REVIEW_URL_BASE, "")
        if base_url == "" and function_url:
            # First deployment: the Function URL exists only now; give it to the function.
            print(
                f"Stack {stack_name}: pointing the review links at {function_url}", file=sys.stderr
            )
            apply({**values, tpl.APPROVAL_BASE_URL: function_url})
    print(f"Stack {stack_name}: {result.outcome}", file=out)
    print(f"Review URL base: {result.outputs.get(tpl.OUT_REVIEW_URL_BASE, '(none)')}", file=out)
    print(f"State machine: {result.outputs.get(tpl.OUT_STATE_MACHINE_ARN, '(none)')}", file=out)
    for key_name, value in sorted(result.outputs.items()):
        if key_name not in {tpl.OUT_REVIEW_URL_BASE, tpl.OUT_STATE_MACHINE_ARN}:
            print(f"  {key_name}: {value}", file=out)
    return EXIT_OK


def start(
    settings: Settings,
    stack_name: str,
    state_machine_arn: str | None,
    params: Sequence[str],
    follow: bool,
    local: bool | None,
    out: TextIO,
    workflow_poll_seconds: int | None = None,
) -> int:
    """Start the deployed workflow; with `follow`, print its states until it ends."""
    from deploy import execution
    from deploy.stack import stack_outputs
    from deploy.template import OUT_STATE_MACHINE_ARN
    from mlops.params import parse_params

    with _aws(settings, local, "start") as (target, settings):
        definition = _pipeline_definition(target.client("sagemaker"), settings)
        if definition is None:
            raise UsageError(
                f"pipeline {settings.pipeline_name} does not exist: run `mlops upsert` first"
            )
        overrides = parse_params(params, json.loads(definition))
        if not state_machine_arn:
            outputs = stack_outputs(target.client("cloudformation"), stack_name)
            state_machine_arn = outputs.get(OUT_STATE_MACHINE_ARN)
            if not state_machine_arn:
                raise DeployError(f"stack {stack_name} has no {OUT_STATE_MACHINE_ARN} output")
        sfn = target.client("stepfunctions")
        payload = execution.execution_input(overrides, workflow_poll_seconds)
        arn = execution.start(sfn, state_machine_arn, payload, execution.execution_name())
        print(f"Execution: {arn}", file=out)
        if not follow:
            return EXIT_OK
        status = execution.follow(sfn, arn, lambda line: print(line, file=out, flush=True))
    print(f"Execution {status.lower()}", file=out)
    return EXIT_OK if status == execution.SUCCEEDED else EXIT_FAILED


@contextmanager
def _aws(settings: Settings, local: bool | None, command: str) -> Iterator[tuple[Target, Settings]]:
    """Connect, and turn AWS failures into DeployError (one line, exit 1)."""
    try:
        with connect(settings.region, local=local) as target:
            if target.local is not None:
                print(
                    f"mlops {command}: no AWS configured, using the embedded local AWS "
                    "(nothing persists after this command)",
                    file=sys.stderr,
                )
            yield target, dataclasses.replace(settings, region=target.region)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeployError(
            f"{exc.operation_name}: {error.get('Code', '?')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise DeployError(str(exc)) from None


def _sagemaker_role(settings: Settings, role_arn: str | None, target: Target) -> str:
    """--role-arn, else SAGEMAKER_ROLE_ARN, else Settings (MLOPS_ROLE_ARN)."""
    chosen = role_arn or os.environ.get(ENV_SAGEMAKER_ROLE_ARN) or settings.role_arn
    if target.local is None and chosen == Settings().role_arn and target.account_id not in chosen:
        raise UsageError(
            f"no SageMaker execution role for account {target.account_id}: pass --role-arn or "
            f"set {ENV_SAGEMAKER_ROLE_ARN}"
        )
    return chosen


def _pipeline_definition(sagemaker: Any, settings: Settings) -> str | None:
    try:
        return sagemaker.describe_pipeline(PipelineName=settings.pipeline_name)[
            "PipelineDefinition"
        ]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"ResourceNotFound", "ValidationException"}:
            return None
        raise


def _template_parameters(pairs: Sequence[str], template: dict[str, Any]) -> dict[str, str]:
    """`Name=Value` template parameters, checked against the template before anything runs."""
    from deploy import template as tpl
    from deploy.schedule import InvalidScheduleExpression, validate_schedule_expression

    declared = template["Parameters"]
    reserved = {tpl.CODE_BUCKET, tpl.CODE_KEY, tpl.SAGEMAKER_ROLE_ARN}  # set by deploy itself
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in declared or name in reserved:
            allowed = ", ".join(sorted(set(declared) - reserved))
            raise UsageError(
                f"--parameter {pair!r}: expected Name=Value with Name one of {allowed}"
            )
        if name == tpl.SCHEDULE_EXPRESSION:
            try:
                validate_schedule_expression(value)
            except InvalidScheduleExpression as exc:
                raise UsageError(f"--parameter {exc}") from None
        values[name] = value
    return values


def _approval_base_url(
    overrides: dict[str, str], current: tuple[dict[str, str], dict[str, str]] | None
) -> str | None:
    """APPROVAL_BASE_URL for this deployment: "" when the Function URL is not known yet,
    None to keep an operator's own base (a custom domain), else the Function URL.

    The function cannot get its own URL through the template (a circular reference), so
    `deploy` passes the stack's ReviewUrlBase output back in as the ApprovalBaseUrl
    parameter: a follow-up update on the first deployment, the same value ever after.
    """
    from deploy import template as tpl

    if tpl.APPROVAL_BASE_URL in overrides:
        return overrides[tpl.APPROVAL_BASE_URL]
    if current is None:
        return ""
    parameters, outputs = current
    previous = parameters.get(tpl.APPROVAL_BASE_URL, "")
    function_url = outputs.get(tpl.OUT_REVIEW_URL_BASE, "")
    if previous and previous != function_url:
        return None
    return function_url


def _upload_once(s3: Any, bucket: str, key: str, data: bytes) -> None:
    """Content-addressed: an object already at `key` has these bytes."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "NoSuchBucket" or (code == "404" and _bucket_missing(s3, bucket)):
            raise UsageError(
                f"bucket {bucket} does not exist: create it (README, 'On AWS') or set "
                "MLOPS_BUCKET to an existing bucket"
            ) from None
        if code not in {"404", "NoSuchKey"}:
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    print(f"uploaded s3://{bucket}/{key}", file=sys.stderr)


def _bucket_missing(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return True
    return False


def default_stack_name(settings: Settings) -> str:
    return os.environ.get(ENV_STACK_NAME) or names.stack_name(settings)
