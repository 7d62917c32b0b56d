"""The state machine: its ASL's shape, and every path run by moto's ASL interpreter.

The SageMaker Pipeline is a stub executor (behind the real pipeline seam) that registers a
model package with metrics in the emulated S3, or fails like the quality gate does; the
approval Lambda is `fakes.approver`, and the test plays the reviewer with the task token.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fakes import approver

import workflow
from core.settings import Settings
from localaws import PipelineFailed, PipelineRun, local_aws
from localaws.server import LocalAWS
from workflow.substitutions import ENDPOINT_NAME

SETTINGS = Settings()
ASL = workflow.asl(SETTINGS)
THRESHOLD = 6.0
REVIEWER = "alice@example.com"
METRICS = {
    "regression_metrics": {
        "mse": {"value": 4.2, "standard_deviation": 0.3},
        "rmse": {"value": 2.05, "standard_deviation": 0.07},
    }
}


# ---------------------------------------------------------------- the ASL itself


def _states(text: str = ASL) -> dict[str, dict[str, Any]]:
    return json.loads(text)["States"]


def test_asl_is_deterministic_and_uses_exactly_the_declared_placeholders() -> None:
    assert workflow.asl(Settings()) == ASL
    assert workflow.placeholders_in(ASL) == sorted(workflow.DEFINITION_SUBSTITUTIONS)
    assert json.loads(ASL)["StartAt"] == "ApplyDefaults"


def test_every_task_has_a_timeout_a_retry_and_a_way_out() -> None:
    states = _states()
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert len(tasks) >= 15
    for name, task in tasks.items():
        assert "TimeoutSeconds" in task or "TimeoutSecondsPath" in task, name
        assert task["Retry"] and all(r["BackoffRate"] > 1 for r in task["Retry"]), name
        catches = task.get("Catch", [])
        assert catches and catches[-1]["ErrorEquals"] == ["States.ALL"], name
        if ":sagemaker:" in task["Resource"]:
            assert task["Resource"].startswith("arn:aws:states:::aws-sdk:sagemaker:"), name
    approval = states["HumanApproval"]
    assert approval["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert approval["TimeoutSecondsPath"] == "$.config.ApprovalTimeoutSeconds"
    assert [c["ErrorEquals"] for c in approval["Catch"]] == [
        ["Rejected"],
        ["States.Timeout"],
        ["States.ALL"],
    ]
    for name, state in states.items():  # every transition lands on a state
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Catch", []) + state.get("Choices", [])]
        assert all(t in states for t in targets if t), name
    assert states["Failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.failure.Error",
        "CausePath": "$.failure.Cause",
    }


def test_render_fills_every_placeholder_and_names_what_is_wrong() -> None:
    values = workflow.substitution_values(SETTINGS, "123456789012", "eu-west-1")
    rendered = workflow.render(ASL, values)
    assert "${" not in rendered
    assert "arn:aws:lambda:eu-west-1:123456789012:function:" in rendered
    with pytest.raises(ValueError, match="PipelineName"):
        workflow.render(ASL, {**values, "PipelineName": ""})
    with pytest.raises(ValueError, match="Typo"):
        workflow.render(ASL, {**values, "Typo": "x"})
    with pytest.raises(ValueError, match="at most 30"):
        workflow.render(ASL, {**values, ENDPOINT_NAME: "e" * 31})


# ---------------------------------------------------------------- the local AWS


@dataclass
class Stack:
    aws: LocalAWS
    values: dict[str, str]
    queue_url: str
    #: Model package ARNs the stub pipeline registered, by pipeline execution ARN.
    registered: dict[str, str] = field(default_factory=dict)
    #: Notifications read from the topic's queue: (subject, message object).
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def sfn(self) -> Any:
        return self.aws.client("stepfunctions")

    @property
    def sm(self) -> Any:
        return self.aws.client("sagemaker")

    def notifications(self, execution_arn: str) -> list[tuple[str, dict[str, Any]]]:
        sqs = self.aws.client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                break
            for message in got["Messages"]:
                envelope = json.loads(message["Body"])
                self.notes.append((envelope.get("Subject", ""), json.loads(envelope["Message"])))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [n for n in self.notes if execution_arn in n[1].values()]


def _stub_pipeline(stack: Stack, run: PipelineRun) -> None:
    """Registers a package with metrics like the real pipeline, or fails at the quality gate."""
    mse = float(run.parameters.get("TestMse", "4.2"))
    for step in ("Preprocess", "Train", "Evaluate"):
        run.steps.append({"StepName": step, "StepStatus": "Succeeded", "Metadata": {}})
    if mse > THRESHOLD:
        raise PipelineFailed(
            f"Test MSE {mse} is above the quality gate threshold MseThreshold = {THRESHOLD}"
        )
    bucket = SETTINGS.bucket_for(stack.aws.account_id)
    key = f"{SETTINGS.pipeline_name}/{run.execution_arn[-12:]}/Evaluate/output/evaluation.json"
    if run.parameters.get("DeleteReport") != "yes":
        stack.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(METRICS))
    arn = _create_package(stack.sm, metrics_uri=f"s3://{bucket}/{key}")
    stack.registered[run.execution_arn] = arn
    run.steps.append(
        {
            "StepName": "Register-RegisterModel",
            "StepStatus": "Succeeded",
            "Metadata": {"RegisterModel": {"Arn": arn}},
        }
    )
    _create_package(stack.sm, metrics_uri=None)  # a concurrent run's: newer, not ours


def _create_package(sm: Any, metrics_uri: str | None) -> str:
    extra: dict[str, Any] = {}
    if metrics_uri:
        extra["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri}
            }
        }
    return sm.create_model_package(
        ModelPackageGroupName=SETTINGS.model_package_group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    holder: dict[str, Stack] = {}
    with local_aws(executor=lambda run: _stub_pipeline(holder["s"], run)) as aws:
        values = workflow.substitution_values(SETTINGS, aws.account_id, aws.region)
        aws.client("s3").create_bucket(Bucket=SETTINGS.bucket_for(aws.account_id))
        sm = aws.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=SETTINGS.model_package_group)
        sm.create_pipeline(
            PipelineName=SETTINGS.pipeline_name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=SETTINGS.role_arn,
        )
        role = aws.client("iam").create_role(
            RoleName="approval-lambda", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        aws.client("lambda").create_function(
            FunctionName=SETTINGS.approval_function_name,
            Runtime="python3.12",
            Role=role,
            # "fakes.approver", not "tests.fakes.approver": smdebug-rulesconfig (a sagemaker
            # dependency) installs a top-level `tests` package that shadows this folder.
            Handler=f"{approver.__name__}.handler",
            Code={"ZipFile": _lambda_zip()},
        )
        topic = aws.client("sns").create_topic(Name=SETTINGS.notification_topic_name)["TopicArn"]
        assert topic == values["NotificationTopicArn"]
        sqs = aws.client("sqs")
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        holder["s"] = Stack(aws, values, queue_url)
        yield holder["s"]


def _start(stack: Stack, endpoint: str, **given: Any) -> str:
    """Create a state machine for `endpoint` and start it with PollSeconds 0 plus `given`."""
    sfn = stack.sfn
    definition = workflow.render(ASL, {**stack.values, ENDPOINT_NAME: endpoint})
    machine = sfn.create_state_machine(
        name=f"mlops-{uuid.uuid4().hex[:8]}",
        definition=definition,
        roleArn=f"arn:aws:iam::{stack.aws.account_id}:role/sfn",
    )["stateMachineArn"]
    return sfn.start_execution(
        stateMachineArn=machine,
        name=f"run_{uuid.uuid4().hex[:10]}",  # underscores are fine in execution names
        input=json.dumps({"PollSeconds": 0, **given}),
    )["executionArn"]


def _finish(stack: Stack, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = stack.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still running after {timeout} s")


def _decide(stack: Stack, execution_arn: str, approve: bool, comment: str) -> dict[str, Any]:
    request = approver.request_for(execution_arn)
    record = {
        "decision": "approved" if approve else "rejected",
        "decided_by": REVIEWER,
        "comment": comment,
        "decided_at": "2030-01-02T03:04:05Z",
    }
    if approve:
        stack.sfn.send_task_success(taskToken=request["taskToken"], output=json.dumps(record))
    else:
        stack.sfn.send_task_failure(
            taskToken=request["taskToken"], error="Rejected", cause=json.dumps(record)
        )
    return request


def _approved_run(stack: Stack, endpoint: str, **given: Any) -> tuple[str, dict[str, Any]]:
    execution = _start(stack, endpoint, **given)
    _decide(stack, execution, approve=True, comment="Looks good")
    return execution, _finish(stack, execution)


def _entered(stack: Stack, execution_arn: str) -> list[str]:
    events = stack.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def _package(stack: Stack, arn: str) -> dict[str, Any]:
    return stack.sm.describe_model_package(ModelPackageName=arn)


# ---------------------------------------------------------------- the runs


def test_approved_run_deploys_the_package_this_execution_registered(stack: Stack) -> None:
    execution = _start(stack, "ep-approve", Endpoint={"InstanceType": "ml.c5.large"})
    request = _decide(stack, execution, approve=True, comment="Looks good")
    done = _finish(stack, execution)

    assert done["status"] == "SUCCEEDED", done
    pipeline_arn = request["pipelineExecutionArn"]
    package_arn = stack.registered[pipeline_arn]
    assert request["modelPackageArn"] == package_arn  # not the newer package of the group
    assert request["metrics"] == METRICS
    assert request["qualityGate"] == {
        "metric": "mse",
        "threshold": SETTINGS.mse_threshold,
        "comparison": "LessThanOrEqualTo",
    }
    assert request["timeoutSeconds"] == 7 * 24 * 3600
    assert request["executionArn"] == execution

    output = json.loads(done["output"])
    assert output["decision"] == "approved"
    assert output["decided_by"] == REVIEWER
    assert output["modelPackageArn"] == package_arn
    assert (output["endpointName"], output["endpointStatus"]) == ("ep-approve", "InService")

    package = _package(stack, package_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == (
        f"Approved by {REVIEWER} at 2030-01-02T03:04:05Z: Looks good"
    )
    endpoint = stack.sm.describe_endpoint(EndpointName="ep-approve")
    assert endpoint["EndpointConfigName"] == output["endpointConfigName"]
    config = stack.sm.describe_endpoint_config(EndpointConfigName=output["endpointConfigName"])
    variant = config["ProductionVariants"][0]
    # nested defaults survive a partial Endpoint input
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.large", 1)
    model = stack.sm.describe_model(ModelName=variant["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == package_arn
    assert [s for s, m in stack.notifications(execution)] == ["abalone: model deployed"]


def test_rejected_run_marks_the_package_rejected_and_deploys_nothing(stack: Stack) -> None:
    # Also: the reviewer is still asked when evaluation.json cannot be read, with no metrics.
    report_gone = [{"Name": "DeleteReport", "Value": "yes"}]
    execution = _start(stack, "ep-reject", PipelineParameters=report_gone)
    request = _decide(stack, execution, approve=False, comment="MSE too close to the gate")
    done = _finish(stack, execution)

    assert request["metrics"] == {}
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["decision"] == "rejected"
    assert output["decided_by"] == REVIEWER
    reason = f"Rejected by {REVIEWER} at 2030-01-02T03:04:05Z: MSE too close to the gate"
    assert output["reason"] == reason
    package = _package(stack, request["modelPackageArn"])
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Rejected", reason)
    assert stack.sm.list_endpoints(NameContains="ep-reject")["Endpoints"] == []
    assert "CreateModel" not in _entered(stack, execution)
    assert [s for s, m in stack.notifications(execution)] == ["abalone: model rejected"]


def test_no_decision_in_time_rejects_the_package_with_the_reason(stack: Stack) -> None:
    execution = _start(stack, "ep-timeout", ApprovalTimeoutSeconds=1)
    request = approver.request_for(execution)
    done = _finish(stack, execution)

    assert request["timeoutSeconds"] == 1
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["decision"] == "rejected"
    assert output["decided_by"] is None
    assert output["reason"] == "No decision within 1 seconds"
    package = _package(stack, request["modelPackageArn"])
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"] == "No decision within 1 seconds"


def test_failed_quality_gate_fails_the_execution_with_the_metric_and_notifies(
    stack: Stack,
) -> None:
    execution = _start(stack, "ep-gate", PipelineParameters=[{"Name": "TestMse", "Value": "9.1"}])
    done = _finish(stack, execution)

    assert done["status"] == "FAILED", done
    assert done["error"] == "PipelineFailed"
    assert "Test MSE 9.1 is above the quality gate threshold MseThreshold" in done["cause"]
    [(subject, message)] = stack.notifications(execution)
    assert subject == "abalone: MLOps workflow failed"
    assert message == {
        "execution": execution,
        "state": "PipelineFailed",
        "error": "PipelineFailed",
        "cause": done["cause"],
    }
    assert "HumanApproval" not in _entered(stack, execution)


def test_throttled_pipeline_start_is_retried_and_starts_one_execution(stack: Stack) -> None:
    before = len(
        stack.sm.list_pipeline_executions(PipelineName=SETTINGS.pipeline_name)[
            "PipelineExecutionSummaries"
        ]
    )
    stack.aws.inject_fault("start_pipeline_execution", "ThrottlingException")
    execution = _start(stack, "ep-throttle")
    # Also: a rejection whose cause is not the approval record is still a rejection.
    token = approver.request_for(execution)["taskToken"]
    stack.sfn.send_task_failure(taskToken=token, error="Rejected")
    done = _finish(stack, execution)

    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["reason"].startswith("Rejected; the callback gave no")
    events = stack.sfn.get_execution_history(executionArn=execution)["events"]
    failed = [e["taskFailedEventDetails"] for e in events if "taskFailedEventDetails" in e]
    [throttled] = [f for f in failed if f["resource"] == "startPipelineExecution"]
    # moto's name for any unmodelled SageMaker error; the Retry lists it with AWS's names
    assert throttled["error"] == "sagemaker.sagemakerException"
    assert "ThrottlingException" in throttled["cause"]
    after = stack.sm.list_pipeline_executions(PipelineName=SETTINGS.pipeline_name)[
        "PipelineExecutionSummaries"
    ]
    assert len(after) == before + 1


def test_second_approved_run_updates_the_endpoint_to_a_new_config(stack: Stack) -> None:
    _, done = _approved_run(stack, "ep-update")
    assert done["status"] == "SUCCEEDED", done
    first_config = json.loads(done["output"])["endpointConfigName"]

    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    second, done = _approved_run(stack, "ep-update", Endpoint={"Serverless": serverless})

    assert done["status"] == "SUCCEEDED", done
    second_config = json.loads(done["output"])["endpointConfigName"]
    assert second_config != first_config
    endpoint = stack.sm.describe_endpoint(EndpointName="ep-update")
    assert endpoint["EndpointConfigName"] == second_config
    config = stack.sm.describe_endpoint_config(EndpointConfigName=second_config)
    assert config["ProductionVariants"][0]["ServerlessConfig"] == serverless
    entered = _entered(stack, second)
    assert "UpdateEndpoint" in entered and "CreateEndpoint" not in entered


def test_failed_deployment_leaves_the_endpoint_on_its_config_and_notifies(stack: Stack) -> None:
    _, done = _approved_run(stack, "ep-fail")
    assert done["status"] == "SUCCEEDED", done
    serving = json.loads(done["output"])["endpointConfigName"]
    stack.aws.inject_fault("update_endpoint", "ResourceLimitExceeded")

    execution, done = _approved_run(stack, "ep-fail")

    assert done["status"] == "FAILED", done
    assert "ResourceLimitExceeded" in done["error"]
    assert "Injected ResourceLimitExceeded" in done["cause"]
    assert stack.sm.describe_endpoint(EndpointName="ep-fail")["EndpointConfigName"] == serving
    stack.sm.describe_endpoint_config(EndpointConfigName=serving)  # still there
    [(_, message)] = stack.notifications(execution)
    assert (message["state"], message["error"]) == ("UpdateEndpoint", done["error"])


def test_cli_prints_the_asl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlops.cli import main

    assert main(["workflow"]) == 0
    printed = capsys.readouterr().out
    assert printed == workflow.asl(SETTINGS) + "\n"
    assert main(["workflow", "--out", str(tmp_path / "asl.json")]) == 0
    assert (tmp_path / "asl.json").read_text() == printed
    assert json.loads(printed)["StartAt"]
