"""The names the layers agree on: state machine input and output, state names, errors, the
approval function's payloads and its Lambda runtime.

The workflow (workflow/) writes these names into the state machine, the approval function
(approval/) reads and returns them, and the CLI (mlops/) sends and reads them; each side
imports them from here, so a rename is one line. Standard library only: this module ships
in the approval function's zip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

# -- execution input (workflow/README.md documents the defaults) ---------------------------

PIPELINE_PARAMETERS = "PipelineParameters"
POLL_SECONDS = "PollSeconds"
APPROVAL_TIMEOUT_SECONDS = "ApprovalTimeoutSeconds"
QUALITY_GATE = "QualityGate"
ENDPOINT = "Endpoint"
SMOKE_TEST = "SmokeTest"
ROLLOUT = "Rollout"
MONITORING = "Monitoring"
#: Why the run started: {"Type": one of TRIGGER_TYPES, and by type:
#:   "new-data": "Object": "s3://bucket/key" (the upload that started it);
#:   "drift": "Alarm": alarm name, "Reason": the alarm's state reason, "At": its time,
#:            "Features": Model Monitor's violations of that hour (what drifted, how far)}.
TRIGGER = "Trigger"
#: The SageMaker project a run belongs to: {"Name": str, "Id": str}. When named, the run tags
#: the pipeline and the model package group with PROJECT_TAGS (workflow/project.py).
SAGEMAKER_PROJECT = "SageMakerProject"
TRIGGER_TYPES = ("manual", "schedule", "new-data", "drift")
#: At most this many drifted features are named in one line; the rest are counted.
_TRIGGER_FEATURES_SHOWN = 5


def execution_input(pipeline_parameters: Mapping[str, str], **settings: Any) -> dict[str, Any]:
    """An execution input: pipeline parameter overrides, plus any other input key given
    (PollSeconds=1, ...); keys left out take the workflow's defaults."""
    payload: dict[str, Any] = {
        PIPELINE_PARAMETERS: [{"Name": k, "Value": v} for k, v in pipeline_parameters.items()]
    }
    payload.update({k: v for k, v in settings.items() if v is not None})
    return payload


def describe_trigger(trigger: Any) -> str:
    """One line saying why a run started, for reviewers, notifications and the CLI.

    The trigger comes from an execution input (anyone who may start the state machine writes
    it), so this never fails: anything unexpected reads as an unknown trigger.
    """
    if not isinstance(trigger, Mapping):
        return "unknown trigger"
    kind = trigger.get("Type")
    if kind == "new-data":
        return f"new data: {trigger.get('Object') or 'an upload'}"
    if kind == "drift":
        # Features are {"Name"} or Model Monitor's violations ({"feature_name",
        # "constraint_check_type", "description"}), of which the drift checks count.
        features = [
            str(f.get("Name") or f.get("feature_name"))
            for f in trigger.get("Features") or []
            if isinstance(f, Mapping)
            and (f.get("Name") or f.get("feature_name"))
            and f.get("constraint_check_type", "baseline_drift_check") == "baseline_drift_check"
        ]
        shown = ", ".join(features[:_TRIGGER_FEATURES_SHOWN])
        if len(features) > _TRIGGER_FEATURES_SHOWN:
            shown += f" and {len(features) - _TRIGGER_FEATURES_SHOWN} more"
        what = f" in {shown}" if shown else ""
        alarm = trigger.get("Alarm")
        reason = trigger.get("Reason")
        return f"data drift{what}" + (
            f" (alarm {alarm}" + (f": {reason})" if reason else ")") if alarm else ""
        )
    if kind in TRIGGER_TYPES:
        return str(kind) + (" run" if kind in ("manual", "schedule") else "")
    return f"unknown trigger {str(kind)[:40]!r}" if kind else "unknown trigger"


def pipeline_request_token(execution_arn: str) -> str:
    """The ClientRequestToken with which an execution starts its pipeline execution.

    The state machine computes it as `States.Hash($$.Execution.Id, 'SHA-256')` (lower-case
    hex, 64 characters, within SageMaker's 32-128): one pipeline execution per workflow
    execution, whoever sends the start first.
    """
    return hashlib.sha256(execution_arn.encode()).hexdigest()


def pipeline_description(execution_arn: str) -> str:
    """The PipelineExecutionDescription the state machine sends with its start."""
    return f"Started by Step Functions execution {execution_arn}"


# -- execution output ----------------------------------------------------------------------

OUT_DECISION = "decision"
OUT_DECIDED_BY = "decided_by"
OUT_REASON = "reason"
OUT_ENDPOINT_NAME = "endpointName"
#: {"status": passed | failed | skipped, "rows", "max_abs_diff", "endpoint", "reason"}
OUT_SMOKE_TEST = "smokeTest"

# -- states a follower shows or hides ------------------------------------------------------

START_PIPELINE_STATE = "StartPipeline"
APPROVAL_STATE = "HumanApproval"
#: The smoke test's states (workflow/endpoint.py), first to verdict; the three in between
#: each leave its result (OUT_SMOKE_TEST) in the state data.
SMOKE_TEST_FIRST_STATE = "HasEvaluationReport"
SMOKE_TEST_RESULT_STATES = ("SmokeTest", "SmokeTestSkipped", "SmokeTestError")
SMOKE_TEST_VERDICT_STATE = "SmokeTestPassed"
#: Task states that poll or look things up; a person following a run does not need them.
QUIET_STATES = frozenset(
    {
        START_PIPELINE_STATE,
        "DescribePipelineExecution",
        "ListPipelineExecutionSteps",
        "DescribeModelPackage",
        "GetMetricsReport",
        "FindEndpoint",
        "DescribeEndpoint",
    }
)

# -- errors the state machine raises (Fail states, the approval's SendTaskFailure) ---------

PIPELINE_FAILED = "PipelineFailed"
NO_MODEL_PACKAGE = "NoModelPackage"
WRONG_MODEL_PACKAGE_GROUP = "UnexpectedModelPackageGroup"
UNEXPECTED_DECISION = "UnexpectedDecision"
ENDPOINT_FAILED = "EndpointDeploymentFailed"
SMOKE_TEST_FAILED = "SmokeTestFailed"
REJECTED = "Rejected"

# -- the approval function -----------------------------------------------------------------

#: The request the state machine sends (lambda:invoke.waitForTaskToken payload).
TASK_TOKEN = "taskToken"
#: The answer to a request: {"approvalId", "expiresAt", "notified"}. Never the review link:
#: the answer is in the execution history, and the link only travels in the messages.
APPROVAL_ID = "approvalId"
NOTIFIED = "notified"
#: The function's runtime and entry point, as the template declares them.
LAMBDA_RUNTIME = "python3.12"
LAMBDA_PACKAGE = "approval"
LAMBDA_HANDLER = f"{LAMBDA_PACKAGE}.handler.lambda_handler"

# -- the smoke test ------------------------------------------------------------------------

#: Beside evaluation.json the evaluation step writes `smoke-test/payload.csv` (feature rows of
#: the test split, the body the endpoint is sent: text/csv, no header, no target) and
#: `smoke-test/predictions.csv` (the evaluation's own prediction for each row, one per line).
#: scripts/evaluate.py holds the same names (it runs in a container without this module).
SMOKE_TEST_FOLDER = "smoke-test"
SMOKE_TEST_PAYLOAD = "payload.csv"
SMOKE_TEST_PREDICTIONS = "predictions.csv"
#: The smoke-test function: invokes the endpoint with the payload, compares the answers.
SMOKE_TEST_PACKAGE = "smoketest"
SMOKE_TEST_HANDLER = f"{SMOKE_TEST_PACKAGE}.handler.lambda_handler"
#: Every package the functions' zip holds (each with core/contracts.py beside it).
FUNCTION_PACKAGES = (LAMBDA_PACKAGE, SMOKE_TEST_PACKAGE)

#: The files a reviewer reads beside the model-quality report, registered with the package as
#: CustomerMetadataProperties (pipelines/steps.py register_step): the comparison with the
#: champion (S3 URI of comparison.json) and the pictures (S3 URI of their folder).
PACKAGE_COMPARISON = "EvaluationComparison"
PACKAGE_PICTURES = "EvaluationPictures"
#: The pictures in that folder (scripts/evaluate.py PICTURES, which runs without the project).
PICTURES = {
    "predicted_vs_actual": "predicted-vs-actual.svg",
    "residuals": "residuals.svg",
    "feature_importance": "feature-importance.svg",
}


# -- SageMaker projects -----------------------------------------------------------------------

#: The tags by which SageMaker Studio finds a project's resources (the keys SageMaker's own
#: project templates put on the pipeline, the model package group and the stack).
PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"


def project_tags(name: str, project_id: str) -> list[dict[str, str]]:
    """The two project tags, in the {"Key", "Value"} shape SageMaker and CloudFormation take;
    none without a project name."""
    if not name:
        return []
    return [{"Key": PROJECT_NAME_TAG, "Value": name}, {"Key": PROJECT_ID_TAG, "Value": project_id}]
