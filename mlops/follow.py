"""Following a workflow execution: its pipeline's steps, its task states, its approval.

One follower serves `mlops run` and `mlops start --follow`. Everything is read through the
public APIs (the execution's history, ListPipelineExecutionSteps), so it follows an
execution on AWS as it does one in the local AWS. The pipeline execution is the one the
history says this execution started, never a guess such as "the latest one".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clients import sagemaker as sm
from clients import stepfunctions as sfn_client
from core import contracts
from mlops.pipeline_run import step_report
from mlops.progress import Progress

_CAUSE_CHARS = 500


def state_name(event: Mapping[str, Any]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        if key in event:
            return event[key]["name"]
    return None


@dataclass(frozen=True)
class ApprovalOpened:
    """What the approval function answered: the approval's id and where the link went."""

    approval_id: str
    notified: tuple[str, ...]


def approval_opened(events: list[dict[str, Any]]) -> ApprovalOpened | None:
    """The approval the function opened when the approval task was submitted, if it has."""
    for event in events:
        if event["type"] == "TaskSubmitted":
            payload = _json(event["taskSubmittedEventDetails"].get("output")).get("Payload")
            payload = _json(payload) if isinstance(payload, str) else payload or {}
            if payload.get(contracts.APPROVAL_ID):
                notified = payload.get(contracts.NOTIFIED) or []
                return ApprovalOpened(str(payload[contracts.APPROVAL_ID]), tuple(notified))
    return None


def started_pipeline_execution(events: list[dict[str, Any]]) -> str | None:
    """The pipeline execution ARN from this execution's StartPipelineExecution result."""
    for event in events:
        details = event.get("taskSucceededEventDetails") or {}
        if details.get("resource") == "startPipelineExecution":
            arn = _json(details.get("output")).get("PipelineExecutionArn")
            if arn:
                return arn
    return None


def phase_times(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent before, in and after the approval task, from the history's timestamps."""
    if not events:
        return {}
    started, ended = events[0]["timestamp"], events[-1]["timestamp"]

    def at(kind: str) -> Any:
        return next(
            (
                e["timestamp"]
                for e in events
                if e["type"] == kind and state_name(e) == contracts.APPROVAL_STATE
            ),
            None,
        )

    entered, exited = at("TaskStateEntered"), at("TaskStateExited")
    if entered is None:
        return {"pipeline": (ended - started).total_seconds()}
    times = {"pipeline": (entered - started).total_seconds()}
    if exited is not None:
        times["approval"] = (exited - entered).total_seconds()
        times["deploy"] = (ended - exited).total_seconds()
    # Part of deploy: from the smoke test's first state to its verdict.
    smoke = [e["timestamp"] for e in events if state_name(e) in _SMOKE_TEST_STATES]
    if smoke:
        times["smoke_test"] = (max(smoke) - min(smoke)).total_seconds()
    return times


#: The states of the smoke test, first to verdict.
_SMOKE_TEST_STATES = frozenset(
    {
        contracts.SMOKE_TEST_FIRST_STATE,
        *contracts.SMOKE_TEST_RESULT_STATES,
        contracts.SMOKE_TEST_VERDICT_STATE,
    }
)


def failure_line(event: Mapping[str, Any]) -> str | None:
    """'<EventType>: <error> <cause>' for a failed, timed-out or aborted event, else None."""
    kind = event["type"]
    if not kind.endswith(("Failed", "TimedOut", "Aborted")):
        return None
    details: Mapping[str, Any] = (
        next((v for k, v in event.items() if k.endswith("EventDetails")), {}) or {}
    )
    cause = str(details.get("cause", ""))[:_CAUSE_CHARS]
    return f"{kind}: {details.get('error', '')} {cause}".rstrip()


class ExecutionFollower:
    """Reports the pipeline's steps, then the workflow's task states, as they change."""

    def __init__(
        self,
        sfn: Any,
        sagemaker: Any,
        execution_arn: str,
        step_types: Mapping[str, str],
        progress: Progress,
        on_approval: Callable[[ApprovalOpened], None] | None = None,
    ) -> None:
        self.sfn, self.sagemaker = sfn, sagemaker
        self.execution_arn = execution_arn
        self.step_types = step_types
        self.progress = progress
        self.on_approval = on_approval
        self.pipeline_execution_arn: str | None = None
        self.approval: ApprovalOpened | None = None
        self.events: list[dict[str, Any]] = []
        self._entered: dict[str, Any] = {}

    def poll(self) -> str:
        """Report what changed since the last poll; returns the execution's status."""
        status = sfn_client.describe_execution(self.sfn, self.execution_arn)["status"]
        last = self.events[-1]["id"] if self.events else 0
        new = sfn_client.history(self.sfn, self.execution_arn, after=last)
        self.events.extend(new)
        if self.pipeline_execution_arn is None:
            self.pipeline_execution_arn = started_pipeline_execution(new)
        if self.pipeline_execution_arn is not None:
            steps = sm.list_steps(self.sagemaker, self.pipeline_execution_arn)
            self.progress.update(step_report(s, self.step_types) for s in steps)
        for event in new:
            self._report(event)
        if self.approval is None and (opened := approval_opened(new)):
            self.approval = opened
            if self.on_approval is not None:
                self.on_approval(opened)
        return status

    def follow(self, interval: float) -> str:
        """Poll every `interval` seconds until the execution ends; returns its status."""
        while (status := self.poll()) == sfn_client.RUNNING:
            time.sleep(interval)
        return status

    def _report(self, event: dict[str, Any]) -> None:
        if (line := failure_line(event)) is not None:
            self.progress.note(line)
            return
        name = state_name(event)
        if name is None or name in contracts.QUIET_STATES:
            return
        if event["type"] == "TaskStateEntered":
            self._entered[name] = event["timestamp"]
            word = "waiting" if name == contracts.APPROVAL_STATE else "running"
            self.progress.line(name, word)
        elif event["type"] == "TaskStateExited" and name in self._entered:
            seconds = (event["timestamp"] - self._entered.pop(name)).total_seconds()
            self.progress.line(name, "done", seconds)


def _json(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
