"""The state machine: its ASL's shape, and every path run by moto's ASL interpreter.

The runs go through the workflow stack deployed from its template into the local AWS, as
`mlops run` deploys it (mlops.local_workflow.deploy_locally). The SageMaker Pipeline is a stub
executor (behind the real pipeline seam) that registers a model package with metrics in the
emulated S3, or fails like the quality gate does; the approval function is the stack's own,
and the test plays the reviewer on its review page (mlops.reviewer, as `mlops run --approve`).
"""

from __future__ import annotations

import functools
import json
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakes.job_scripts import load_script
from fakes.stack import approval_request
from fakes.workflow_stack import WorkflowStack, stub_stack

import workflow
from clients.stepfunctions import history
from core.names import rollback_alarm_names
from core.settings import Settings
from deploy import template as tpl
from localaws import PipelineFailed, PipelineRun, events_seam
from mlops.follow import approval_opened
from mlops.reviewer import APPROVE, REJECT, decide
from workflow.substitutions import ENDPOINT_NAME

SETTINGS = Settings()
ASL = workflow.asl(SETTINGS)
THRESHOLD = 6.0
REVIEWER = "alice@example.com"
#: The stack's state machine deploys to this endpoint (the template substitutes it).
ENDPOINT = SETTINGS.endpoint_name
ERRORS_ALARM = rollback_alarm_names(SETTINGS)[0]
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


class Stack(WorkflowStack):
    def notifications(self, execution_arn: str) -> list[tuple[str, dict[str, Any]]]:
        """What the workflow published to the stack's topic about one execution:
        (subject, message object)."""
        published = self.aws.published(self.deployed.topic_arn)
        notes = [(p["Subject"] or "", json.loads(p["Message"])) for p in published]
        return [n for n in notes if execution_arn in n[1].values()]


XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
FEATURES = 10


#: A script-mode model (the inference toolkit's handlers) that answers like the evaluated one
#: on rows like the sample's, and fails (500) on a feature it never saw in training.
FRAGILE_HANDLERS = """
import os

import numpy as np
import xgboost as xgb


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line]
    return np.array(rows, dtype=np.float32)


def predict_fn(data, model):
    if (data >= 0.95).any():
        raise ValueError("a feature of 0.95 or more: outside what this model was trained on")
    return model.predict(xgb.DMatrix(data))


def output_fn(prediction, accept):
    return "".join(f"{float(p)!r}\\n" for p in prediction)
"""


def _booster(seed: int, features: int = FEATURES, handlers: str | None = None) -> bytes:
    """A small real XGBoost model as the training job's model.tar.gz; with `handlers`, a
    script-mode model whose code/inference.py they are."""
    import io
    import tarfile

    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    x = rng.random((200, features), dtype=np.float32)
    y = x @ rng.random(features) * 10
    booster = xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(x, label=y), 10)
    raw = bytes(booster.save_raw("ubj"))
    files = {"xgboost-model": raw}
    if handlers:
        files["code/inference.py"] = handlers.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


#: Model archives a stub run registers (pipeline parameter "Model"): the evaluated one, one
#: that answers otherwise, one that cannot take the sample's rows, and no model at all.
MODELS = {
    "evaluated": lambda: _booster(1),
    "other": lambda: _booster(2),
    "narrow": lambda: _booster(1, features=4),
    "broken": lambda: b"not a model archive",
    "fragile": lambda: _booster(1, handlers=FRAGILE_HANDLERS),
}
#: The container environment a model needs (script mode names its entry point).
MODEL_ENVIRONMENT = {"fragile": {"SAGEMAKER_PROGRAM": "inference.py"}}


@functools.cache
def _smoke_test_sample() -> tuple[str, str]:
    """Sample rows and the evaluated model's predictions for them, as evaluate.py writes
    (the same for every run: made once)."""
    import numpy as np
    import xgboost as xgb

    evaluate = load_script("evaluate")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "model.tar.gz").write_bytes(MODELS["evaluated"]())
        booster = evaluate.load_model(str(folder))
        # Features below 0.9, as the training data's: the fragile model answers them correctly.
        x = np.random.default_rng(7).random((25, FEATURES), dtype=np.float32) * np.float32(0.9)
        predictions = booster.predict(xgb.DMatrix(x)).astype(np.float64)
        written = evaluate.write_smoke_test_sample(str(folder), x, predictions, 20)
        return (written / "payload.csv").read_text(), (written / "predictions.csv").read_text()


def _stub_pipeline(stack: Stack, run: PipelineRun) -> None:
    """Registers a package with metrics like the real pipeline, or fails at the quality gate.

    With the pipeline parameter "Model" it also registers a real model (MODELS) and writes
    the evaluation's smoke-test sample beside evaluation.json, as the real pipeline does.
    """
    mse = float(run.parameters.get("TestMse", "4.2"))
    for step in ("Preprocess", "Train", "Evaluate"):
        run.steps.append({"StepName": step, "StepStatus": "Succeeded", "Metadata": {}})
    if mse > THRESHOLD:
        raise PipelineFailed(
            f"Test MSE {mse} is above the quality gate threshold MseThreshold = {THRESHOLD}"
        )
    bucket = SETTINGS.bucket_for(stack.aws.account_id)
    key = f"{SETTINGS.pipeline_name}/{run.execution_arn[-12:]}/Evaluate/output/evaluation.json"
    s3 = stack.aws.client("s3")
    if run.parameters.get("DeleteReport") != "yes":
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(METRICS))
    model = run.parameters.get("Model")
    model_uri = None
    if model:
        folder = key.rsplit("/", 1)[0]
        payload, predictions = _smoke_test_sample()
        s3.put_object(Bucket=bucket, Key=f"{folder}/smoke-test/payload.csv", Body=payload)
        s3.put_object(Bucket=bucket, Key=f"{folder}/smoke-test/predictions.csv", Body=predictions)
        model_key = f"{SETTINGS.pipeline_name}/{run.execution_arn[-12:]}/Train/model.tar.gz"
        s3.put_object(Bucket=bucket, Key=model_key, Body=MODELS[model]())
        model_uri = f"s3://{bucket}/{model_key}"
    arn = _create_package(
        stack.sm,
        metrics_uri=f"s3://{bucket}/{key}",
        model_uri=model_uri,
        environment=MODEL_ENVIRONMENT.get(model or "", {}),
    )
    stack.registered[run.execution_arn] = arn
    run.steps.append(
        {
            "StepName": "Register-RegisterModel",
            "StepStatus": "Succeeded",
            "Metadata": {"RegisterModel": {"Arn": arn}},
        }
    )
    _create_package(stack.sm, metrics_uri=None)  # a concurrent run's: newer, not ours


def _create_package(
    sm: Any,
    metrics_uri: str | None,
    model_uri: str | None = None,
    environment: dict[str, str] | None = None,
) -> str:
    extra: dict[str, Any] = {}
    container: dict[str, Any] = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}
    if model_uri:
        container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": model_uri}
        if environment:
            container["Environment"] = environment
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
            "Containers": [container],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


@pytest.fixture(scope="module")
def deployed_stack() -> Iterator[Stack]:
    """The workflow stack deployed as `mlops run` deploys it, once for the module."""
    with stub_stack(SETTINGS, _stub_pipeline, Stack) as deployed:
        values = workflow.substitution_values(
            SETTINGS, deployed.aws.account_id, deployed.aws.region
        )
        assert deployed.deployed.topic_arn == values["NotificationTopicArn"]
        yield deployed


@pytest.fixture
def stack(deployed_stack: Stack) -> Stack:
    """The module's stack with no endpoint: each test deploys as if for the first time."""
    sm = deployed_stack.sm
    for endpoint in sm.list_endpoints(NameContains=ENDPOINT)["Endpoints"]:
        if endpoint["EndpointName"] == ENDPOINT:
            sm.delete_endpoint(EndpointName=ENDPOINT)
    return deployed_stack


def _asked(stack: Stack, execution_arn: str, timeout: float = 30) -> tuple[dict[str, Any], str]:
    """Once the approval function has answered: the request it got, and the review link
    from the Slack message it sent (the execution's history holds only the approval id)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = history(stack.sfn, execution_arn)
        opened = approval_opened(events)
        link = opened and stack.deployed.review_link(opened.approval_id)
        if link:
            return approval_request(events), link
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} asked for no approval within {timeout} s")


def _decided_at(stack: Stack, execution_arn: str) -> str:
    """When the approval function recorded the decision on the execution's approval."""
    table = stack.deployed.outputs[tpl.OUT_TABLE_NAME]
    items = stack.aws.client("dynamodb").scan(TableName=table)["Items"]
    (item,) = [i for i in items if i["execution_arn"]["S"] == execution_arn]
    return item["decided_at"]["S"]


def _decide(
    stack: Stack, execution_arn: str, approve: bool, comment: str
) -> tuple[dict[str, Any], str]:
    """Decide on the review page, as a reviewer does; the request and the decision's time."""
    request, link = _asked(stack, execution_arn)
    page = decide(link, APPROVE if approve else REJECT, REVIEWER, comment)
    assert "workflow has received the decision" in page, page
    return request, _decided_at(stack, execution_arn)


def _approved_run(stack: Stack, **given: Any) -> tuple[str, dict[str, Any]]:
    execution = stack.start(**given)
    _decide(stack, execution, approve=True, comment="Looks good")
    return execution, stack.finish(execution)


def _package(stack: Stack, arn: str) -> dict[str, Any]:
    return stack.sm.describe_model_package(ModelPackageName=arn)


# ---------------------------------------------------------------- the runs


def test_approved_run_deploys_the_package_this_execution_registered(stack: Stack) -> None:
    execution = stack.start(Endpoint={"InstanceType": "ml.c5.large"})
    request, decided_at = _decide(stack, execution, approve=True, comment="Looks good")
    done = stack.finish(execution)

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
    assert request["trigger"] == {"Type": "manual"}  # the default

    output = json.loads(done["output"])
    assert output["decision"] == "approved"
    assert output["decided_by"] == REVIEWER
    assert output["modelPackageArn"] == package_arn
    assert (output["endpointName"], output["endpointStatus"]) == (ENDPOINT, "InService")

    package = _package(stack, package_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == f"Approved by {REVIEWER} at {decided_at}: Looks good"
    endpoint = stack.sm.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == output["endpointConfigName"]
    config = stack.sm.describe_endpoint_config(EndpointConfigName=output["endpointConfigName"])
    variant = config["ProductionVariants"][0]
    # nested defaults survive a partial Endpoint input
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.c5.large", 1)
    model = stack.sm.describe_model(ModelName=variant["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == package_arn
    assert [s for s, m in stack.notifications(execution)] == ["abalone: model deployed"]


def test_the_reviewer_and_the_notifications_say_why_the_run_started(stack: Stack) -> None:
    drift = {
        "Type": "drift",
        "Alarm": "abalone-endpoint-data-drift",
        "Reason": "Threshold Crossed: 1 datapoint [0.71] was greater than the threshold (0.1).",
        "Features": [{"Name": "shell_weight"}, {"Name": "whole_weight"}],
    }
    execution = stack.start(Trigger=drift)
    request, link = _asked(stack, execution)
    with urllib.request.urlopen(link) as response:  # what a reviewer opens
        page = response.read().decode()
    decide(link, REJECT, REVIEWER, "drifted, but not better")
    done = stack.finish(execution)

    assert request["trigger"] == drift
    why = "data drift in shell_weight, whole_weight (alarm abalone-endpoint-data-drift: "
    assert f"<dt>Why this run</dt><dd>{why}" in page
    sent = [json.dumps(p) for p in stack.deployed.slack.payloads]
    assert any("*Why this run:* data drift in shell_weight, whole_weight" in p for p in sent)
    assert json.loads(done["output"])["trigger"] == drift
    [(_, message)] = stack.notifications(execution)
    assert message["trigger"] == drift


def test_rejected_run_marks_the_package_rejected_and_deploys_nothing(stack: Stack) -> None:
    # Also: the reviewer is still asked when evaluation.json cannot be read, with no metrics.
    report_gone = [{"Name": "DeleteReport", "Value": "yes"}]
    execution = stack.start(PipelineParameters=report_gone)
    request, decided_at = _decide(
        stack, execution, approve=False, comment="MSE too close to the gate"
    )
    done = stack.finish(execution)

    assert request["metrics"] == {}
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["decision"] == "rejected"
    assert output["decided_by"] == REVIEWER
    reason = f"Rejected by {REVIEWER} at {decided_at}: MSE too close to the gate"
    assert output["reason"] == reason
    package = _package(stack, request["modelPackageArn"])
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Rejected", reason)
    assert stack.sm.list_endpoints(NameContains=ENDPOINT)["Endpoints"] == []
    assert "CreateModel" not in stack.entered(execution)
    assert [s for s, m in stack.notifications(execution)] == ["abalone: model rejected"]


def test_no_decision_in_time_rejects_the_package_with_the_reason(stack: Stack) -> None:
    execution = stack.start(ApprovalTimeoutSeconds=1)
    request, _ = _asked(stack, execution)
    done = stack.finish(execution)

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
    trigger = {"Type": "new-data", "Object": "s3://data/input/batch-7.csv"}
    execution = stack.start(
        PipelineParameters=[{"Name": "TestMse", "Value": "9.1"}], Trigger=trigger
    )
    done = stack.finish(execution)

    assert done["status"] == "FAILED", done
    assert done["error"] == "PipelineFailed"
    assert "Test MSE 9.1 is above the quality gate threshold MseThreshold" in done["cause"]
    [(subject, message)] = stack.notifications(execution)
    assert subject == "abalone: MLOps workflow failed"
    assert message == {
        "execution": execution,
        "trigger": trigger,
        "state": "PipelineFailed",
        "error": "PipelineFailed",
        "cause": done["cause"],
    }
    assert "HumanApproval" not in stack.entered(execution)


def test_throttled_pipeline_start_is_retried_and_starts_one_execution(stack: Stack) -> None:
    before = len(
        stack.sm.list_pipeline_executions(PipelineName=SETTINGS.pipeline_name)[
            "PipelineExecutionSummaries"
        ]
    )
    stack.aws.inject_fault("start_pipeline_execution", "ThrottlingException")
    execution = stack.start()
    # Also: a rejection whose cause is not the approval record is still a rejection. The
    # approval function always sends its record, so this callback goes straight to Step
    # Functions with the task token the function was given.
    token = _asked(stack, execution)[0]["taskToken"]
    stack.sfn.send_task_failure(taskToken=token, error="Rejected")
    done = stack.finish(execution)

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
    _, done = _approved_run(stack)
    assert done["status"] == "SUCCEEDED", done
    first_config = json.loads(done["output"])["endpointConfigName"]

    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    second, done = _approved_run(stack, Endpoint={"Serverless": serverless})

    assert done["status"] == "SUCCEEDED", done
    second_config = json.loads(done["output"])["endpointConfigName"]
    assert second_config != first_config
    endpoint = stack.sm.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == second_config
    config = stack.sm.describe_endpoint_config(EndpointConfigName=second_config)
    assert config["ProductionVariants"][0]["ServerlessConfig"] == serverless
    entered = stack.entered(second)
    # The new config was smoke-tested on a temporary endpoint of its own, which is gone; the
    # live endpoint was updated (serverless: at once, without a deployment config).
    assert {"CreateEndpoint", "SmokeTest", "DeleteTemporaryEndpoint"} <= set(entered)
    assert "UpdateServerlessEndpoint" in entered and "UpdateEndpoint" not in entered
    live = [e["EndpointName"] for e in stack.sm.list_endpoints()["Endpoints"]]
    assert live == [ENDPOINT]


def test_failed_deployment_leaves_the_endpoint_on_its_config_and_notifies(stack: Stack) -> None:
    _, done = _approved_run(stack)
    assert done["status"] == "SUCCEEDED", done
    serving = json.loads(done["output"])["endpointConfigName"]
    stack.aws.inject_fault("update_endpoint", "ResourceLimitExceeded")

    execution, done = _approved_run(stack)

    assert done["status"] == "FAILED", done
    assert "ResourceLimitExceeded" in done["error"]
    assert "Injected ResourceLimitExceeded" in done["cause"]
    assert stack.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == serving
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


# ---------------------------------------------------------------- the smoke test


def _model_run(stack: Stack, model: str, **given: Any) -> tuple[str, dict[str, Any]]:
    parameters = [{"Name": "Model", "Value": model}]
    return _approved_run(stack, PipelineParameters=parameters, **given)


def _live_endpoints(stack: Stack) -> list[str]:
    return [e["EndpointName"] for e in stack.sm.list_endpoints()["Endpoints"]]


def test_the_smoke_test_passes_before_the_first_deployment_takes_traffic(stack: Stack) -> None:
    execution, done = _model_run(stack, "evaluated")

    assert done["status"] == "SUCCEEDED", done
    smoke = json.loads(done["output"])["smokeTest"]
    assert smoke["status"] == "passed", smoke
    assert (smoke["rows"], smoke["max_abs_diff"], smoke["endpoint"]) == (20, 0.0, ENDPOINT)
    entered = stack.entered(execution)
    assert entered.index("SmokeTest") < entered.index("DeploymentResult")
    assert "TestOnNewEndpoint" in entered and "DeleteTestedEndpoint" not in entered


def test_a_model_that_answers_otherwise_fails_and_the_live_endpoint_keeps_its_config(
    stack: Stack,
) -> None:
    _, done = _model_run(stack, "evaluated")
    serving = json.loads(done["output"])["endpointConfigName"]

    execution, done = _model_run(stack, "other")

    assert done["status"] == "FAILED", done
    assert done["error"] == "SmokeTestFailed"
    assert (
        "row 1 of the sample" in done["cause"] and "live endpoint was not changed" in done["cause"]
    )
    assert stack.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == serving
    # The new config was tried on a temporary endpoint only, which is gone.
    assert "TestOnTemporaryEndpoint" in stack.entered(execution)
    assert _live_endpoints(stack) == [ENDPOINT]
    [(subject, message)] = stack.notifications(execution)
    assert (message["state"], message["error"]) == ("SmokeTestFailed", "SmokeTestFailed")
    assert "failed" in subject


def test_a_model_that_cannot_answer_fails_the_first_deployment_and_serves_nothing(
    stack: Stack,
) -> None:
    execution, done = _model_run(stack, "narrow")

    assert done["status"] == "FAILED", done
    assert done["error"] == "SmokeTestFailed"
    assert "ModelError" in done["cause"], done["cause"]
    # No endpoint serves an untested model: the one created for it was deleted.
    assert ENDPOINT not in _live_endpoints(stack)
    assert "DeleteTestedEndpoint" in stack.entered(execution)


# ---------------------------------------------------------------- the rollout


def _traffic_during_rollout(stack: Stack, row: str, stop: threading.Event) -> list[str]:
    """Requests to the live endpoint, as its clients keep sending them, until `stop`; the
    outcome of each ("ok" or the error code)."""
    runtime = stack.aws.client("sagemaker-runtime")
    outcomes: list[str] = []
    while not stop.is_set():
        try:
            runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=row)
            outcomes.append("ok")
        except runtime.exceptions.ModelError:
            outcomes.append("ModelError")
        time.sleep(0.02)
    return outcomes


def test_a_canary_that_fails_under_traffic_rolls_back_on_the_alarm(stack: Stack) -> None:
    two = {"Endpoint": {"InitialInstanceCount": 2}}
    _, done = _model_run(stack, "evaluated", **two)
    assert done["status"] == "SUCCEEDED", done
    serving = json.loads(done["output"])["endpointConfigName"]

    # The fragile model answers the smoke test's rows as evaluated, and fails (500) on rows
    # with a feature it never saw: live traffic has them.
    rollout = {"Type": "CANARY", "StepPercent": 50, "WaitIntervalInSeconds": 5}
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        traffic = pool.submit(_traffic_during_rollout, stack, ",".join(["0.97"] * FEATURES), stop)
        try:
            execution, done = _model_run(stack, "fragile", Rollout=rollout, **two)
        finally:
            stop.set()
        outcomes = traffic.result()

    assert done["status"] == "FAILED", done
    assert done["error"] == "EndpointDeploymentFailed"
    assert ERRORS_ALARM in done["cause"], done["cause"]
    entered = stack.entered(execution)
    assert "SmokeTest" in entered and "UpdateEndpoint" in entered and "RolloutFailed" in entered
    endpoint = stack.sm.describe_endpoint(EndpointName=ENDPOINT)
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", serving)
    # The canary answered some of the traffic with errors, the old fleet the rest.
    assert "ModelError" in outcomes and "ok" in outcomes
    [alarm] = stack.aws.client("cloudwatch").describe_alarms(AlarmNames=[ERRORS_ALARM])[
        "MetricAlarms"
    ]
    assert alarm["StateValue"] == "ALARM"
    [(_, message)] = stack.notifications(execution)
    assert message["state"] == "RolloutFailed"


# ---------------------------------------------------------------- the triggers


def _executions(stack: Stack) -> list[dict[str, Any]]:
    return stack.sfn.list_executions(stateMachineArn=stack.deployed.state_machine_arn)["executions"]


def test_an_upload_under_the_input_prefix_starts_one_run_with_it_as_input(stack: Stack) -> None:
    s3 = stack.aws.client("s3")
    bucket = SETTINGS.bucket_for(stack.aws.account_id)
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "EventBridgeConfiguration" in notifications  # the stack's deployment turned it on
    before = {e["executionArn"] for e in _executions(stack)}

    key = f"{SETTINGS.pipeline_name}/input/batch-2026-11-30.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=b"sex,length\n")
    s3.put_object(Bucket=bucket, Key=f"{SETTINGS.pipeline_name}/elsewhere.csv", Body=b"x")
    events_seam.deliveries(stack.aws.account).wait(10)

    started = [e for e in _executions(stack) if e["executionArn"] not in before]
    assert len(started) == 1, started
    execution = started[0]["executionArn"]
    given = json.loads(stack.sfn.describe_execution(executionArn=execution)["input"])
    uri = f"s3://{bucket}/{key}"
    assert given == {
        "PipelineParameters": [{"Name": "InputDataUrl", "Value": uri}],
        "Trigger": {"Type": "new-data", "Object": uri},
        "PollSeconds": 60,  # the stack's parameters, as deployed
        "Rollout": {"WaitIntervalInSeconds": 300},
        "SageMakerProject": {"Name": "", "Id": ""},  # deployed in no SageMaker project
    }
    # (It polls its pipeline every 60 s: its approval is not waited for here.)
    stack.sfn.stop_execution(executionArn=execution, cause="test over")


def test_a_model_that_cannot_load_fails_and_leaves_no_failed_endpoint(stack: Stack) -> None:
    # First deployment: the new endpoint never reaches InService and is deleted.
    execution, done = _model_run(stack, "broken")
    assert done["status"] == "FAILED", done
    assert done["error"] == "EndpointDeploymentFailed"
    assert "did not pass the ping health check" in done["cause"]
    assert ENDPOINT not in _live_endpoints(stack)
    assert "DeleteFailedEndpoint" in stack.entered(execution)

    # Update: the temporary endpoint fails the same way; the live one keeps serving.
    _, done = _model_run(stack, "evaluated")
    serving = json.loads(done["output"])["endpointConfigName"]
    execution, done = _model_run(stack, "broken")
    assert (done["status"], done["error"]) == ("FAILED", "EndpointDeploymentFailed")
    assert stack.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == serving
    assert _live_endpoints(stack) == [ENDPOINT]
    [(_, message)] = stack.notifications(execution)
    assert message["state"] == "EndpointFailed"


# ---------------------------------------------------------------- SageMaker projects

PROJECT = {"Name": "abalone-project", "Id": "p-abc123def456"}


def _tags(stack: Stack, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.sm.list_tags(ResourceArn=arn)["Tags"]}


def test_a_run_that_names_its_sagemaker_project_tags_the_pipeline_and_the_group(
    stack: Stack,
) -> None:
    execution, described = _approved_run(stack, SageMakerProject=PROJECT)
    assert described["status"] == "SUCCEEDED"
    assert {"TagPipeline", "TagModelPackageGroup"} <= set(stack.entered(execution))
    pipeline = stack.sm.describe_pipeline(PipelineName=SETTINGS.pipeline_name)["PipelineArn"]
    group = stack.sm.describe_model_package_group(
        ModelPackageGroupName=SETTINGS.model_package_group
    )["ModelPackageGroupArn"]
    for arn in (pipeline, group):
        assert _tags(stack, arn) == {
            "sagemaker:project-name": "abalone-project",
            "sagemaker:project-id": "p-abc123def456",
        }


@pytest.mark.parametrize("project", [None, {"Name": "", "Id": ""}])
def test_a_run_without_a_project_tags_nothing(stack: Stack, project: Any) -> None:
    """The stack's own runs carry its (empty by default) project parameters."""
    given = {} if project is None else {"SageMakerProject": project}
    execution, described = _approved_run(stack, **given)
    assert described["status"] == "SUCCEEDED"
    entered = stack.entered(execution)
    assert "NamesSageMakerProject" in entered and "TagPipeline" not in entered


def test_tagging_that_fails_does_not_stop_the_run(stack: Stack) -> None:
    stack.aws.inject_fault("add_tags", "AccessDeniedException", times=100)
    try:
        execution, described = _approved_run(stack, SageMakerProject=PROJECT)
    finally:
        stack.aws.inject_fault("add_tags", "AccessDeniedException", times=0)
    assert described["status"] == "SUCCEEDED"
    assert "ProjectTagsNotApplied" in stack.entered(execution)
    assert json.loads(described["output"])["decision"] == "approved"
