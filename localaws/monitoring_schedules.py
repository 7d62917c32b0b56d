"""Monitoring schedules as SageMaker takes them: the schedule, its expression, its config.

What `localaws.monitoring_seam` accepts from CreateMonitoringSchedule and
UpdateMonitoringSchedule, checked as the SageMaker API reference (CreateMonitoringSchedule,
ScheduleConfig, MonitoringScheduleConfig) and the developer guide ("The cron expression for
monitoring schedule") describe it:

- ScheduleExpression: `cron(0 * ? * * *)` (hourly), `cron(0 H ? * * *)` (daily at hour H,
  UTC), `cron(0 H/N ? * * *)` (every N hours from hour H; "SageMaker only supports hourly
  integer rates between 1 hour and 24 hours"), or `NOW`: "run the monitoring job immediately,
  one time, without recurring". Any other expression is a ValidationException.
- DataAnalysisStartTime and DataAnalysisEndTime: ISO 8601 offsets from the scheduled time
  (-PT5H), required with NOW; the start must precede the end, "by no more than 24 hours".
  Locally they are given both or neither.
- Either a MonitoringJobDefinition or a MonitoringJobDefinitionName with its MonitoringType;
  the local AWS runs DataQuality only (Model Monitor's data-quality analysis,
  `localaws.model_monitor`), of one EndpointInput, whose endpoint must exist (SageMaker checks
  it: sagemaker-python-sdk issue 4873), into one S3Output. A named definition is moto's
  DataQualityJobDefinition, read as a MonitoringJobDefinition (`job_definition`) whenever an
  execution runs.

Errors are moto's SageMaker exceptions (ValidationException); their wording is not documented
and follows SageMaker's other messages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.utils import arn_formatter

from localaws.monitoring_executions import offset

__all__ = [
    "DATA_QUALITY",
    "NOW",
    "Schedule",
    "check_config",
    "check_name",
    "job_definition",
    "next_run",
    "schedule_hours",
    "window",
]

#: The one monitoring type the local AWS runs.
DATA_QUALITY = "DataQuality"
#: ScheduleExpression's keyword for one execution, at once.
NOW = "NOW"
#: The longest window (ScheduleConfig: "must not precede ... by more than 24 hours").
MAX_WINDOW = dt.timedelta(hours=24)
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_CRON = re.compile(r"cron\(0 (\*|(\d{1,2})(?:/(\d{1,2}))?) \? \* \* \*\)")


@dataclass
class Schedule:
    """One monitoring schedule of an account's region."""

    name: str
    arn: str
    region: str
    config: dict[str, Any]
    monitoring_type: str
    endpoint_name: str
    job_definition_name: str | None
    created: dt.datetime = field(default_factory=utcnow)
    modified: dt.datetime = field(default_factory=utcnow)
    status: str = "Pending"
    tags: list[dict[str, str]] = field(default_factory=list)
    #: When the clock runs it next (cron schedules), naive UTC.
    next_run: dt.datetime | None = None
    #: Whether a one-time (NOW) schedule has had its execution.
    ran: bool = False
    #: Bytes of each capture object analysed by its executions (monitoring_executions).
    consumed: dict[str, int] = field(default_factory=dict)

    @property
    def expression(self) -> str:
        return str((self.config.get("ScheduleConfig") or {}).get("ScheduleExpression", ""))

    @property
    def one_time(self) -> bool:
        return self.expression == NOW

    def summary(self) -> dict[str, Any]:
        """A MonitoringScheduleSummary."""
        shown = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
        }
        return {k: v for k, v in shown.items() if v is not None}


def schedule_hours(expression: str) -> frozenset[int] | None:
    """The hours of the day (UTC) a ScheduleExpression runs at; None for NOW.

    ValidationError for an expression SageMaker does not accept (see the module docstring).
    """
    if expression == NOW:
        return None
    match = _CRON.fullmatch(expression)
    if match is not None:
        if match.group(1) == "*":
            return frozenset(range(24))
        start, every = int(match.group(2)), int(match.group(3) or 24)
        if start <= 23 and 1 <= every <= 24:
            return frozenset(range(start, 24, every))
    raise ValidationError(
        f"Invalid ScheduleExpression {expression!r}: supported are cron(0 * ? * * *) (hourly), "
        "cron(0 [00-23] ? * * *) (daily), cron(0 [00-23]/[01-24] ? * * *) (every few hours) "
        "and NOW (once, immediately)."
    )


def next_run(expression: str, after: dt.datetime) -> dt.datetime | None:
    """The first time after `after` a cron ScheduleExpression runs at (None for NOW)."""
    hours = schedule_hours(expression)
    if hours is None:
        return None
    moment = after.replace(minute=0, second=0, microsecond=0)
    for _ in range(25):
        moment += dt.timedelta(hours=1)
        if moment.hour in hours:
            return moment
    raise AssertionError(f"{expression} never runs")  # schedule_hours returns some hour


def check_name(name: Any) -> str:
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    raise ValidationError(
        f"1 validation error detected: Value '{name}' at 'monitoringScheduleName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )


def check_config(
    account_id: str, region: str, config: dict[str, Any]
) -> tuple[str, str, str | None]:
    """(endpoint name, monitoring type, job definition name) of a valid config; else
    ValidationError."""
    schedule = config.get("ScheduleConfig") or {}
    expression = str(schedule.get("ScheduleExpression", ""))
    schedule_hours(expression)
    window(config, required=expression == NOW)
    inline = config.get("MonitoringJobDefinition")
    name = config.get("MonitoringJobDefinitionName")
    if (inline is None) == (name is None):
        raise ValidationError(
            "Exactly one of MonitoringJobDefinition and MonitoringJobDefinitionName must be "
            "given in MonitoringScheduleConfig."
        )
    kind = str(config.get("MonitoringType") or (DATA_QUALITY if inline is not None else ""))
    if name is not None and not kind:
        raise ValidationError("MonitoringType is required with MonitoringJobDefinitionName.")
    if kind != DATA_QUALITY:
        raise ValidationError(
            f"MonitoringType {kind}: the local AWS runs only {DATA_QUALITY} monitoring "
            "(localaws.model_monitor); ModelQuality, ModelBias and ModelExplainability are not "
            "emulated."
        )
    definition = job_definition(account_id, region, config)
    inputs = definition.get("MonitoringInputs") or []
    if len(inputs) != 1 or not (inputs[0] or {}).get("EndpointInput"):
        raise ValidationError(
            "MonitoringInputs: the local AWS monitors one EndpointInput; BatchTransformInput "
            "is not emulated."
        )
    endpoint = str(inputs[0]["EndpointInput"].get("EndpointName", ""))
    from moto.sagemaker.models import sagemaker_backends

    if endpoint not in sagemaker_backends[account_id][region].endpoints:
        arn = arn_formatter("endpoint", endpoint, account_id, region)
        raise ValidationError(f"Could not find endpoint '{arn}'.")
    outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
    uri = str(((outputs[0] if outputs else {}).get("S3Output") or {}).get("S3Uri", ""))
    if len(outputs) != 1 or not uri.startswith("s3://"):
        raise ValidationError(
            "MonitoringOutputConfig.MonitoringOutputs: one S3Output with an s3:// S3Uri."
        )
    return endpoint, kind, str(name) if name is not None else None


def window(
    config: dict[str, Any], required: bool = False
) -> tuple[dt.timedelta, dt.timedelta] | None:
    """ScheduleConfig's (DataAnalysisStartTime, DataAnalysisEndTime), when given."""
    schedule = config.get("ScheduleConfig") or {}
    start, end = schedule.get("DataAnalysisStartTime"), schedule.get("DataAnalysisEndTime")
    if start is None and end is None:
        if required:
            raise ValidationError(
                "ScheduleExpression NOW needs DataAnalysisStartTime and DataAnalysisEndTime."
            )
        return None
    if start is None or end is None:
        raise ValidationError("Give both DataAnalysisStartTime and DataAnalysisEndTime, or none.")
    try:
        window = offset(str(start)), offset(str(end))
    except ValueError as exc:
        raise ValidationError(f"ScheduleConfig: {exc}") from None
    if not window[0] < window[1] or window[1] - window[0] > MAX_WINDOW:
        raise ValidationError(
            f"DataAnalysisStartTime {start} must precede DataAnalysisEndTime {end}, by at most "
            "24 hours."
        )
    return window


def job_definition(account_id: str, region: str, config: dict[str, Any]) -> dict[str, Any]:
    """The schedule's MonitoringJobDefinition: its own, or its DataQualityJobDefinition's, in
    MonitoringJobDefinition's shape. ValidationError when the named definition is gone."""
    inline = config.get("MonitoringJobDefinition")
    if inline is not None:
        return dict(inline)
    from moto.sagemaker.models import sagemaker_backends

    name = str(config.get("MonitoringJobDefinitionName"))
    found = sagemaker_backends[account_id][region].data_quality_job_definitions.get(name)
    if found is None:
        arn = arn_formatter("data-quality-job-definition", name, account_id, region)
        raise ValidationError(f"Could not find job definition '{arn}'.")
    app = dict(found.data_quality_app_specification)
    environment = {**(app.pop("Environment", None) or {}), **(found.environment or {})}
    job_input = found.data_quality_job_input or {}
    return {
        "BaselineConfig": found.data_quality_baseline_config,
        "MonitoringInputs": [{k: v} for k, v in job_input.items() if k.endswith("Input")],
        "MonitoringOutputConfig": found.data_quality_job_output_config,
        "MonitoringResources": found.job_resources,
        "MonitoringAppSpecification": app,
        "Environment": environment,
        "NetworkConfig": found.network_config,
        "RoleArn": found.role_arn,
        "StoppingCondition": found.stopping_condition,
    }
