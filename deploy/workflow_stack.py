"""Deploying the workflow stack: the one code path of `mlops deploy` and of `mlops run`.

The approval function's zip goes to the code bucket under its content hash, then the
template is created or updated through a change set. The function cannot get its own URL
through the template (a circular reference), so the stack's `ReviewUrlBase` output is passed
back in as the `ApprovalBaseUrl` parameter: a follow-up update on the first deployment, the
same value ever after, unless an operator set a base of their own (a custom domain).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clients import cloudformation as cfn
from clients import s3 as s3_client
from clients.cloudformation import DeployResult, TemplateSource
from clients.session import Target
from core.errors import UsageError
from core.settings import Settings
from deploy import template as tpl
from deploy.bundle import build_bundle
from deploy.schedule import InvalidScheduleExpression, validate_schedule_expression

#: Parameters `deploy_workflow_stack` sets itself.
RESERVED_PARAMETERS = frozenset({tpl.CODE_BUCKET, tpl.CODE_KEY})


def parse_template_parameters(pairs: Sequence[str], template: Mapping[str, Any]) -> dict[str, str]:
    """`Name=Value` template parameters, checked against the template before anything runs."""
    declared = template["Parameters"]
    reserved = RESERVED_PARAMETERS | {tpl.SAGEMAKER_ROLE_ARN}
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


def deploy_workflow_stack(
    target: Target,
    settings: Settings,
    template: Mapping[str, Any],
    stack_name: str,
    parameters: Mapping[str, str],
    deploy_role_arn: str | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> DeployResult:
    """Upload the functions' zip, turn on the bucket's EventBridge notifications, then create
    or update `stack_name` from `template`.

    `parameters` holds the template's parameters (SageMakerRoleArn at least); the code
    location and, unless given, ApprovalBaseUrl are filled here.
    """
    bucket = settings.bucket_for(target.account_id)
    s3 = target.client("s3")
    bundle = build_bundle()
    key = bundle.key(settings)
    _upload_once(s3, bucket, key, bundle.data, log)
    # The stack's new-data rule hears of uploads only through EventBridge.
    if s3_client.enable_eventbridge(s3, bucket):
        log(f"bucket {bucket}: EventBridge notifications turned on (uploads start runs)")
    values = {tpl.CODE_BUCKET: bucket, tpl.CODE_KEY: key, **_project(settings), **parameters}

    def upload_template(text: str) -> str:
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        template_key = settings.prefix("deploy", f"template-{digest}.json")
        s3.put_object(Bucket=bucket, Key=template_key, Body=text.encode())
        return f"https://{bucket}.s3.{target.region}.amazonaws.com/{template_key}"

    cloudformation = target.client("cloudformation")
    source = TemplateSource(json.dumps(template, separators=(",", ":")), upload_template)
    base_url = _approval_base_url(parameters, cfn.current_stack(cloudformation, stack_name))
    if base_url is not None:
        values[tpl.APPROVAL_BASE_URL] = base_url

    def apply(parameter_values: dict[str, str]) -> DeployResult:
        return cfn.deploy_stack(
            cloudformation,
            stack_name,
            source,
            parameter_values,
            role_arn=deploy_role_arn,
            tags=settings.project_tags,
            log=log,
        )

    result = apply(values)
    function_url = result.outputs.get(tpl.OUT_REVIEW_URL_BASE, "")
    if base_url == "" and function_url:
        # First deployment: the Function URL exists only now; give it to the function.
        log(f"Stack {stack_name}: pointing the review links at {function_url}")
        apply({**values, tpl.APPROVAL_BASE_URL: function_url})
    return result


def _project(settings: Settings) -> dict[str, str]:
    """The stack's SageMaker project parameters, when the settings name a project."""
    if not settings.sagemaker_project_name:
        return {}
    return {
        tpl.SAGEMAKER_PROJECT_NAME: settings.sagemaker_project_name,
        tpl.SAGEMAKER_PROJECT_ID: settings.sagemaker_project_id,
    }


def _approval_base_url(
    given: Mapping[str, str], current: tuple[dict[str, str], dict[str, str]] | None
) -> str | None:
    """APPROVAL_BASE_URL for this deployment: "" when the Function URL is not known yet,
    None to keep an operator's own base (a custom domain), else the Function URL."""
    if tpl.APPROVAL_BASE_URL in given:
        return given[tpl.APPROVAL_BASE_URL]
    if current is None:
        return ""
    previous_parameters, outputs = current
    previous = previous_parameters.get(tpl.APPROVAL_BASE_URL, "")
    function_url = outputs.get(tpl.OUT_REVIEW_URL_BASE, "")
    if previous and previous != function_url:
        return None
    return function_url


def _upload_once(s3: Any, bucket: str, key: str, data: bytes, log: Callable[[str], None]) -> None:
    """Content-addressed: an object already at `key` has these bytes."""
    from botocore.exceptions import ClientError

    try:
        if s3_client.object_exists(s3, bucket, key):
            return
    except ClientError:
        raise UsageError(
            f"bucket {bucket} does not exist: create it (README, 'On AWS') or set "
            "MLOPS_BUCKET to an existing bucket"
        ) from None
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    log(f"uploaded s3://{bucket}/{key}")
