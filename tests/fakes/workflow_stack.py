"""The workflow stack in a local AWS whose SageMaker Pipeline is a stub, and the moves tests
make on it: start an execution, wait for its end, list the states it entered.

The stack is deployed as `mlops run` deploys it (mlops.local_workflow.deploy_locally), beside
what it expects to find (the bucket, the model package group, the pipeline the state machine
starts); `stub` stands in for the pipeline executor behind the real pipeline seam.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import workflow
from clients.s3 import ensure_bucket
from clients.stepfunctions import history
from core.settings import Settings
from localaws import PipelineRun, local_aws
from localaws.server import LocalAWS
from mlops.local_workflow import LocalWorkflow, deploy_locally


@dataclass
class WorkflowStack:
    aws: LocalAWS
    #: The deployed workflow stack: its state machine, topic and approval function.
    deployed: LocalWorkflow
    #: Model package ARNs the stub pipeline registered, by pipeline execution ARN.
    registered: dict[str, str] = field(default_factory=dict)

    @property
    def sfn(self) -> Any:
        return self.aws.client("stepfunctions")

    @property
    def sm(self) -> Any:
        return self.aws.client("sagemaker")

    def start(self, prefix: str = "run", **given: Any) -> str:
        """Start the state machine with PollSeconds 0, no bake, plus `given`."""
        return self.sfn.start_execution(
            stateMachineArn=self.deployed.state_machine_arn,
            name=f"{prefix}_{uuid.uuid4().hex[:10]}",  # underscores are fine in execution names
            input=json.dumps({"PollSeconds": 0, "Rollout": {"WaitIntervalInSeconds": 0}, **given}),
        )["executionArn"]

    def finish(self, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
        """The execution once it has ended (DescribeExecution)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def entered(self, execution_arn: str) -> list[str]:
        """The states the execution entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in history(self.sfn, execution_arn)
            if "stateEnteredEventDetails" in e
        ]


Stack = TypeVar("Stack", bound=WorkflowStack)


@contextmanager
def stub_stack(
    settings: Settings, stub: Callable[[Any, PipelineRun], None], kind: type[Stack]
) -> Iterator[Stack]:
    """The stack deployed from its template (as a `kind`), its pipeline runs answered by
    `stub`."""
    holder: dict[str, Stack] = {}
    with local_aws(executor=lambda run: stub(holder["stack"], run)) as aws:
        ensure_bucket(aws.client("s3"), settings.bucket_for(aws.account_id), aws.region)
        sm = aws.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=settings.model_package_group)
        sm.create_pipeline(
            PipelineName=settings.pipeline_name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=settings.role_arn,
        )
        with deploy_locally(aws, settings, workflow.asl(settings)) as deployed:
            holder["stack"] = kind(aws, deployed)
            yield holder["stack"]
