"""ApplyDefaults: the execution input merged over defaults, plus names derived per execution.

Execution input (every field optional; defaults from the settings):

    {"PipelineParameters": [{"Name": str, "Value": str}, ...],   default []
     "PollSeconds": int,                                         default 60
     "ApprovalTimeoutSeconds": int,                              default 604800 (7 days)
     "QualityGate": {"metric": "mse",                            defaults as shown, threshold
                     "threshold": float,                         = settings.mse_threshold
                     "comparison": "LessThanOrEqualTo"},
     "Endpoint": {"InstanceType": str,                           settings.inference_instance_type
                  "InitialInstanceCount": int,                   default 1
                  "DataCaptureSamplingPercentage": int,          default 100 (0 to 100)
                  "Serverless": null | {"MemorySizeInMB": int,   default null (instances)
                                        "MaxConcurrency": int}},
     "Monitoring": {"ScheduleExpression": str,                   default "cron(0 * ? * * *)"
                    "InstanceType": str},                        settings.processing_instance_type
     "Trigger": {"Type": "manual" | "schedule" | "new-data"      default {"Type": "manual"}
                 | "drift", ...},                                (core.contracts.TRIGGER)
     "SageMakerProject": {"Name": str, "Id": str},               default {"Name": "", "Id": ""}
                                                                 (none); a name tags the
                                                                 pipeline and the group
     "SmokeTest": {"Tolerance": float},                          default 0.0001
     "Rollout": {"Type": "ALL_AT_ONCE" | "CANARY" | "LINEAR",    default ALL_AT_ONCE
                 "StepPercent": int,                             default 10 (canary size or
                                                                 linear step, % of capacity)
                 "WaitIntervalInSeconds": int,                   default 300 (bake per step)
                 "TerminationWaitInSeconds": int,                default 0
                 "MaximumExecutionTimeoutInSeconds": int}}       default 3600

The smoke test compares the endpoint's answers on the evaluation step's sample with the
evaluation's own predictions: |answer - prediction| <= Tolerance * max(1, |prediction|).
The rollout applies to updates of an instance endpoint (SageMaker deployment guardrails,
blue/green): ALL_AT_ONCE shifts every request to the new fleet and bakes; CANARY sends
StepPercent of the traffic first, bakes, then the rest; LINEAR shifts StepPercent at a time,
baking after each step. Either way the endpoint's alarms roll it back during a bake. SageMaker
shifts traffic by whole instances, so a canary or linear rollout needs an InitialInstanceCount
of at least 2 (with one instance a step would be the whole fleet).

Data capture (instance endpoints) writes to s3://<bucket>/<pipeline>/data-capture, derived per
execution as `names.DataCaptureS3Uri`: the configured bucket, else SageMaker's default bucket of
the account and region the state machine runs in (read from its execution ARN).

States.JsonMerge only merges shallowly (AWS's rule, and moto's), so the top level is merged
first and the nested objects (QualityGate, Endpoint, SmokeTest, Rollout, SageMakerProject)
each again, so that {"Endpoint": {"InstanceType": "ml.c5.large"}} keeps the default
InitialInstanceCount.
The result replaces the state data with {"config": ..., "names": ...}.
"""

from __future__ import annotations

from typing import Any

from core import contracts, names
from core.settings import Settings
from workflow.sdk import Pass
from workflow.segment import Segment
from workflow.substitutions import ENDPOINT_NAME, ref

#: Seven days: how long a reviewer has before the model counts as rejected.
DEFAULT_APPROVAL_TIMEOUT_SECONDS = 7 * 24 * 3600
DEFAULT_POLL_SECONDS = 60
#: Every request is captured by default: lower it for a busy endpoint.
DEFAULT_DATA_CAPTURE_PERCENTAGE = 100
DEFAULT_SMOKE_TEST_TOLERANCE = 1e-4
#: One instance by default: all at once (a canary needs two), baking five minutes.
DEFAULT_ROLLOUT = {
    "Type": "ALL_AT_ONCE",
    "StepPercent": 10,
    "WaitIntervalInSeconds": 300,
    "TerminationWaitInSeconds": 0,
    "MaximumExecutionTimeoutInSeconds": 3600,
}
#: Where captures go under the bucket, below the pipeline's own folder.
DATA_CAPTURE_FOLDER = "data-capture"
#: Model Monitor's data-quality schedule: hourly, on the hour (the expression SageMaker's
#: hourly schedules use: developer guide, "Schedule expressions for monitoring schedules").
DEFAULT_MONITORING_SCHEDULE = "cron(0 * ? * * *)"


def defaults(settings: Settings) -> dict[str, Any]:
    """The execution input used when the caller gives nothing (the README's contract)."""
    return {
        contracts.PIPELINE_PARAMETERS: [],
        contracts.POLL_SECONDS: DEFAULT_POLL_SECONDS,
        contracts.APPROVAL_TIMEOUT_SECONDS: DEFAULT_APPROVAL_TIMEOUT_SECONDS,
        contracts.QUALITY_GATE: {
            "metric": "mse",
            "threshold": settings.mse_threshold,
            "comparison": "LessThanOrEqualTo",
        },
        contracts.ENDPOINT: {
            "InstanceType": settings.inference_instance_type,
            "InitialInstanceCount": 1,
            "DataCaptureSamplingPercentage": DEFAULT_DATA_CAPTURE_PERCENTAGE,
            "Serverless": None,
        },
        contracts.MONITORING: {
            "ScheduleExpression": DEFAULT_MONITORING_SCHEDULE,
            "InstanceType": settings.processing_instance_type,
        },
        contracts.TRIGGER: {"Type": "manual"},
        contracts.SAGEMAKER_PROJECT: {"Name": "", "Id": ""},
        contracts.SMOKE_TEST: {"Tolerance": DEFAULT_SMOKE_TEST_TOLERANCE},
        contracts.ROLLOUT: dict(DEFAULT_ROLLOUT),
    }


def _merge_nested(key: str) -> str:
    return f"States.JsonMerge($.Defaults.{key}, $.Merged.{key}, false)"


def apply_defaults(settings: Settings) -> Segment:
    """Three Pass states: hold the defaults, merge the top level, merge nested and name."""
    hold = Pass("ApplyDefaults", parameters={"Defaults": defaults(settings), "Input.$": "$"})
    merge = Pass(
        "MergeInputOverDefaults",
        parameters={
            "Defaults.$": "$.Defaults",
            "Merged.$": "States.JsonMerge($.Defaults, $.Input, false)",
        },
    )
    by_execution = "States.Hash($$.Execution.Id, 'MD5')"
    resolve = Pass(
        "ResolveConfig",
        parameters={
            "config": {
                "PipelineParameters.$": "$.Merged.PipelineParameters",
                "PollSeconds.$": "$.Merged.PollSeconds",
                "ApprovalTimeoutSeconds.$": "$.Merged.ApprovalTimeoutSeconds",
                "QualityGate.$": _merge_nested("QualityGate"),
                "Endpoint.$": _merge_nested("Endpoint"),
                "Monitoring.$": _merge_nested("Monitoring"),
                # Replaced, not merged: a trigger's fields depend on its type.
                "Trigger.$": "$.Merged.Trigger",
                f"{contracts.SAGEMAKER_PROJECT}.$": _merge_nested(contracts.SAGEMAKER_PROJECT),
                "SmokeTest.$": _merge_nested("SmokeTest"),
                "Rollout.$": _merge_nested("Rollout"),
            },
            # Unique per execution and the same on every retry of a task: idempotent starts,
            # and a new model and endpoint config per run, so a failed deployment never
            # touches what the endpoint currently serves.
            "names": {
                # core.contracts.pipeline_request_token computes the same outside.
                "ClientRequestToken.$": "States.Hash($$.Execution.Id, 'SHA-256')",
                "Model.$": f"States.Format('{ref(ENDPOINT_NAME)}-{{}}', {by_execution})",
                "EndpointConfig.$": f"States.Format('{ref(ENDPOINT_NAME)}-{{}}', {by_execution})",
                "Endpoint": ref(ENDPOINT_NAME),
                "DataCaptureS3Uri.$": bucket_uri(settings, DATA_CAPTURE_FOLDER),
                "MonitoringS3Uri.$": bucket_uri(settings, names.MONITORING_FOLDER),
                "Bucket.$": bucket_name(settings),
            },
        },
    )
    return Segment.chain(hold, merge, resolve)


def bucket_name(settings: Settings) -> str:
    """An intrinsic giving this execution's bucket.

    Without a configured bucket it is SageMaker's default bucket, sagemaker-<region>-<account>
    (Settings.bucket_for), with region and account read from the execution's ARN
    (arn:aws:states:<region>:<account>:execution:...).
    """
    if settings.bucket:
        return f"States.Format('{settings.bucket}')"
    part = "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), {})"
    return f"States.Format('sagemaker-{{}}-{{}}', {part.format(3)}, {part.format(4)})"


def bucket_uri(settings: Settings, folder: str) -> str:
    """An intrinsic giving s3://<bucket>/<pipeline>/<folder> for this execution."""
    return f"States.Format('s3://{{}}/{settings.prefix(folder)}', {bucket_name(settings)})"
