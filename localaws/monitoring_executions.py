"""One monitoring execution of a data-quality schedule: what Model Monitor's job does, locally.

On SageMaker a schedule starts a processing job of the `sagemaker-model-monitor-analyzer` image
over the endpoint's captured requests of its window; the job writes `statistics.json` and
`constraint_violations.json` and publishes CloudWatch metrics (developer guide, "Schedule
monitoring jobs", "Interpret results", "Container Contract Inputs"/"Outputs"). `execute` does
the same from the local S3 and `localaws.model_monitor`:

- The data is the endpoint's capture, `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`
  of its current endpoint config's DataCaptureConfig ("Capture data from real-time endpoint";
  `localaws.runtime_seam` writes it). With the ScheduleConfig's DataAnalysisStartTime and
  DataAnalysisEndTime (ISO 8601 offsets from the scheduled time) the window is the records whose
  inferenceTime falls between the two, as SageMaker documents the offsets; without them,
  where SageMaker analyses the hour (or the hours) before the scheduled time, the local window
  is every record captured since the schedule's previous execution, or the whole capture for
  its first: locally executions run on demand, so "since the last one" is the window that
  neither skips nor repeats a request. Capture files only grow (the runtime seam appends),
  so the schedule keeps how many bytes of each file it has analysed.
- No record in the window: the execution fails with "Job inputs had no data", what SageMaker
  reports then (sagemaker-python-sdk issue 2634), and no job runs.
- The processing job is recorded in the local SageMaker (DescribeProcessingJob answers for the
  execution's ProcessingJobArn, MonitoringScheduleArn included): named
  `model-monitoring-<yyyymmddHHMM>-<24 hex>` as SageMaker names them, its Environment the
  container contract's variables (dataset_format, dataset_source, output_path,
  publish_cloudwatch_metrics, sagemaker_endpoint_name, sagemaker_monitoring_schedule_name,
  start_time, end_time, baseline_statistics, baseline_constraints) under the definition's own
  Environment, its one output the execution's folder: the sagemaker SDK's
  `MonitoringExecution` reads the reports from there. Its inputs' names (endpoint_input,
  baseline_statistics, baseline_constraints) are not documented; these are the local ones.
- The reports go to `<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/` of the schedule's
  S3Output, the hour of the scheduled time, as Model Monitor lays them out (the sagemaker
  SDK's `MonitoringExecution.output.destination`; executions of one hour share it, the later
  one's reports replacing the earlier's): `statistics.json`, and `constraint_violations.json`
  (`{"violations": []}` when none) when the baseline has constraints. Nothing else is written.
- Status: Completed, or CompletedWithViolations when any violation was found (the job itself
  Completed, its ExitMessage "CompletedWithViolations: Job completed successfully with N
  violations."), or Failed with the job's FailureReason: a container the local AWS cannot run
  (any image but Model Monitor's analyzer, or a record preprocessor or post-analytics script),
  an unreadable baseline, an analysis error ("AlgorithmError: ..."), an output that cannot be
  written ("ClientError: ...").
- When the Environment's `publish_cloudwatch_metrics` is Enabled (the contract: "For a job
  launched by CreateMonitoringSchedule, this parameter is set to Enabled"; the sagemaker SDK
  sets it from enable_cloudwatch_metrics, True by default) the datapoints of
  `localaws.model_monitor.cloudwatch_metrics` are put into the account's CloudWatch
  (`aws/sagemaker/Endpoints/data-metrics`, dimensions Endpoint and MonitoringSchedule),
  timestamped when the execution ran.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow

#: The repository of Model Monitor's analyzer image, what `localaws.model_monitor` stands in for.
ANALYZER_REPOSITORY = "sagemaker-model-monitor-analyzer"
#: What SageMaker reports for a window without captured data.
NO_DATA = "Job inputs had no data"
STATISTICS_FILE = "statistics.json"
VIOLATIONS_FILE = "constraint_violations.json"
#: The contract's dataset_format of a job over an endpoint's capture.
CAPTURE_FORMAT = {
    "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
}
#: Where the baseline files are in the container: the sagemaker SDK's paths.
BASELINE_STATISTICS_PATH = "/opt/ml/processing/baseline/stats"
BASELINE_CONSTRAINTS_PATH = "/opt/ml/processing/baseline/constraints"
#: Environment keys of scripts the analyzer would run, which the local one does not.
UNSUPPORTED_ENVIRONMENT = ("record_preprocessor_script", "post_analytics_processor_script")
UNSUPPORTED_APP_SPECIFICATION = ("RecordPreprocessorSourceUri", "PostAnalyticsProcessorSourceUri")
#: An ISO 8601 duration as ScheduleConfig's offsets take it: -PT5H, -P1D, -PT30M, -PT0H.
_OFFSET = re.compile(r"([+-]?)P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


@dataclass
class Execution:
    """One monitoring execution: what ListMonitoringExecutions summarises."""

    schedule_name: str
    region: str
    scheduled: dt.datetime
    endpoint_name: str
    monitoring_type: str
    job_definition_name: str | None = None
    status: str = "Pending"
    created: dt.datetime = field(default_factory=utcnow)
    modified: dt.datetime = field(default_factory=utcnow)
    processing_job_arn: str | None = None
    failure_reason: str | None = None

    def summary(self) -> dict[str, Any]:
        """A MonitoringExecutionSummary."""
        shown = {
            "MonitoringScheduleName": self.schedule_name,
            "ScheduledTime": self.scheduled,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringExecutionStatus": self.status,
            "ProcessingJobArn": self.processing_job_arn,
            "EndpointName": self.endpoint_name,
            "FailureReason": self.failure_reason,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
        }
        return {k: v for k, v in shown.items() if v is not None}

    def end(self, status: str, reason: str | None = None) -> None:
        self.status, self.failure_reason, self.modified = status, reason, utcnow()


@dataclass
class Job:
    """What one execution runs: the schedule's job definition, resolved."""

    schedule_name: str
    schedule_arn: str
    definition: dict[str, Any]
    #: ScheduleConfig's DataAnalysisStartTime and DataAnalysisEndTime, when given.
    window: tuple[dt.timedelta, dt.timedelta] | None
    #: Bytes of each capture object analysed by the schedule's earlier executions.
    consumed: dict[str, int]
    #: When the schedule's previous execution was scheduled, if there was one.
    previous: dt.datetime | None


class _Failed(Exception):
    """The execution fails with str(exc) as its FailureReason."""


def offset(text: str) -> dt.timedelta:
    """An ISO 8601 duration of ScheduleConfig (-PT5H); ValueError when it is not one."""
    match = _OFFSET.fullmatch(text or "")
    if match is None or not any(match.groups()[1:]):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as -PT1H")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups()[1:])
    length = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -length if match.group(1) == "-" else length


def execute(account_id: str, region: str, job: Job, execution: Execution) -> None:
    """Run one execution to its end (status, FailureReason, ProcessingJobArn on `execution`)."""
    from moto.sagemaker.models import sagemaker_backends

    sagemaker = sagemaker_backends[account_id][region]
    execution.status, execution.modified = "InProgress", utcnow()
    processing: Any = None
    try:
        capture = _capture_config(sagemaker, execution.endpoint_name)
        records = _window(account_id, capture, execution, job)
        if not records:
            raise _Failed(NO_DATA)
        processing = _record_job(sagemaker, job, execution, capture)
        execution.processing_job_arn = processing.arn
        found = _analyse(account_id, region, job, execution, records)
    except _Failed as failure:
        _fail(execution, processing, str(failure))
    except Exception as exc:  # the analyzer's own error: the job fails, the clock goes on
        _fail(execution, processing, f"AlgorithmError: {type(exc).__name__}: {exc}")
    else:
        status = "CompletedWithViolations" if found else "Completed"
        execution.end(status)
        if processing is not None:
            message = (
                f"CompletedWithViolations: Job completed successfully with {found} violations."
                if found
                else "Completed: Job completed successfully with no violations."
            )
            _end_job(processing, "Completed", exit_message=message)


def _fail(execution: Execution, processing: Any, reason: str) -> None:
    execution.end("Failed", reason[:1024])  # "A string, up to one KB in size"
    if processing is not None:
        _end_job(processing, "Failed", failure_reason=reason[:1024])


# --- the data ---------------------------------------------------------------------------------


def _capture_config(sagemaker: Any, endpoint_name: str) -> dict[str, Any]:
    endpoint = sagemaker.endpoints.get(endpoint_name)
    if endpoint is None:
        raise _Failed(f"Endpoint {endpoint_name} does not exist: no captured data to analyse")
    config = sagemaker.endpoint_configs.get(endpoint.endpoint_config_name)
    capture = (getattr(config, "data_capture_config", None) or {}) if config else {}
    return capture if capture.get("EnableCapture") else {}


def _window(
    account_id: str, capture: dict[str, Any], execution: Execution, job: Job
) -> dict[str, bytes]:
    """The captured records of the execution's window, by capture object."""
    if not capture.get("DestinationS3Uri"):
        return {}
    records: dict[str, bytes] = {}
    for key in _capture_objects(account_id, str(capture["DestinationS3Uri"]), execution):
        if job.window is not None:
            start, end = (execution.scheduled + o for o in job.window)
            data = bytes(key.value)
            lines = [line for line in data.splitlines(keepends=True) if _within(line, start, end)]
            part = b"".join(lines)
        else:
            done = job.consumed.get(key.name, 0)
            if key.size <= done:  # nothing new: not read
                continue
            data = bytes(key.value)
            part = data[done:]
            job.consumed[key.name] = len(data)
        if part.strip():
            records[key.name] = part
    return records


def _within(line: bytes, start: dt.datetime, end: dt.datetime) -> bool:
    try:
        stamp = json.loads(line)["eventMetadata"]["inferenceTime"]
        when = dt.datetime.strptime(str(stamp)[:19], "%Y-%m-%dT%H:%M:%S")
    except (ValueError, KeyError, TypeError):
        return False
    return start <= when <= end


def capture_prefix(destination: str, endpoint_name: str) -> tuple[str, str]:
    """(bucket, key prefix) of an endpoint's captures under a DestinationS3Uri."""
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    return bucket, "/".join(p for p in (prefix.strip("/"), endpoint_name) if p) + "/"


def _capture_objects(account_id: str, destination: str, execution: Execution) -> list[Any]:
    """The endpoint's capture files in the local S3 (moto's keys), in name order."""
    from moto.s3.models import s3_backends

    bucket_name, prefix = capture_prefix(destination, execution.endpoint_name)
    s3 = s3_backends[account_id]["aws"]
    try:
        bucket = s3.get_bucket(bucket_name)
    except Exception:
        return []
    for _ in range(5):  # the runtime seam may add a capture file meanwhile
        try:
            keys = list(s3.list_objects(bucket, prefix, None, None, None)[0])
            break
        except RuntimeError:
            continue
    else:
        keys = []
    return [key for key in keys if key.name.endswith(".jsonl")]


# --- the job ----------------------------------------------------------------------------------


def _record_job(sagemaker: Any, job: Job, execution: Execution, capture: dict[str, Any]) -> Any:
    """The execution's processing job, InProgress, in the local SageMaker."""
    definition = job.definition
    endpoint_input = _endpoint_input(definition)
    output = _output(definition)
    app = definition.get("MonitoringAppSpecification") or {}
    baseline = definition.get("BaselineConfig") or {}
    name = f"model-monitoring-{execution.scheduled:%Y%m%d%H%M}-{secrets.token_hex(12)}"
    inputs = [
        _input(
            "endpoint_input",
            "s3://"
            + "/".join(capture_prefix(str(capture["DestinationS3Uri"]), execution.endpoint_name)),
            str(endpoint_input.get("LocalPath", "/opt/ml/processing/input/endpoint")),
            endpoint_input,
        )
    ]
    environment = {
        "dataset_format": json.dumps(CAPTURE_FORMAT),
        "dataset_source": str(endpoint_input.get("LocalPath", "")),
        "output_path": str(output.get("LocalPath", "")),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": execution.endpoint_name,
        "sagemaker_monitoring_schedule_name": job.schedule_name,
        "sagemaker_endpoint_datacapture_prefix": str(capture["DestinationS3Uri"]),
        "end_time": _iso(execution.scheduled + (job.window[1] if job.window else dt.timedelta())),
    }
    start = execution.scheduled + job.window[0] if job.window else job.previous
    if start is not None:
        environment["start_time"] = _iso(start)
    for kind, path in (
        ("statistics", BASELINE_STATISTICS_PATH),
        ("constraints", BASELINE_CONSTRAINTS_PATH),
    ):
        uri = (baseline.get(f"{kind.title()}Resource") or {}).get("S3Uri")
        if uri:
            inputs.append(_input(f"baseline_{kind}", str(uri), path, {}))
            environment[f"baseline_{kind}"] = f"{path}/{Path(str(uri)).name}"
    environment.update(definition.get("Environment") or {})
    processing = sagemaker.create_processing_job(
        app_specification={
            k: app[k] for k in ("ImageUri", "ContainerEntrypoint", "ContainerArguments") if k in app
        },
        experiment_config=None,
        network_config=definition.get("NetworkConfig"),
        processing_inputs=inputs,
        processing_job_name=name,
        processing_output_config={
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": output_folder(definition, execution),
                        "LocalPath": str(output.get("LocalPath", "")),
                        "S3UploadMode": str(output.get("S3UploadMode", "EndOfJob")),
                    },
                }
            ],
            **_kms(definition),
        },
        role_arn=definition.get("RoleArn"),
        tags=[],
        stopping_condition=definition.get("StoppingCondition") or {"MaxRuntimeInSeconds": 3600},
    )
    processing.environment = environment
    processing.processing_resources = definition.get("MonitoringResources")
    processing.monitoring_schedule_arn = job.schedule_arn
    processing.processing_job_status = "InProgress"
    processing.processing_start_time = utcnow()
    processing.processing_end_time = None
    processing.exit_message = None
    processing.failure_reason = None
    return processing


def _end_job(processing: Any, status: str, **fields: str) -> None:
    for name, value in fields.items():
        setattr(processing, name, value)
    processing.processing_job_status = status
    processing.processing_end_time = processing.last_modified_time = utcnow()


def _input(name: str, uri: str, path: str, given: dict[str, Any]) -> dict[str, Any]:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": path,
            "S3DataType": "S3Prefix",
            "S3InputMode": str(given.get("S3InputMode", "File")),
            "S3DataDistributionType": str(given.get("S3DataDistributionType", "FullyReplicated")),
        },
    }


def _kms(definition: dict[str, Any]) -> dict[str, str]:
    key = (definition.get("MonitoringOutputConfig") or {}).get("KmsKeyId")
    return {"KmsKeyId": str(key)} if key else {}


def _endpoint_input(definition: dict[str, Any]) -> dict[str, Any]:
    inputs = definition.get("MonitoringInputs") or [{}]
    return dict(inputs[0].get("EndpointInput") or {})


def _output(definition: dict[str, Any]) -> dict[str, Any]:
    outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or [{}]
    return dict(outputs[0].get("S3Output") or {})


def output_folder(definition: dict[str, Any], execution: Execution) -> str:
    """`<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>`: where the reports go."""
    base = str(_output(definition).get("S3Uri", "")).rstrip("/")
    hour = execution.scheduled.strftime("%Y/%m/%d/%H")
    return f"{base}/{execution.endpoint_name}/{execution.schedule_name}/{hour}"


# --- the analysis -----------------------------------------------------------------------------


def _analyse(
    account_id: str, region: str, job: Job, execution: Execution, records: dict[str, bytes]
) -> int:
    """Analyse the records, write the reports, put the metrics; returns the violations found."""
    from localaws import model_monitor

    definition = job.definition
    app = definition.get("MonitoringAppSpecification") or {}
    environment = definition.get("Environment") or {}
    image = str(app.get("ImageUri", ""))
    if _repository(image) != ANALYZER_REPOSITORY:
        raise _Failed(
            f"ClientError: image {image} is not Model Monitor's analyzer "
            f"({ANALYZER_REPOSITORY}); the local AWS runs only that one "
            "(localaws.model_monitor)"
        )
    unsupported = [
        *(f"MonitoringAppSpecification.{k}" for k in UNSUPPORTED_APP_SPECIFICATION if app.get(k)),
        *(f"Environment.{k}" for k in UNSUPPORTED_ENVIRONMENT if environment.get(k)),
    ]
    if unsupported:
        raise _Failed(f"ClientError: {', '.join(unsupported)}: not run locally")
    baseline = definition.get("BaselineConfig") or {}
    statistics = _baseline(account_id, baseline, "StatisticsResource")
    constraints = _baseline(account_id, baseline, "ConstraintsResource")

    with tempfile.TemporaryDirectory(prefix="model-monitoring-") as folder:
        files = []
        for index, part in enumerate(records.values()):
            path = Path(folder) / f"{index:05d}.jsonl"
            path.write_bytes(part)
            files.append(path)
        if constraints is not None:
            current, report = model_monitor.monitor(files, statistics or {}, constraints)
        else:
            names = [str(f.get("name")) for f in (statistics or {}).get("features") or []]
            current = model_monitor.statistics(model_monitor.read_captures(files, names))
            report = None

    folder_uri = output_folder(definition, execution)
    _put(account_id, f"{folder_uri}/{STATISTICS_FILE}", current)
    if report is not None:
        _put(account_id, f"{folder_uri}/{VIOLATIONS_FILE}", report)
    if str(environment.get("publish_cloudwatch_metrics", "Enabled")) == "Enabled":
        from moto.cloudwatch.models import cloudwatch_backends

        data = model_monitor.cloudwatch_metrics(
            current,
            constraints or {},
            statistics or {},
            execution.endpoint_name,
            job.schedule_name,
            utcnow(),
        )
        if data:
            cloudwatch_backends[account_id][region].put_metric_data(model_monitor.NAMESPACE, data)
    return len((report or {}).get("violations") or [])


def _baseline(account_id: str, baseline: dict[str, Any], resource: str) -> dict[str, Any] | None:
    uri = (baseline.get(resource) or {}).get("S3Uri")
    if not uri:
        return None
    from moto.s3.models import s3_backends

    bucket, _, key = str(uri).removeprefix("s3://").partition("/")
    try:
        found = s3_backends[account_id]["aws"].get_object(bucket, key)
        document = json.loads(bytes(found.value)) if found is not None else None
    except Exception as exc:
        raise _Failed(f"ClientError: baseline {uri} could not be read: {exc}") from None
    if not isinstance(document, dict):
        raise _Failed(f"ClientError: baseline {uri} is not a JSON document")
    return document


def _put(account_id: str, uri: str, document: dict[str, Any]) -> None:
    from moto.s3.models import s3_backends

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = (json.dumps(document, indent=2) + "\n").encode()
    try:
        s3_backends[account_id]["aws"].put_object(bucket, key, body)
    except Exception as exc:
        raise _Failed(f"ClientError: could not upload {uri}: {exc}") from None


def _repository(image: str) -> str:
    """The repository of an image URI: account.dkr.ecr.region.amazonaws.com/<repo>:<tag>."""
    path = image.split("/", 1)[-1]
    return path.split("@", 1)[0].rsplit(":", 1)[0]


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
