"""IAM policy builders: every statement names its actions and the few resources they need.

The state machine's permissions are derived from its own definition: each Task's integration
maps to IAM actions, and each action to the resources this deployment owns (the pipeline, the
model package group, endpoint-name-prefixed models, the approval function, the topic). A
Task using an integration not listed here is an error, so a new integration forces a
deliberate IAM decision instead of a silent "*".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from core.settings import Settings

Json = dict[str, Any]
POLICY_VERSION = "2012-10-17"
#: The callbacks that complete a `.waitForTaskToken` task. A task token is no resource IAM
#: can name, so they are authorized on "*".
TASK_CALLBACK_ACTIONS = frozenset({"states:SendTaskSuccess", "states:SendTaskFailure"})
#: Actions whose authorization has no resource type: AWS requires "Resource": "*".
RESOURCELESS_ACTIONS = TASK_CALLBACK_ACTIONS | {
    "states:SendTaskHeartbeat",
    "sagemaker:ListEndpoints",
    "sagemaker:ListMonitoringSchedules",
}
#: A Task's Resource for a service integration: arn:<partition>:states:::<service>:<api>[.<mode>]
_INTEGRATION = re.compile(
    r"^arn:[^:]+:states:::(?:aws-sdk:)?([a-z0-9-]+):([A-Za-z0-9]+)(?:\.\w+)?$"
)
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:")


# -- intrinsic functions -------------------------------------------------------------------


def ref(name: str) -> Json:
    return {"Ref": name}


def get_att(name: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [name, attribute]}


def sub(text: str, **variables: Any) -> Json:
    """Fn::Sub of `text`, with `variables` (name -> value or intrinsic) when given."""
    return {"Fn::Sub": [text, variables] if variables else text}


def arn(service: str, resource: str, region: bool = True, account: bool = True) -> Json:
    """An ARN in this stack's partition, region and account, as Fn::Sub."""
    return sub(
        f"arn:${{AWS::Partition}}:{service}:{'${AWS::Region}' if region else ''}:"
        f"{'${AWS::AccountId}' if account else ''}:{resource}"
    )


# -- documents -----------------------------------------------------------------------------


def statement(
    actions: Iterable[str], resources: Iterable[Any] | Any, condition: Json | None = None
) -> Json:
    """One Allow statement; actions sorted so the template is stable."""
    listed = list(resources) if isinstance(resources, list | tuple) else [resources]
    result: Json = {
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": listed[0] if len(listed) == 1 else listed,
    }
    if condition:
        result["Condition"] = condition
    return result


def document(statements: Iterable[Json]) -> Json:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def assume_role(service: str, source_account: bool = True) -> Json:
    """Trust policy for an AWS service, limited to this account (confused-deputy guard)."""
    trust: Json = {
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    return document([trust])


def pass_role(role_arn: Any, *services: str) -> Json:
    """iam:PassRole for one role, and only to the named services."""
    passed = [f"{s}.amazonaws.com" for s in services]
    return statement(
        ["iam:PassRole"],
        role_arn,
        {"StringEquals": {"iam:PassedToService": passed[0] if len(passed) == 1 else passed}},
    )


def role(description: str, service: str, policy_name: str, statements: list[Json]) -> Json:
    """An AWS::IAM::Role with one inline policy (deleted with the role, nothing to orphan)."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": assume_role(service),
            "Policies": [{"PolicyName": policy_name, "PolicyDocument": document(statements)}],
        },
    }


def log_writing(log_group_arn: Any) -> Json:
    """Write to one log group (which the stack creates, so no CreateLogGroup)."""
    return statement(["logs:CreateLogStream", "logs:PutLogEvents"], log_group_arn)


# -- SageMaker resources of this deployment ------------------------------------------------


def sagemaker_resources(settings: Settings, endpoint_prefix: str) -> dict[str, Json]:
    """ARNs by SageMaker resource type. SageMaker ARNs carry lower-cased names."""
    pipeline = settings.pipeline_name.lower()
    group = settings.model_package_group.lower()
    prefix = endpoint_prefix.lower()
    return {
        "pipeline": arn("sagemaker", f"pipeline/{pipeline}"),
        "pipeline-execution": arn("sagemaker", f"pipeline/{pipeline}/execution/*"),
        "model-package": arn("sagemaker", f"model-package/{group}/*"),
        "model-package-group": arn("sagemaker", f"model-package-group/{group}"),
        "model": arn("sagemaker", f"model/{prefix}*"),
        "endpoint-config": arn("sagemaker", f"endpoint-config/{prefix}*"),
        "endpoint": arn("sagemaker", f"endpoint/{prefix}*"),
        "monitoring-schedule": arn("sagemaker", f"monitoring-schedule/{prefix}*"),
    }


#: SageMaker actions a workflow may call, and the resource types each is authorized on
#: (the Service Authorization Reference for Amazon SageMaker).
SAGEMAKER_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "StartPipelineExecution": ("pipeline",),
    "DescribePipeline": ("pipeline",),
    "DescribePipelineExecution": ("pipeline-execution",),
    "ListPipelineExecutionSteps": ("pipeline-execution",),
    "StopPipelineExecution": ("pipeline-execution",),
    "DescribeModelPackage": ("model-package",),
    "UpdateModelPackage": ("model-package",),
    "ListModelPackages": ("model-package",),
    "DescribeModelPackageGroup": ("model-package-group",),
    "CreateModel": ("model",),
    "DescribeModel": ("model",),
    "DeleteModel": ("model",),
    "CreateEndpointConfig": ("endpoint-config",),
    "DescribeEndpointConfig": ("endpoint-config",),
    "DeleteEndpointConfig": ("endpoint-config",),
    "CreateEndpoint": ("endpoint", "endpoint-config"),
    "UpdateEndpoint": ("endpoint", "endpoint-config"),
    "DescribeEndpoint": ("endpoint",),
    "DeleteEndpoint": ("endpoint",),
    "CreateMonitoringSchedule": ("monitoring-schedule",),
    "UpdateMonitoringSchedule": ("monitoring-schedule",),
    # Tags on what a run creates, and a SageMaker project's tags (workflow/project.py).
    "AddTags": ("model", "endpoint-config", "endpoint", "pipeline", "model-package-group"),
}
#: SageMaker actions that hand the execution role to SageMaker.
_PASSES_ROLE = {
    "sagemaker:CreateModel",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:UpdateMonitoringSchedule",
}


def task_actions(asl: Mapping[str, Any]) -> dict[str, set[str]]:
    """IAM actions the definition's Tasks call, with the states that call each."""
    found: dict[str, set[str]] = {}
    for state_name, state in _states(asl):
        if state.get("Type") != "Task":
            continue
        for action in _actions_of(state_name, state):
            found.setdefault(action, set()).add(state_name)
    return found


def _states(asl: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in asl.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key])


def _actions_of(state_name: str, state: Mapping[str, Any]) -> list[str]:
    resource = state.get("Resource", "")
    if _LAMBDA_ARN.match(resource):
        return ["lambda:InvokeFunction"]
    match = _INTEGRATION.match(resource)
    if match is None:
        raise ValueError(f"state {state_name!r}: Task resource {resource!r} is not an integration")
    service, api = match.groups()
    if resource.endswith(".sync"):
        raise ValueError(
            f"state {state_name!r}: {resource} (.sync) needs EventBridge rule permissions; "
            "add them to deploy/iam.py before using it"
        )
    if (service, api) == ("lambda", "invoke"):
        return ["lambda:InvokeFunction"]
    actions = [f"{service}:{api[0].upper()}{api[1:]}"]
    arguments = state.get("Parameters") or state.get("Arguments") or {}
    if service == "sagemaker" and api.startswith("create") and "Tags" in arguments:
        actions.append("sagemaker:AddTags")
    return actions


def state_machine_statements(
    asl: Mapping[str, Any],
    settings: Settings,
    endpoint_prefix: str,
    resources_for: Mapping[str, list[Any]],
    sagemaker_role_arn: Any,
) -> list[Json]:
    """The state machine role's statements, one per resource set, derived from the ASL.

    SageMaker actions get this deployment's SageMaker resources; other actions get
    `resources_for[action]` (the function, the topic, the artifact objects); actions that
    AWS authorizes on no resource get "*". Anything else is an error naming the state.
    """
    sagemaker = sagemaker_resources(settings, endpoint_prefix)
    used = task_actions(asl)
    by_resources: dict[str, tuple[list[Any], set[str]]] = {}
    for action in sorted(used):
        service, _, name = action.partition(":")
        if action in RESOURCELESS_ACTIONS:
            resources: list[Any] = ["*"]
        elif service == "sagemaker" and name in SAGEMAKER_ACTIONS:
            resources = [sagemaker[kind] for kind in SAGEMAKER_ACTIONS[name]]
        elif action in resources_for:
            resources = list(resources_for[action])
        else:
            raise ValueError(
                f"{action} (state {', '.join(sorted(used[action]))}) has no resource scoping "
                "in deploy/iam.py; add the resources it may touch there"
            )
        key = json.dumps(resources, sort_keys=True)
        by_resources.setdefault(key, (resources, set()))[1].add(action)
    statements = [statement(actions, resources) for resources, actions in by_resources.values()]
    if _PASSES_ROLE & set(used):
        statements.append(pass_role(sagemaker_role_arn, "sagemaker"))
    return statements


def allowed_actions(policy: Mapping[str, Any]) -> set[str]:
    """Every action a policy document allows (for checks and tests)."""
    actions: set[str] = set()
    for item in policy.get("Statement", []):
        listed = item.get("Action", [])
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions
