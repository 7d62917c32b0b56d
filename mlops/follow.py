"""Following a state machine execution: its pipeline's steps, its task states, its review link.

Everything is read through the public APIs (execution history, ListPipelineExecutionSteps),
so the same code follows an execution on AWS.
"""

from __future__ import annotations

import json
from typing import Any

from mlops import pipeline_run
from mlops.progress import Progress

APPROVAL_STATE = "HumanApproval"
#: Task states that poll or fetch; a person following a run does not need to see them.
_QUIET_STATES = {
    "StartPipeline",
    "DescribePipelineExecution",
    "ListPipelineExecutionSteps",
    "DescribeModelPackage",
    "GetMetricsReport",
    "FindEndpoint",
    "DescribeEndpoint",
}


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def state_name(event: dict[str, Any]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        if key in event:
            return event[key]["name"]
    return None


def review_url(events: list[dict[str, Any]]) -> str | None:
    """The link the approval Lambda returned when the approval task was submitted."""
    for event in events:
        if event["type"] == "TaskSubmitted":
            output = json.loads(event["taskSubmittedEventDetails"].get("output") or "{}")
            payload = output.get("Payload")
            payload = json.loads(payload) if isinstance(payload, str) else payload or {}
            if payload.get("reviewUrl"):
                return payload["reviewUrl"]
    return None


def phase_times(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent before, in and after the approval task, from the history's timestamps."""
    if not events:
        return {}
    started, ended = events[0]["timestamp"], events[-1]["timestamp"]
    entered = next(
        (
            e["timestamp"]
            for e in events
            if e["type"] == "TaskStateEntered" and state_name(e) == APPROVAL_STATE
        ),
        None,
    )
    exited = next(
        (
            e["timestamp"]
            for e in events
            if e["type"] == "TaskStateExited" and state_name(e) == APPROVAL_STATE
        ),
        None,
    )
    if entered is None:
        return {"pipeline": (ended - started).total_seconds()}
    times = {"pipeline": (entered - started).total_seconds()}
    if exited is not None:
        times["approval"] = (exited - entered).total_seconds()
        times["deploy"] = (ended - exited).total_seconds()
    return times


class ExecutionFollower:
    """Prints the pipeline's steps, then the workflow's task states, as they change."""

    def __init__(
        self,
        sfn: Any,
        sagemaker: Any,
        execution_arn: str,
        pipeline_name: str,
        step_types: dict[str, str],
        progress: Progress,
    ) -> None:
        self.sfn, self.sagemaker = sfn, sagemaker
        self.execution_arn = execution_arn
        self.pipeline_name = pipeline_name
        self.step_types = step_types
        self.progress = progress
        self.pipeline_execution_arn: str | None = None
        self._pipeline_done = False
        self.events: list[dict[str, Any]] = []
        self._entered: dict[str, Any] = {}

    def poll(self) -> str:
        """Report what changed; returns the execution's status."""
        status = self.sfn.describe_execution(executionArn=self.execution_arn)["status"]
        self._pipeline_steps()
        new = history(self.sfn, self.execution_arn)[len(self.events) :]
        self.events.extend(new)
        for event in new:
            self._report(event)
        return status

    def _pipeline_steps(self) -> None:
        if self.pipeline_execution_arn is None:
            summaries = self.sagemaker.list_pipeline_executions(PipelineName=self.pipeline_name)[
                "PipelineExecutionSummaries"
            ]
            if not summaries:
                return
            self.pipeline_execution_arn = summaries[0]["PipelineExecutionArn"]
        steps = pipeline_run.list_steps(self.sagemaker, self.pipeline_execution_arn)
        self.progress.update(pipeline_run.step_report(s, self.step_types) for s in steps)

    def _report(self, event: dict[str, Any]) -> None:
        name = state_name(event)
        if name is None or name in _QUIET_STATES:
            return
        if event["type"] == "TaskStateEntered":
            self._entered[name] = event["timestamp"]
            word = "waiting" if name == APPROVAL_STATE else "running"
            self.progress.line(name, word)
        elif event["type"] == "TaskStateExited" and name in self._entered:
            seconds = (event["timestamp"] - self._entered.pop(name)).total_seconds()
            self.progress.line(name, "done", seconds)
