"""Step Functions: starting an execution and reading it back."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
#: Step Functions allows 80 characters of [A-Za-z0-9-_] in an execution name.
MAX_NAME_LENGTH = 80


def execution_name(prefix: str = "manual") -> str:
    """`<prefix>-<UTC time>-<random>`: unique, sortable, valid."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"[-MAX_NAME_LENGTH:]


def start_execution(
    sfn: Any, state_machine_arn: str, name: str, execution_input: Mapping[str, Any]
) -> str:
    """Start with an explicit name (unique per start, so a retried start is idempotent)."""
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )
    return response["executionArn"]


def describe_execution(sfn: Any, execution_arn: str) -> dict[str, Any]:
    return sfn.describe_execution(executionArn=execution_arn)


def history(sfn: Any, execution_arn: str, after: int = 0) -> list[dict[str, Any]]:
    """The execution's history events with ids above `after`, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(e for e in page["events"] if e["id"] > after)
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
