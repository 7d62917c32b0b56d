"""Decisions taken in the SageMaker model registry end the pending approval (approval/registry.py,
the stack's registry rule, workflow/approval.py's timeout path).

Everything runs through the workflow stack deployed from its template into the local AWS (as
`mlops run` deploys it), with a stub pipeline that registers a package with metrics. A person
approves or rejects in the registry as Studio does: UpdateModelPackage with boto3. SageMaker's
event reaches the stack's approval function through the stack's EventBridge rule.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.stack import approval_request
from fakes.workflow_stack import WorkflowStack, stub_stack

import workflow
from clients.stepfunctions import history
from core import names
from core.settings import Settings
from deploy import template as tpl
from localaws import PipelineRun, events_seam
from mlops.follow import approval_opened
from mlops.reviewer import APPROVE, decide

SETTINGS = Settings()
ASL = workflow.asl(SETTINGS)
METRICS = {"regression_metrics": {"mse": {"value": 4.2, "standard_deviation": 0.3}}}
RULE = names.registry_rule_name(SETTINGS)


class Stack(WorkflowStack):
    @property
    def function_arn(self) -> str:
        name = SETTINGS.approval_function_name
        return str(
            self.aws.client("lambda").get_function(FunctionName=name)["Configuration"][
                "FunctionArn"
            ]
        )


def _stub_pipeline(stack: Stack, run: PipelineRun) -> None:
    """Registers a package with its metrics (evaluation.json), as the real pipeline does."""
    bucket = SETTINGS.bucket_for(stack.aws.account_id)
    key = f"{SETTINGS.pipeline_name}/{run.execution_arn[-12:]}/Evaluate/output/evaluation.json"
    stack.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(METRICS))
    arn = stack.sm.create_model_package(
        ModelPackageGroupName=SETTINGS.model_package_group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{key}"}
            }
        },
    )["ModelPackageArn"]
    stack.registered[run.execution_arn] = arn
    run.steps.append(
        {
            "StepName": "Register-RegisterModel",
            "StepStatus": "Succeeded",
            "Metadata": {"RegisterModel": {"Arn": arn}},
        }
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with stub_stack(SETTINGS, _stub_pipeline, Stack) as deployed:
        yield deployed


@pytest.fixture
def caller(stack: Stack) -> str:
    """Who the registry records for the test's own calls: the credentials' IAM identity."""
    return str(stack.aws.client("sts").get_caller_identity()["Arn"])


def _asked(stack: Stack, execution_arn: str) -> tuple[str, str, str]:
    """Once the approval is open: its package, its id and its review link."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = history(stack.sfn, execution_arn)
        opened = approval_opened(events)
        link = opened and stack.deployed.review_link(opened.approval_id)
        if opened and link:
            return approval_request(events)["modelPackageArn"], opened.approval_id, link
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} asked for no approval within 30 s")


def _item(stack: Stack, approval_id: str) -> dict[str, Any]:
    table = stack.deployed.outputs[tpl.OUT_TABLE_NAME]
    return stack.aws.client("dynamodb").get_item(
        TableName=table, Key={"approval_id": {"S": approval_id}}
    )["Item"]


def _function_deliveries(stack: Stack) -> list[events_seam.Delivery]:
    """EventBridge's deliveries to the approval function, every one queued so far made."""
    log = events_seam.deliveries(stack.aws.account)
    assert log.wait(30)
    return [d for d in log.made() if d.target_arn == stack.function_arn]


def _page(link: str) -> str:
    with urllib.request.urlopen(link) as response:
        return str(response.read().decode())


def test_a_registry_approval_ends_the_wait_and_the_run_deploys(stack: Stack, caller: str) -> None:
    execution = stack.start("registry")
    package, approval_id, link = _asked(stack, execution)
    seen = len(_function_deliveries(stack))

    stack.sm.update_model_package(
        ModelPackageArn=package, ModelApprovalStatus="Approved", ApprovalDescription="Ship it"
    )
    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    item = _item(stack, approval_id)
    assert (output["decision"], output["decided_by"]) == ("approved", caller)
    assert (output["comment"], output["decided_at"]) == ("Ship it", item["decided_at"]["S"])
    assert output["endpointStatus"] == "InService"
    assert (item["status"]["S"], item["decided_via"]["S"]) == ("APPROVED", "model registry")
    assert item["decided_by"]["S"] == caller and "callback" not in item
    assert "ReadRegistryDecision" not in stack.entered(execution)  # no timeout
    page = _page(link)
    assert f"Approved by {caller} at {item['decided_at']['S']} (via the model registry)." in page
    assert "<p>Comment: Ship it</p>" in page
    described = stack.sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Approved"
    # The person's event decided; the workflow's own ApproveModelPackage then changed nothing.
    mine = _function_deliveries(stack)[seen:]
    assert mine and all((d.error, d.function_error) == (None, None) for d in mine)


def test_a_registry_rejection_rejects_the_run(stack: Stack, caller: str) -> None:
    execution = stack.start("registry")
    package, approval_id, _ = _asked(stack, execution)

    stack.sm.update_model_package(
        ModelPackageArn=package, ModelApprovalStatus="Rejected", ApprovalDescription="Too slow"
    )
    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    decided_at = _item(stack, approval_id)["decided_at"]["S"]
    assert (output["decision"], output["decided_by"]) == ("rejected", caller)
    assert output["reason"] == f"Rejected by {caller} at {decided_at}: Too slow"
    assert stack.sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == (
        "Rejected"
    )
    assert "CreateModel" not in stack.entered(execution)
    assert _item(stack, approval_id)["decided_via"]["S"] == "model registry"


@pytest.fixture
def rule_disabled(stack: Stack) -> Iterator[None]:
    """The registry's events do not reach the function: only the timeout path can see them."""
    events = stack.aws.client("events")
    events.disable_rule(Name=RULE)
    try:
        yield
    finally:
        events.enable_rule(Name=RULE)


@pytest.mark.usefixtures("rule_disabled")
def test_a_timeout_after_a_registry_approval_keeps_the_package_approved_and_deploys(
    stack: Stack, caller: str
) -> None:
    execution = stack.start("registry", ApprovalTimeoutSeconds=2)
    package, approval_id, _ = _asked(stack, execution)
    stack.sm.update_model_package(
        ModelPackageArn=package, ModelApprovalStatus="Approved", ApprovalDescription="Good to go"
    )
    approved = stack.sm.describe_model_package(ModelPackageName=package)

    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert (output["decision"], output["decided_by"], output["comment"]) == (
        "approved",
        caller,
        "Good to go",
    )
    assert output["endpointStatus"] == "InService"
    entered = stack.entered(execution)
    assert "DescribeRegistryApproval" in entered
    assert "RejectModelPackage" not in entered and "ApproveModelPackage" not in entered
    described = stack.sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "Good to go"  # the person's, not overwritten
    assert described["LastModifiedTime"] == approved["LastModifiedTime"]
    assert _item(stack, approval_id)["status"]["S"] == "PENDING"  # the function never heard


@pytest.mark.usefixtures("rule_disabled")
def test_a_timeout_after_a_registry_rejection_rejects_without_updating_the_package(
    stack: Stack, caller: str
) -> None:
    execution = stack.start("registry", ApprovalTimeoutSeconds=2)
    package, _, _ = _asked(stack, execution)
    stack.sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Rejected")
    rejected = stack.sm.describe_model_package(ModelPackageName=package)

    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert (output["decision"], output["decided_by"]) == ("rejected", caller)
    assert output["reason"] == f"Rejected in the model registry by {caller}: "
    entered = stack.entered(execution)
    assert "DescribeRegistryRejection" in entered and "RejectModelPackage" not in entered
    described = stack.sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["LastModifiedTime"] == rejected["LastModifiedTime"]


def test_a_timeout_without_a_decision_rejects_and_its_own_update_decides_nothing(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="approval")
    execution = stack.start("registry", ApprovalTimeoutSeconds=1)
    package, approval_id, _ = _asked(stack, execution)
    seen = len(_function_deliveries(stack))

    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert (output["decision"], output["reason"]) == ("rejected", "No decision within 1 seconds")
    assert "RejectModelPackage" in stack.entered(execution)
    described = stack.sm.describe_model_package(ModelPackageName=package)
    assert described["ModelApprovalStatus"] == "Rejected"
    # The workflow's own RejectModelPackage reached the function, which decided nothing.
    [delivery] = _function_deliveries(stack)[seen:]
    assert (delivery.error, delivery.function_error) == (None, None)
    item = _item(stack, approval_id)
    assert item["status"]["S"] == "PENDING" and "decided_by" not in item
    ignored = [r for r in caplog.records if r.getMessage().endswith("; ignored")]
    assert [r.levelno for r in ignored] == [logging.INFO]
    assert f"execution {execution} no longer waits" in ignored[0].getMessage()


def test_the_workflows_own_approval_after_a_review_page_decision_decides_nothing(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="approval")
    execution = stack.start("registry")
    package, approval_id, link = _asked(stack, execution)
    seen = len(_function_deliveries(stack))

    decide(link, APPROVE, "ana@example.com", "fine")
    done = stack.finish(execution)

    assert done["status"] == "SUCCEEDED", done
    [delivery] = _function_deliveries(stack)[seen:]  # ApproveModelPackage's event
    assert (delivery.error, delivery.function_error) == (None, None)
    item = _item(stack, approval_id)
    assert (item["decided_by"]["S"], item["decided_via"]["S"]) == ("ana@example.com", "web")
    ignored = [r.getMessage() for r in caplog.records if r.getMessage().endswith("; ignored")]
    assert ignored == [
        f"model package {package} Approved in the model registry: no pending approval; ignored"
    ]


def test_another_groups_packages_and_other_events_do_not_reach_the_function(stack: Stack) -> None:
    sm = stack.sm
    sm.create_model_package_group(ModelPackageGroupName="someone-elses")
    other = sm.create_model_package(
        ModelPackageGroupName="someone-elses",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    seen = len(_function_deliveries(stack))

    sm.update_model_package(ModelPackageArn=other, ModelApprovalStatus="Approved")

    assert _function_deliveries(stack)[seen:] == []


def _scheduled(resource: str) -> dict[str, Any]:
    return {"type": "TaskScheduled", "taskScheduledEventDetails": {"resource": resource}}


@pytest.mark.parametrize(
    ("events", "waiting"),
    [
        ([_scheduled("invoke.waitForTaskToken")], True),
        ([_scheduled("invoke.waitForTaskToken"), {"type": "TaskStarted"}], True),
        # Timed out, then the workflow's own RejectModelPackage is running: no wait.
        (
            [
                _scheduled("invoke.waitForTaskToken"),
                {"type": "TaskStarted"},
                {"type": "TaskTimedOut"},
                {"type": "TaskStateExited"},
                _scheduled("aws-sdk:sagemaker:updateModelPackage"),
                {"type": "TaskStarted"},
            ],
            False,
        ),
        ([_scheduled("invoke.waitForTaskToken"), {"type": "TaskSucceeded"}], False),
        ([], False),
    ],
)
def test_only_the_approval_tasks_wait_counts_as_waiting(
    events: list[dict[str, Any]], waiting: bool
) -> None:
    from approval.registry import waiting_for_callback

    assert waiting_for_callback(events) is waiting
