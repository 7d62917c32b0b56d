"""Start the deployed workflow and follow it: what `mlops start` does.

Executions get a unique, sortable name (moto and Step Functions both need one for idempotent
starts and readable histories). Following prints each state as it is entered and left, and
the error and cause of anything that fails, until the execution ends.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from mlops.follow import history

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
#: Step Functions allows 80 characters of [A-Za-z0-9-_] in an execution name.
MAX_NAME_LENGTH = 80
_CAUSE_CHARS = 500
#: Keys of the workflow's input that the CLI sets (the rest keep their defaults).
PIPELINE_PARAMETERS = "PipelineParameters"
POLL_SECONDS = "PollSeconds"


def execution_name(prefix: str = "manual") -> str:
    """`<prefix>-<UTC time>-<random>`: unique, sortable, valid."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"[-MAX_NAME_LENGTH:]


def execution_input(
    pipeline_parameters: Mapping[str, str], poll_seconds: int | None = None
) -> dict[str, Any]:
    """The workflow's input: pipeline parameter overrides; everything else takes defaults
    (workflow/inputs.py)."""
    payload: dict[str, Any] = {
        PIPELINE_PARAMETERS: [
            {"Name": name, "Value": value} for name, value in pipeline_parameters.items()
        ]
    }
    if poll_seconds is not None:
        payload[POLL_SECONDS] = poll_seconds
    return payload


def start(sfn: Any, state_machine_arn: str, payload: Mapping[str, Any], name: str) -> str:
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
    )
    return response["executionArn"]


def follow(
    sfn: Any,
    execution_arn: str,
    emit: Callable[[str], None],
    poll_seconds: float = 2.0,
    timeout_seconds: float | None = None,
) -> str:
    """Print state transitions until the execution ends; returns its final status."""
    seen = 0
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        for event in history(sfn, execution_arn):
            if event["id"] > seen:
                seen = event["id"]
                line = describe_event(event)
                if line:
                    emit(line)
        if status != RUNNING:
            return status
        if deadline is not None and time.monotonic() > deadline:
            return status
        time.sleep(poll_seconds)


def describe_event(event: Mapping[str, Any]) -> str | None:
    """One line for the events a person cares about; None for the rest."""
    kind = event["type"]
    when = event["timestamp"]
    clock = when.strftime("%H:%M:%S") if hasattr(when, "strftime") else str(when)
    if kind.endswith("StateEntered"):
        return f"{clock}  entered  {(event.get('stateEnteredEventDetails') or {}).get('name')}"
    if kind.endswith("StateExited"):
        return f"{clock}  exited   {(event.get('stateExitedEventDetails') or {}).get('name')}"
    if kind.endswith("Failed") or kind.endswith("TimedOut") or kind.endswith("Aborted"):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
        error = details.get("error", "")
        cause = str(details.get("cause", ""))[:_CAUSE_CHARS]
        return f"{clock}  {kind}: {error} {cause}".rstrip()
    if kind == "ExecutionSucceeded":
        return f"{clock}  {kind}"
    return None
