"""One SageMaker pipeline execution as a run sees it: its data key, its steps, its outcome.

Everything is read through the SageMaker API (clients.sagemaker), so the same code follows
an execution in the embedded local AWS and in a real account.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients import sagemaker as sm
from core.settings import Settings
from mlops.progress import StepReport


def data_key(settings: Settings, path: Path) -> str:
    """A content-addressed key for a data file, so new data never hits a stale step cache."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return settings.prefix("input", digest.hexdigest()[:16], path.name)


@dataclass
class PipelineOutcome:
    """How an execution ended, with its steps as ListPipelineExecutionSteps reported them."""

    execution_arn: str
    status: str
    failure_reason: str | None
    steps: list[dict[str, Any]] = field(default_factory=list)

    def reports(self, step_types: Mapping[str, str]) -> list[StepReport]:
        return [step_report(step, step_types) for step in self.steps]

    def step(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s["StepName"] == name), None)


def step_report(step: Mapping[str, Any], step_types: Mapping[str, str]) -> StepReport:
    start, end = step.get("StartTime"), step.get("EndTime")
    return StepReport(
        name=step["StepName"],
        type=step_types.get(step["StepName"], "?"),
        status=step.get("StepStatus", "Starting"),
        seconds=round((end - start).total_seconds(), 3) if start and end else None,
        cache_hit=bool(step.get("CacheHitResult")),
    )


def watch(
    sagemaker: Any,
    execution_arn: str,
    on_steps: Callable[[list[dict[str, Any]]], None],
    wait: Callable[[float], None] = time.sleep,
    poll_seconds: float = 0.2,
) -> PipelineOutcome:
    """Poll until the execution ends, reporting the steps after every poll.

    `wait(poll_seconds)` runs between polls; the local AWS passes one that returns as soon as
    anything changes, so a poll follows each change at once and no others are needed.
    """
    while True:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        steps = sm.list_steps(sagemaker, execution_arn)
        on_steps(steps)
        status = described["PipelineExecutionStatus"]
        if status in sm.TERMINAL_STATUSES:
            return PipelineOutcome(execution_arn, status, described.get("FailureReason"), steps)
        wait(poll_seconds)


def step_types(definition: Mapping[str, Any]) -> dict[str, str]:
    """Step name to type, branches included."""
    types: dict[str, str] = {}

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            types[step["Name"]] = step["Type"]
            if step["Type"] == "Condition":
                walk(step["Arguments"].get("IfSteps", []))
                walk(step["Arguments"].get("ElseSteps", []))

    walk(list(definition.get("Steps", [])))
    return types
