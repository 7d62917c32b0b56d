"""Monitoring of the deployed endpoint: its data-quality schedule, (re)created on every deploy.

After the endpoint serves the new model, the workflow points the endpoint's Model Monitor
data-quality schedule at that model's baseline (the package's DriftCheckBaselines, computed by
the pipeline's DataQualityBaseline step): CreateMonitoringSchedule the first time,
UpdateMonitoringSchedule after, so the schedule always compares traffic with the data the
serving model learned from. Each execution publishes the drift metrics that the stack's drift
alarm watches (deploy/template.py). A package without a baseline (a pipeline that computes
none) or a serverless endpoint (no data capture) gets no schedule, and the workflow says so.

The job is what the SageMaker SDK's DefaultModelMonitor schedules (model_monitoring.py,
`_generate_env_map`): the analyzer image, the endpoint's captures as input at
/opt/ml/processing/input/endpoint, reports to `names.MonitoringS3Uri`, CloudWatch metrics on.
"""

from __future__ import annotations

import json

from core.names import MONITORING_SCHEDULE_SUFFIX
from workflow import errors
from workflow.notifications import Failures
from workflow.package import PACKAGE
from workflow.sdk import Catch, Choice, ChoiceRule, Pass
from workflow.segment import Segment, exits
from workflow.substitutions import ENDPOINT_NAME, MODEL_MONITOR_IMAGE_URI, SAGEMAKER_ROLE_ARN, ref
from workflow.tasks import ApiTask, aws_sdk, sagemaker

#: {"Names": the endpoint's schedules, "Exists": bool}, then the schedule's ARN.
MONITORING = "$.monitoring"
_BASELINE = f"{PACKAGE}.DriftCheckBaselines.ModelDataQuality"
_PROCESSING = "/opt/ml/processing"
#: Model Monitor reads the capture files as SageMaker writes them (JSON lines per request).
_DATASET_FORMAT = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)
MAX_RUNTIME_SECONDS = 3600


def schedule_name() -> str:
    """core.names.monitoring_schedule_name, as the ASL spells it."""
    return f"{ref(ENDPOINT_NAME)}{MONITORING_SCHEDULE_SUFFIX}"


def _schedule_config() -> dict[str, object]:
    return {
        "ScheduleConfig": {"ScheduleExpression.$": "$.config.Monitoring.ScheduleExpression"},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri.$": f"{_BASELINE}.Constraints.S3Uri"},
                "StatisticsResource": {"S3Uri.$": f"{_BASELINE}.Statistics.S3Uri"},
            },
            "MonitoringInputs": [
                {
                    "EndpointInput": {
                        "EndpointName.$": "$.names.Endpoint",
                        "LocalPath": f"{_PROCESSING}/input/endpoint",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                }
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri.$": "$.names.MonitoringS3Uri",
                            "LocalPath": f"{_PROCESSING}/output",
                            "S3UploadMode": "EndOfJob",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType.$": "$.config.Monitoring.InstanceType",
                    "VolumeSizeInGB": 20,
                }
            },
            "MonitoringAppSpecification": {"ImageUri": ref(MODEL_MONITOR_IMAGE_URI)},
            "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
            "Environment": {
                "dataset_format": _DATASET_FORMAT,
                "dataset_source": f"{_PROCESSING}/input/endpoint",
                "output_path": f"{_PROCESSING}/output",
                "publish_cloudwatch_metrics": "Enabled",
            },
            "RoleArn": ref(SAGEMAKER_ROLE_ARN),
        },
    }


def monitor_endpoint(failures: Failures) -> Segment:
    """HasBaseline -> ListMonitoringSchedules -> Update or Create the endpoint's schedule."""
    monitored = Choice("HasDataQualityBaseline")
    skipped = Pass(
        "NoMonitoring",
        parameters={
            "Schedule": None,
            "Reason": "no data-quality baseline on the package, or a serverless endpoint "
            "(no data capture): the endpoint is not monitored",
        },
        result_path=MONITORING,
    )
    find = failures.guard(
        sagemaker(
            "FindMonitoringSchedule",
            "listMonitoringSchedules",
            parameters={
                "EndpointName.$": "$.names.Endpoint",
                "NameContains": schedule_name(),
                "MaxResults": 100,
            },
            result_selector={"Names.$": "$.MonitoringScheduleSummaries[*].MonitoringScheduleName"},
            result_path=MONITORING,
        )
    )
    exists = Pass(
        "CheckMonitoringScheduleExists",
        parameters={
            "Schedule": schedule_name(),
            "Exists.$": f"States.ArrayContains({MONITORING}.Names, '{schedule_name()}')",
        },
        result_path=MONITORING,
    )
    request = {
        "MonitoringScheduleName": schedule_name(),
        "MonitoringScheduleConfig": _schedule_config(),
    }
    answer = {"Schedule": schedule_name(), "Arn.$": "$.MonitoringScheduleArn"}
    create, update = (
        failures.guard(
            sagemaker(
                f"{verb}MonitoringSchedule",
                f"{verb.lower()}MonitoringSchedule",
                parameters=request,
                result_selector=answer,
                result_path=MONITORING,
            )
        )
        for verb in ("Create", "Update")
    )
    which = Choice("MonitoringScheduleExists")
    which.add_choice(ChoiceRule.BooleanEquals(f"{MONITORING}.Exists", True), update)
    which.default_choice(create)
    monitored.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.IsPresent(f"{_BASELINE}.Statistics.S3Uri", True),
                ChoiceRule.IsPresent(f"{_BASELINE}.Constraints.S3Uri", True),
                ChoiceRule.IsNull("$.config.Endpoint.Serverless", True),
            ]
        ),
        find,
    )
    monitored.default_choice(skipped)
    find.next(exists)
    exists.next(which)
    return Segment(monitored, exits(create.next, update.next, skipped.next))


def describe_drift(settings_prefix: str) -> Segment:
    """For a run the drift alarm started: what drifted, from the monitoring report of the hour
    the alarm went off, for the reviewer and the notifications.

    The alarm's event (the drift rule's input: Alarm, Reason, At) does not say which features
    drifted; the monitoring execution that raised it wrote them to constraint_violations.json
    under `<MonitoringS3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh/` (Model Monitor's layout),
    the hour being the alarm's. The violations become the trigger's Features. A report that
    cannot be read (another hour, no such file) leaves the trigger as it came: the run goes on.
    """
    trigger = "$.config.Trigger"
    at = f"States.StringSplit({trigger}.At, 'T')"
    day = f"States.StringSplit(States.ArrayGetItem({at}, 0), '-')"
    hour = f"States.ArrayGetItem(States.StringSplit(States.ArrayGetItem({at}, 1), ':'), 0)"
    key = (
        f"States.Format('{settings_prefix}/{ref(ENDPOINT_NAME)}/{schedule_name()}/"
        "{}/{}/{}/{}/constraint_violations.json', "
        f"States.ArrayGetItem({day}, 0), States.ArrayGetItem({day}, 1), "
        f"States.ArrayGetItem({day}, 2), {hour})"
    )
    by_drift = Choice("TriggeredByDrift")
    read = ApiTask(
        "ReadDriftReport",
        resource=aws_sdk("s3", "getObject"),
        parameters={"Bucket.$": "$.names.Bucket", "Key.$": key},
        result_selector={"report.$": "States.StringToJson($.Body)"},
        result_path="$.drift",
    )
    features = Pass(
        "DescribeDrift",
        parameters={
            "Type": "drift",
            "Alarm.$": f"{trigger}.Alarm",
            "Reason.$": f"{trigger}.Reason",
            "At.$": f"{trigger}.At",
            "Features.$": "$.drift.report.violations",
        },
        result_path=trigger,
    )
    unread = Pass("DriftReportUnavailable", result_path=None)
    read.add_catch(Catch(error_equals=[errors.ALL], next_step=unread, result_path="$.drift"))
    read.next(features)
    by_drift.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.StringEquals(f"{trigger}.Type", "drift"),
                ChoiceRule.IsPresent(f"{trigger}.At", True),
            ]
        ),
        read,
    )
    return Segment(by_drift, exits(by_drift.default_choice, features.next, unread.next))
