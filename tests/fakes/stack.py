"""The workflow stack in a local AWS, for tests and benchmarks.

`deploy` deploys the template `mlops template` prints with the code `mlops deploy` runs
(deploy.workflow_stack): the state machine, the approval function with its Function URL, the
approvals table, the topic, the link-signing secret and the schedule, all from the template.

`approval_task_only` is the one change some callers make on top of it: they drive the approval
task by itself (its callback outcome, not the whole workflow's), so the stack's state machine
is narrowed, in place, to its HumanApproval state, calling the stack's own function.
"""

from __future__ import annotations

import json
from typing import Any

from clients.cloudformation import DeployResult
from clients.s3 import ensure_bucket
from core import contracts, names
from core.settings import Settings
from deploy import template as tpl
from deploy.workflow_stack import deploy_workflow_stack

#: Where the narrowed approval task reads its timeout from its input.
TASK_TIMEOUT_PATH = "$.approvalTaskTimeoutSeconds"
#: What the narrowed approval task drops: where it leads, and its own timeout's source.
_DROPPED_KEYS = ("Next", "Catch", "ResultPath", "TimeoutSeconds", "TimeoutSecondsPath")


#: Reserved concurrency of the approval function in the tests' stack: room for the 50
#: simultaneous clicks of the race tests (the template's default, 10, would answer some
#: with 429, as Lambda does: tests/test_local_aws.py tests that throttle).
APPROVAL_CONCURRENCY = 64


def deploy(aws: Any, settings: Settings) -> DeployResult:
    """The workflow stack, given its SageMaker role and room for 50 concurrent reviewers: no
    Slack, no email, and the review links on the function's own URL (deploy_workflow_stack's
    follow-up update)."""
    ensure_bucket(aws.client("s3"), settings.bucket_for(aws.account_id), aws.region)
    template = tpl.workflow_template(settings)
    return deploy_workflow_stack(
        aws,
        settings,
        template,
        names.stack_name(settings),
        {
            tpl.SAGEMAKER_ROLE_ARN: settings.role_arn,
            tpl.APPROVAL_CONCURRENCY: str(APPROVAL_CONCURRENCY),
        },
    )


def approval_task_only(aws: Any, state_machine_arn: str) -> dict[str, Any]:
    """Narrow the stack's state machine to its approval task; return the narrowed state.

    UpdateStateMachine on the stack's own machine, not another machine beside the stack. The
    state keeps its resource, parameters (the stack's function, the payload) and retries. With
    no Next, Catch or ResultPath, the execution ends with the callback's output, or fails with
    its error (Rejected, States.Timeout). Its timeout comes from an input field of its own
    (TASK_TIMEOUT_PATH), so a caller can let the approval's link outlive the task.
    """
    sfn = aws.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=state_machine_arn)
    task = json.loads(described["definition"])["States"][contracts.APPROVAL_STATE]
    alone = {k: v for k, v in task.items() if k not in _DROPPED_KEYS}
    alone.update({"TimeoutSecondsPath": TASK_TIMEOUT_PATH, "End": True})
    definition = {"StartAt": contracts.APPROVAL_STATE, "States": {contracts.APPROVAL_STATE: alone}}
    sfn.update_state_machine(stateMachineArn=state_machine_arn, definition=json.dumps(definition))
    return alone


def approval_input(task: dict[str, Any], request: dict[str, Any], timeout: int) -> dict[str, Any]:
    """The input that makes `task` send `request`'s fields (all but the `$$` context ones) and
    time out after `timeout` seconds.

    Read from the task's own Payload paths, so it is what the states before HumanApproval
    gather in the workflow, whatever the ASL calls them.
    """
    state: dict[str, Any] = {}
    for key, path in task["Parameters"]["Payload"].items():
        if key.endswith(".$") and path.startswith("$."):
            # A field the request leaves out is sent as null (the function's optional ones).
            _put(state, path, request.get(key.removesuffix(".$")))
    _put(state, task["TimeoutSecondsPath"], timeout)
    return state


def _put(state: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.removeprefix("$.").split(".")
    for name in parents:
        state = state.setdefault(name, {})
    state[leaf] = value


def approval_request(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The request the approval task sent the function (its Payload), from the history."""
    (scheduled,) = [
        e["taskScheduledEventDetails"]
        for e in history
        if e["type"] == "TaskScheduled"
        and e["taskScheduledEventDetails"]["resource"].endswith(".waitForTaskToken")
    ]
    return json.loads(scheduled["parameters"])["Payload"]
