"""CloudFormation: create or update a stack through a change set, wait, read it back.

A change set (rather than CreateStack/UpdateStack) lets one code path handle both the first
deployment and every later one, shows what will change before it changes, and reports an
unchanged template as "no changes", which is success. Parameters not given on an update keep
their previous values, so a CI deployment never resets what an operator set by hand.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from core.errors import DeployError

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
#: CreateChangeSet accepts a TemplateBody up to this size; larger templates go through S3.
MAX_TEMPLATE_BODY = 51_200
CAPABILITIES = ("CAPABILITY_IAM",)
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
_IN_PROGRESS_SUFFIX = "_IN_PROGRESS"
#: A failed first creation leaves the stack unusable: CloudFormation only allows deleting it.
_DEAD = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}


@dataclass
class DeployResult:
    outcome: str
    stack_id: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateSource:
    """The template text, and where to upload it when it is too big to send inline."""

    body: str
    upload: Callable[[str], str] | None = None

    def parameter_names(self) -> set[str]:
        return set(json.loads(self.body).get("Parameters", {}))

    def arguments(self) -> dict[str, str]:
        if len(self.body.encode()) <= MAX_TEMPLATE_BODY:
            return {"TemplateBody": self.body}
        if self.upload is None:
            raise DeployError(
                f"the template is {len(self.body.encode())} bytes, over CloudFormation's "
                f"{MAX_TEMPLATE_BODY}-byte inline limit, and no bucket was given to upload it"
            )
        return {"TemplateURL": self.upload(self.body)}


def deploy_stack(
    cloudformation: Any,
    stack_name: str,
    template: TemplateSource,
    parameters: Mapping[str, str],
    role_arn: str | None = None,
    timeout_seconds: float = 3600,
    log: Callable[[str], None] = lambda _line: None,
    tags: Sequence[Mapping[str, str]] = (),
) -> DeployResult:
    """Create or update `stack_name`; returns the outcome and the stack's outputs.

    `tags` go on the stack, and CloudFormation puts them on every resource it creates that
    takes tags (stack-level tags propagate).
    """
    existing = _describe(cloudformation, stack_name)
    status = existing["StackStatus"] if existing else None
    if status in _DEAD:
        raise DeployError(
            f"stack {stack_name} is {status}: CloudFormation cannot update it; delete it "
            f"(aws cloudformation delete-stack --stack-name {stack_name}) and deploy again"
        )
    if status and status.endswith(_IN_PROGRESS_SUFFIX) and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack_name} is {status}: wait for it to finish, then retry")
    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    name = _change_set_name(template.body, parameters)
    request: dict[str, Any] = {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": change_type,
        "Parameters": _parameters(
            parameters, existing if change_type == "UPDATE" else None, template.parameter_names()
        ),
        "Capabilities": list(CAPABILITIES),
        "Description": "mlops deploy",
        **template.arguments(),
    }
    if role_arn:
        request["RoleARN"] = role_arn
    if tags:
        request["Tags"] = [dict(tag) for tag in tags]
    log(f"Stack {stack_name}: creating {change_type} change set {name}")
    try:
        created = cloudformation.create_change_set(**request)
    except ClientError as exc:
        if existing and _is_no_change(str(exc)):
            return DeployResult(UNCHANGED, existing["StackId"], _outputs(existing))
        raise
    deadline = time.monotonic() + timeout_seconds
    change_set = _wait_change_set(cloudformation, created["Id"], deadline)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        cloudformation.delete_change_set(ChangeSetName=created["Id"])
        if _is_no_change(reason) and existing:
            return DeployResult(UNCHANGED, existing["StackId"], _outputs(existing))
        raise DeployError(f"stack {stack_name}: change set failed: {reason}")
    for change in change_set.get("Changes", []):
        detail = change.get("ResourceChange", {})
        log(
            f"  {detail.get('Action', '?'):<7} {detail.get('LogicalResourceId')} "
            f"({detail.get('ResourceType')})"
        )
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    stack = _wait_stack(cloudformation, created["StackId"], deadline, log)
    if stack["StackStatus"] not in _DONE:
        raise DeployError(
            f"stack {stack_name} ended {stack['StackStatus']}: "
            + "; ".join(_failure_reasons(cloudformation, created["StackId"]))
        )
    outcome = CREATED if change_type == "CREATE" else UPDATED
    return DeployResult(outcome, stack["StackId"], _outputs(stack))


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of a deployed stack, or DeployError naming the stack."""
    stack = _describe(cloudformation, stack_name)
    if stack is None:
        raise DeployError(f"stack {stack_name} does not exist: run `mlops deploy` first")
    return _outputs(stack)


def current_stack(
    cloudformation: Any, stack_name: str
) -> tuple[dict[str, str], dict[str, str]] | None:
    """(parameters, outputs) of a deployed stack, or None if there is none."""
    stack = _describe(cloudformation, stack_name)
    if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        return None
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
    }
    return parameters, _outputs(stack)


def _describe(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _parameters(
    given: Mapping[str, str], existing: Mapping[str, Any] | None, declared: set[str]
) -> list[dict[str, Any]]:
    """Given values, plus UsePreviousValue for every other declared parameter the stack has."""
    listed: list[dict[str, Any]] = [
        {"ParameterKey": key, "ParameterValue": value} for key, value in sorted(given.items())
    ]
    previous = sorted(p["ParameterKey"] for p in (existing or {}).get("Parameters", []))
    listed += [
        {"ParameterKey": key, "UsePreviousValue": True}
        for key in previous
        if key not in given and key in declared
    ]
    return listed


def _change_set_name(body: str, parameters: Mapping[str, str]) -> str:
    digest = hashlib.sha256(body.encode())
    for key, value in sorted(parameters.items()):
        digest.update(f"\0{key}={value}".encode())
    return f"mlops-{digest.hexdigest()[:12]}-{int(time.time())}"


def _is_no_change(message: str) -> bool:
    return any(marker in message for marker in _NO_CHANGES)


def _backoff(deadline: float) -> Callable[[], None]:
    """Sleep 0.05 s, then twice as long each time up to 5 s: the local AWS answers at once,
    AWS takes minutes."""
    delay = [0.05]

    def sleep() -> None:
        if time.monotonic() > deadline:
            raise DeployError("timed out waiting for CloudFormation")
        time.sleep(delay[0])
        delay[0] = min(delay[0] * 2, 5.0)

    return sleep


def _wait_change_set(cloudformation: Any, change_set_id: str, deadline: float) -> dict:
    sleep = _backoff(deadline)
    while True:
        change_set = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if change_set["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return change_set
        sleep()


def _wait_stack(
    cloudformation: Any, stack_id: str, deadline: float, log: Callable[[str], None]
) -> dict:
    sleep = _backoff(deadline)
    last = None
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status != last:
            log(f"Stack {stack['StackName']}: {status}")
            last = status
        if not status.endswith(_IN_PROGRESS_SUFFIX):
            return stack
        sleep()


def _failure_reasons(cloudformation: Any, stack_id: str, limit: int = 5) -> list[str]:
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
    ]
    return reasons[-limit:] or ["no failed resource reported; see the stack's events"]


def _outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def stack_resources(cloudformation: Any, stack_name: str) -> list[dict[str, str]]:
    """Every resource of a stack: logical id, type and status, in the template's order."""
    resources: list[dict[str, str]] = []
    kwargs: dict[str, Any] = {"StackName": stack_name}
    while True:
        page = cloudformation.list_stack_resources(**kwargs)
        resources += [
            {
                "logical_id": r["LogicalResourceId"],
                "type": r["ResourceType"],
                "status": r["ResourceStatus"],
            }
            for r in page["StackResourceSummaries"]
        ]
        if not page.get("NextToken"):
            return resources
        kwargs["NextToken"] = page["NextToken"]
