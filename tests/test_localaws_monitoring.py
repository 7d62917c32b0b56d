"""Model Monitor's monitoring schedules in the local AWS (localaws.monitoring_seam), through boto3.

A small XGBoost model serves an endpoint that captures its traffic; its baseline comes from
rows like its training data (localaws.model_monitor). A data-quality schedule then analyses
traffic like the baseline (Completed, no violation), traffic with two features scaled by 3
(CompletedWithViolations naming exactly those two, their drift in CloudWatch), and no new
traffic (Failed: no data), as SageMaker documents its executions. The pin
(`test_moto_still_...`) fails once moto has monitoring schedules of its own.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError

from localaws import LocalAWS, local_aws, monitoring_schedules, monitoring_seam
from localaws import model_monitor as mm

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
FEATURES = ["length", "diameter", "height", "weight"]
DRIFTED = ["diameter", "weight"]
BUCKET = "monitoring"
CAPTURE = f"s3://{BUCKET}/capture"
REPORTS = f"s3://{BUCKET}/reports"
#: Bucket names are global: the second local AWS (monitor_every) has its own.
OTHER_BUCKET = "monitoring-clock"
ENDPOINT = "ep"
SCHEDULE = "hourly"
HOURLY = "cron(0 * ? * * *)"
DIMENSIONS = [
    {"Name": "Endpoint", "Value": ENDPOINT},
    {"Name": "MonitoringSchedule", "Value": SCHEDULE},
]


def _rows(seed: int, count: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).random((count, len(FEATURES))), 4)


@pytest.fixture(scope="module")
def archive() -> bytes:
    """A model.tar.gz of an XGBoost model trained on rows like the baseline's."""
    x = _rows(1, 400)
    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(x, label=x.sum(axis=1)), 4)
    raw = bytes(booster.save_raw("ubj"))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return out.getvalue()


def _deploy(local: LocalAWS, archive: bytes, tmp: Path, bucket: str = BUCKET) -> None:
    """Endpoint ENDPOINT capturing every request to s3://<bucket>/capture, and the baseline in
    s3://<bucket>/baseline."""
    s3, sm = local.client("s3"), local.client("sagemaker")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=archive)
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz"},
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "m",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    sm.create_endpoint_config(
        EndpointConfigName="c", ProductionVariants=[variant], DataCaptureConfig=capture
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")
    # The baseline, as a baselining job computes it from the training rows.
    data = tmp / "baseline.csv"
    np.savetxt(data, _rows(2, 500), delimiter=",", fmt="%.4f", header=",".join(FEATURES))
    data.write_text(data.read_text().removeprefix("# "))
    statistics = mm.statistics(mm.read_csv([data], header=True))
    for name, document in (
        ("statistics.json", statistics),
        ("constraints.json", mm.suggest_constraints(statistics)),
    ):
        s3.put_object(Bucket=bucket, Key=f"baseline/{name}", Body=json.dumps(document))
    deadline = time.monotonic() + 30
    while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the endpoint did not come InService"
        time.sleep(0.02)


def _definition(bucket: str = BUCKET, **overrides: Any) -> dict[str, Any]:
    """A data-quality MonitoringJobDefinition of ENDPOINT, as the sagemaker SDK makes it."""
    definition: dict[str, Any] = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"s3://{bucket}/baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": f"s3://{bucket}/baseline/statistics.json"},
        },
        "MonitoringInputs": [
            {
                "EndpointInput": {
                    "EndpointName": ENDPOINT,
                    "LocalPath": "/opt/ml/processing/input/endpoint",
                }
            }
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/reports",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 20,
            }
        },
        "MonitoringAppSpecification": {"ImageUri": ANALYZER},
        "Environment": {"publish_cloudwatch_metrics": "Enabled"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "RoleArn": ROLE,
    }
    definition.update(overrides)
    return definition


def _create(
    sm: Any, name: str, expression: str = HOURLY, bucket: str = BUCKET, **definition: Any
) -> None:
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": _definition(bucket, **definition),
        },
    )


def _send(local: LocalAWS, rows: np.ndarray) -> None:
    """The rows as CSV requests of 50 rows each."""
    runtime = local.client("sagemaker-runtime")
    for start in range(0, len(rows), 50):
        body = "\n".join(",".join(f"{v:.4f}" for v in row) for row in rows[start : start + 50])
        runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=body)


def _json(local: LocalAWS, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _folder(summary: dict[str, Any]) -> str:
    hour = summary["ScheduledTime"].astimezone(dt.UTC).strftime("%Y/%m/%d/%H")
    return f"{REPORTS}/{ENDPOINT}/{summary['MonitoringScheduleName']}/{hour}"


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@dataclass
class Story:
    """The module's local AWS, and the executions of SCHEDULE over its traffic."""

    aws: LocalAWS
    #: The schedule's status right after CreateMonitoringSchedule.
    created_status: str
    #: Each run's summaries: traffic like the baseline, drifted traffic, no new traffic.
    alike: list[dict[str, Any]]
    drifted: list[dict[str, Any]]
    idle: list[dict[str, Any]]
    #: The reports right after each analysing run (they share the hour's folder).
    alike_reports: dict[str, Any]
    drifted_reports: dict[str, Any]
    #: The reports' objects under REPORTS after the first run.
    first_objects: list[str]


@pytest.fixture(scope="module")
def story(archive: bytes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with local_aws() as aws:
        _deploy(aws, archive, tmp_path_factory.mktemp("baseline"))
        sm, s3 = aws.client("sagemaker"), aws.client("s3")
        _create(sm, SCHEDULE)
        created = sm.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)

        def reports(summary: dict[str, Any]) -> dict[str, Any]:
            folder = _folder(summary)
            return {
                name: _json(aws, f"{folder}/{name}")
                for name in ("statistics.json", "constraint_violations.json")
            }

        _send(aws, _rows(3, 200))
        alike = aws.run_monitoring_schedules()
        alike_reports = reports(alike[0])
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/")
        first_objects = [o["Key"] for o in listed.get("Contents", [])]

        drifted_rows = _rows(4, 150)
        for name in DRIFTED:
            drifted_rows[:, FEATURES.index(name)] *= 3
        _send(aws, drifted_rows)
        drifted = aws.run_monitoring_schedules(SCHEDULE)
        drifted_reports = reports(drifted[0])

        idle = aws.run_monitoring_schedules()
        yield Story(
            aws,
            created["MonitoringScheduleStatus"],
            alike,
            drifted,
            idle,
            alike_reports,
            drifted_reports,
            first_objects,
        )


def test_moto_still_has_no_monitoring_schedules() -> None:
    """The gap: moto's SageMaker had none of the calls when the seam added them, and its
    backend has no monitoring schedule of its own."""
    from moto.sagemaker.models import SageMakerModelBackend

    monitoring_seam.install()
    assert monitoring_seam.moto_operations() == []
    assert not [op for op in monitoring_seam.OPERATIONS if hasattr(SageMakerModelBackend, op)]


def test_a_schedule_is_pending_then_scheduled_and_described(story: Story) -> None:
    sm = story.aws.client("sagemaker")
    assert story.created_status in ("Pending", "Scheduled")
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=SCHEDULE)
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["MonitoringScheduleArn"] == (
        f"arn:aws:sagemaker:us-east-1:{story.aws.account_id}:monitoring-schedule/{SCHEDULE}"
    )
    assert described["MonitoringType"] == "DataQuality"
    assert described["EndpointName"] == ENDPOINT
    config = described["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"] == {"ScheduleExpression": HOURLY}
    assert config["MonitoringJobDefinition"]["MonitoringAppSpecification"]["ImageUri"] == ANALYZER
    assert described["LastMonitoringExecutionSummary"] == story.idle[0]
    assert described["CreationTime"] <= described["LastModifiedTime"]


def test_traffic_like_the_baseline_completes_without_violations(story: Story) -> None:
    [summary] = story.alike
    assert summary["MonitoringExecutionStatus"] == "Completed"
    assert summary["MonitoringScheduleName"] == SCHEDULE
    assert summary["EndpointName"] == ENDPOINT and summary["MonitoringType"] == "DataQuality"
    assert "FailureReason" not in summary
    statistics = story.alike_reports["statistics.json"]
    assert statistics["dataset"]["item_count"] == 200
    assert [f["name"] for f in statistics["features"]] == FEATURES
    assert story.alike_reports["constraint_violations.json"] == {"violations": []}
    # Model Monitor's layout, and nothing but its two reports.
    folder = _folder(summary).removeprefix(f"s3://{BUCKET}/")
    assert sorted(story.first_objects) == [
        f"{folder}/constraint_violations.json",
        f"{folder}/statistics.json",
    ]


def test_the_execution_is_a_processing_job(story: Story) -> None:
    [summary] = story.alike
    name = summary["ProcessingJobArn"].rsplit("/", 1)[1]
    assert name.startswith(f"model-monitoring-{summary['ScheduledTime']:%Y%m%d%H}")
    job = story.aws.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobArn"] == summary["ProcessingJobArn"]
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"].startswith("Completed:")
    assert job["MonitoringScheduleArn"].endswith(f":monitoring-schedule/{SCHEDULE}")
    assert job["AppSpecification"]["ImageUri"] == ANALYZER
    [output] = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == _folder(summary)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["endpoint_input"] == f"{CAPTURE}/{ENDPOINT}/"
    environment = job["Environment"]
    assert environment["sagemaker_endpoint_name"] == ENDPOINT
    assert environment["sagemaker_monitoring_schedule_name"] == SCHEDULE
    assert environment["publish_cloudwatch_metrics"] == "Enabled"
    assert environment["baseline_constraints"].endswith("/constraints.json")


def test_drifted_features_are_the_violations(story: Story) -> None:
    [summary] = story.drifted
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
    # Only what was captured since the previous execution.
    assert story.drifted_reports["statistics.json"]["dataset"]["item_count"] == 150
    found = story.drifted_reports["constraint_violations.json"]["violations"]
    assert sorted(v["feature_name"] for v in found) == sorted(DRIFTED)
    assert {v["constraint_check_type"] for v in found} == {"baseline_drift_check"}
    name = summary["ProcessingJobArn"].rsplit("/", 1)[1]
    job = story.aws.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"] == (
        "CompletedWithViolations: Job completed successfully with 2 violations."
    )


def _drift(story: Story, feature: str) -> list[float]:
    """The Maximum of each hour's feature_baseline_drift_<feature> of SCHEDULE."""
    now = dt.datetime.now(dt.UTC)
    answer = story.aws.client("cloudwatch").get_metric_statistics(
        Namespace=mm.NAMESPACE,
        MetricName=f"feature_baseline_drift_{feature}",
        Dimensions=DIMENSIONS,
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(minutes=1),
        Period=3600,
        Statistics=["Maximum"],
    )
    return [p["Maximum"] for p in answer["Datapoints"]]


def test_the_drift_metrics_are_in_cloudwatch(story: Story) -> None:
    for feature in FEATURES:
        [maximum] = _drift(story, feature)
        assert (maximum > 0.1) == (feature in DRIFTED), (feature, maximum)


def test_a_window_without_captures_fails_as_sagemaker_says(story: Story) -> None:
    [summary] = story.idle
    assert summary["MonitoringExecutionStatus"] == "Failed"
    assert summary["FailureReason"] == "Job inputs had no data"
    assert "ProcessingJobArn" not in summary


def test_executions_are_listed_sorted_filtered_and_paged(story: Story) -> None:
    sm = story.aws.client("sagemaker")
    mine = {"MonitoringScheduleName": SCHEDULE}
    ran = [*story.alike, *story.drifted, *story.idle]
    ascending = sm.list_monitoring_executions(**mine, SortOrder="Ascending", MaxResults=3)
    assert ascending["MonitoringExecutionSummaries"] == ran
    listed = sm.list_monitoring_executions(**mine, MaxResults=100)["MonitoringExecutionSummaries"]
    assert listed[-3:] == ran[::-1]  # CreationTime, Descending by default
    by_status = sm.list_monitoring_executions(
        **mine, SortBy="Status", SortOrder="Ascending", MaxResults=100
    )["MonitoringExecutionSummaries"]
    statuses = [s["MonitoringExecutionStatus"] for s in by_status]
    assert statuses == sorted(statuses)
    first = sm.list_monitoring_executions(**mine, SortOrder="Ascending", MaxResults=2)
    second = sm.list_monitoring_executions(
        **mine, SortOrder="Ascending", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [*first["MonitoringExecutionSummaries"], second["MonitoringExecutionSummaries"][0]] == (
        ran
    )
    failed = sm.list_monitoring_executions(**mine, StatusEquals="Failed", MaxResults=100)
    assert story.idle[0] in failed["MonitoringExecutionSummaries"]
    assert {s["MonitoringExecutionStatus"] for s in failed["MonitoringExecutionSummaries"]} == {
        "Failed"
    }
    other = sm.list_monitoring_executions(EndpointName="another")
    assert other["MonitoringExecutionSummaries"] == []
    later = sm.list_monitoring_executions(**mine, CreationTimeAfter=ran[1]["CreationTime"])
    assert ran[0] not in later["MonitoringExecutionSummaries"]


def test_update_stop_start_and_delete(story: Story) -> None:
    """A schedule of a DataQualityJobDefinition through its life."""
    sm = story.aws.client("sagemaker")
    definition = _definition()
    sm.create_data_quality_job_definition(
        JobDefinitionName="daily-quality",
        DataQualityBaselineConfig=definition["BaselineConfig"],
        DataQualityAppSpecification={
            "ImageUri": ANALYZER,
            "Environment": {"publish_cloudwatch_metrics": "Disabled"},
        },
        DataQualityJobInput={"EndpointInput": definition["MonitoringInputs"][0]["EndpointInput"]},
        DataQualityJobOutputConfig=definition["MonitoringOutputConfig"],
        JobResources=definition["MonitoringResources"],
        RoleArn=ROLE,
    )
    config = {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 6 ? * * *)"},
        "MonitoringJobDefinitionName": "daily-quality",
        "MonitoringType": "DataQuality",
    }
    sm.create_monitoring_schedule(MonitoringScheduleName="daily", MonitoringScheduleConfig=config)
    listed = sm.list_monitoring_schedules(EndpointName=ENDPOINT, SortBy="Name")
    summaries = {s["MonitoringScheduleName"]: s for s in listed["MonitoringScheduleSummaries"]}
    assert summaries["daily"]["MonitoringJobDefinitionName"] == "daily-quality"
    assert [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]] == sorted(
        summaries, reverse=True
    )
    contains = sm.list_monitoring_schedules(NameContains="dai")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in contains] == ["daily"]

    [ran] = story.aws.run_monitoring_schedules("daily")
    assert ran["MonitoringJobDefinitionName"] == "daily-quality"
    assert ran["MonitoringExecutionStatus"] == "CompletedWithViolations"  # the whole capture
    quiet = story.aws.client("cloudwatch").list_metrics(
        Namespace=mm.NAMESPACE, Dimensions=[{"Name": "MonitoringSchedule", "Value": "daily"}]
    )
    assert quiet["Metrics"] == []  # publish_cloudwatch_metrics Disabled

    config["ScheduleConfig"] = {"ScheduleExpression": "cron(0 0/6 ? * * *)"}
    sm.update_monitoring_schedule(MonitoringScheduleName="daily", MonitoringScheduleConfig=config)
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="daily")
    assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == (
        "cron(0 0/6 ? * * *)"
    )
    assert described["LastModifiedTime"] > described["CreationTime"]

    sm.stop_monitoring_schedule(MonitoringScheduleName="daily")
    stopped = sm.list_monitoring_schedules(StatusEquals="Stopped")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in stopped] == ["daily"]
    ran_all = story.aws.run_monitoring_schedules()
    assert "daily" not in {s["MonitoringScheduleName"] for s in ran_all}
    with pytest.raises(ValueError, match="not Scheduled"):
        story.aws.run_monitoring_schedules("daily")

    sm.start_monitoring_schedule(MonitoringScheduleName="daily")
    described = sm.describe_monitoring_schedule(MonitoringScheduleName="daily")
    assert described["MonitoringScheduleStatus"] == "Scheduled"

    sm.delete_monitoring_schedule(MonitoringScheduleName="daily")
    code, _ = _error(sm.describe_monitoring_schedule, MonitoringScheduleName="daily")
    assert code == "ResourceNotFound"
    kept = sm.list_monitoring_executions(MonitoringScheduleName="daily")
    assert kept["MonitoringExecutionSummaries"] == [ran]  # the history stays


def test_a_container_the_local_aws_cannot_run_fails_its_execution(story: Story) -> None:
    sm = story.aws.client("sagemaker")
    _create(sm, "own-image", MonitoringAppSpecification={"ImageUri": XGBOOST})
    try:
        [ran] = story.aws.run_monitoring_schedules("own-image")
        assert ran["MonitoringExecutionStatus"] == "Failed"
        assert "sagemaker-model-monitor-analyzer" in ran["FailureReason"]
        name = ran["ProcessingJobArn"].rsplit("/", 1)[1]
        job = sm.describe_processing_job(ProcessingJobName=name)
        assert job["ProcessingJobStatus"] == "Failed"
        assert job["FailureReason"] == ran["FailureReason"]
    finally:
        sm.delete_monitoring_schedule(MonitoringScheduleName="own-image")


def test_a_one_time_schedule_runs_once_by_itself(story: Story) -> None:
    sm = story.aws.client("sagemaker")
    sm.create_monitoring_schedule(
        MonitoringScheduleName="once",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinition": _definition(),
        },
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            found = sm.list_monitoring_executions(MonitoringScheduleName="once")
            summaries = found["MonitoringExecutionSummaries"]
            if summaries and summaries[0]["MonitoringExecutionStatus"] not in (
                "Pending",
                "InProgress",
            ):
                break
            assert time.monotonic() < deadline, summaries
            time.sleep(0.02)
        [summary] = summaries
        # The last hour's records: the traffic like the baseline and the drifted one.
        assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
        statistics = _json(story.aws, f"{_folder(summary)}/statistics.json")
        assert statistics["dataset"]["item_count"] == 350
        ran = story.aws.run_monitoring_schedules()  # runs it only when named
        assert "once" not in {s["MonitoringScheduleName"] for s in ran}
    finally:
        sm.delete_monitoring_schedule(MonitoringScheduleName="once")


def test_errors_are_sagemakers(story: Story) -> None:
    sm = story.aws.client("sagemaker")
    create = sm.create_monitoring_schedule

    def config(expression: str = HOURLY, **definition: Any) -> dict[str, Any]:
        return {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": _definition(**definition),
        }

    code, message = _error(
        create, MonitoringScheduleName=SCHEDULE, MonitoringScheduleConfig=config()
    )
    assert code == "ResourceInUse" and SCHEDULE in message
    for expression in (
        "cron(0 * * * ? *)",
        "rate(1 hour)",
        "cron(0 24 ? * * *)",
        "cron(0 0/25 ? * * *)",
    ):
        code, message = _error(
            create, MonitoringScheduleName="bad", MonitoringScheduleConfig=config(expression)
        )
        assert code == "ValidationException" and "ScheduleExpression" in message, expression
    code, message = _error(
        create, MonitoringScheduleName="bad", MonitoringScheduleConfig=config("NOW")
    )
    assert code == "ValidationException" and "DataAnalysisStartTime" in message
    missing = [{"EndpointInput": {"EndpointName": "nope", "LocalPath": "/opt/ml/processing/in"}}]
    code, message = _error(
        create,
        MonitoringScheduleName="bad",
        MonitoringScheduleConfig=config(MonitoringInputs=missing),
    )
    assert code == "ValidationException" and "endpoint/nope" in message
    code, message = _error(
        create,
        MonitoringScheduleName="bad",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": HOURLY},
            "MonitoringJobDefinitionName": "quality",
            "MonitoringType": "ModelQuality",
        },
    )
    assert code == "ValidationException" and "DataQuality" in message
    code, message = _error(
        create,
        MonitoringScheduleName="bad",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": HOURLY},
            "MonitoringJobDefinitionName": "nope",
            "MonitoringType": "DataQuality",
        },
    )
    assert code == "ValidationException" and "data-quality-job-definition/nope" in message
    code, _ = _error(create, MonitoringScheduleName="bad_name", MonitoringScheduleConfig=config())
    assert code == "ValidationException"
    for call in (
        sm.describe_monitoring_schedule,
        sm.delete_monitoring_schedule,
        sm.start_monitoring_schedule,
        sm.stop_monitoring_schedule,
    ):
        code, message = _error(call, MonitoringScheduleName="nope")
        assert code == "ResourceNotFound" and "monitoring-schedule/nope" in message
    code, _ = _error(
        sm.update_monitoring_schedule,
        MonitoringScheduleName="nope",
        MonitoringScheduleConfig=config(),
    )
    assert code == "ResourceNotFound"
    code, _ = _error(sm.list_monitoring_executions, NextToken="x")
    assert code == "ValidationException"
    assert [
        s["MonitoringScheduleName"]
        for s in sm.list_monitoring_schedules()["MonitoringScheduleSummaries"]
    ] == [SCHEDULE]
    with pytest.raises(ValueError, match="not found"):
        story.aws.run_monitoring_schedules("nope")


def test_schedule_expressions_as_sagemaker_takes_them() -> None:
    hours = monitoring_schedules.schedule_hours
    assert hours("cron(0 * ? * * *)") == frozenset(range(24))
    assert hours("cron(0 12 ? * * *)") == {12}
    assert hours("cron(0 17/12 ? * * *)") == {17}
    assert hours("cron(0 0/6 ? * * *)") == {0, 6, 12, 18}
    assert hours("NOW") is None
    at = dt.datetime(2026, 3, 1, 17, 0)
    assert monitoring_schedules.next_run("cron(0 * ? * * *)", at) == dt.datetime(2026, 3, 1, 18)
    assert monitoring_schedules.next_run("cron(0 5 ? * * *)", at) == dt.datetime(2026, 3, 2, 5)
    assert monitoring_schedules.next_run("cron(0 1/8 ? * * *)", at) == dt.datetime(2026, 3, 2, 1)


def test_monitor_every_runs_the_schedules_by_themselves_until_the_account_closes(
    archive: bytes, tmp_path: Path
) -> None:
    with local_aws(monitor_every=0.2) as aws:
        assert aws.monitor_every == 0.2
        _deploy(aws, archive, tmp_path, OTHER_BUCKET)
        sm = aws.client("sagemaker")
        _create(sm, SCHEDULE, bucket=OTHER_BUCKET)
        _send(aws, _rows(5, 50))
        deadline = time.monotonic() + 10
        while True:
            done = [
                s
                for s in sm.list_monitoring_executions()["MonitoringExecutionSummaries"]
                if s["MonitoringExecutionStatus"] not in ("Pending", "InProgress")
            ]
            if len(done) >= 2:
                break
            assert time.monotonic() < deadline, done
            time.sleep(0.05)
        assert {s["MonitoringExecutionStatus"] for s in done} <= {"Completed", "Failed"}
        assert done[-1]["MonitoringExecutionStatus"] == "Completed"  # the first, the traffic's
        clock = f"monitoring-{aws.account_id}"
        assert clock in {t.name for t in threading.enumerate()}
    assert clock not in {t.name for t in threading.enumerate()}


# --- metric-math alarms (localaws.alarms) -------------------------------------------------------

MATH_NAMESPACE = "Local/MetricMath"


def _math_alarm(
    cloudwatch: Any,
    name: str,
    expression: str,
    threshold: float,
    ids: tuple[str, ...] = ("m1", "m2", "m3"),
    **settings: Any,
) -> None:
    metrics: list[dict[str, Any]] = [
        {
            "Id": i,
            "MetricStat": {
                "Metric": {
                    "Namespace": MATH_NAMESPACE,
                    "MetricName": f"value_{i}",
                    "Dimensions": [{"Name": "Alarm", "Value": name}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": False,
        }
        for i in ids
    ]
    metrics.append({"Id": "e1", "Expression": expression, "ReturnData": True})
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Metrics=metrics,
        EvaluationPeriods=settings.pop("EvaluationPeriods", 1),
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        **settings,
    )


def _put(cloudwatch: Any, alarm: str, values: dict[str, float], ago: float = 0) -> None:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago)
    cloudwatch.put_metric_data(
        Namespace=MATH_NAMESPACE,
        MetricData=[
            {
                "MetricName": f"value_{i}",
                "Dimensions": [{"Name": "Alarm", "Value": alarm}],
                "Value": value,
                "Timestamp": when,
            }
            for i, value in values.items()
        ],
    )


def _alarm(cloudwatch: Any, name: str) -> dict[str, Any]:
    [found] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found


def test_the_drift_alarm_of_the_template_goes_to_alarm_on_drifted_traffic(story: Story) -> None:
    """MAX over every feature's feature_baseline_drift_<feature>, as deploy/template.py's drift
    alarm is written, over the story's executions."""
    cloudwatch = story.aws.client("cloudwatch")
    metrics: list[dict[str, Any]] = [
        {
            "Id": f"m{index}",
            "Label": feature,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": mm.NAMESPACE,
                    "MetricName": f"feature_baseline_drift_{feature}",
                    "Dimensions": DIMENSIONS,
                },
                "Period": 3600,
                "Stat": "Maximum",
            },
        }
        for index, feature in enumerate(FEATURES)
    ]
    ids = ",".join(m["Id"] for m in metrics)
    metrics.append({"Id": "drift", "Expression": f"MAX([{ids}])", "ReturnData": True})
    cloudwatch.put_metric_alarm(
        AlarmName="drift",
        Metrics=metrics,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    alarm = _alarm(cloudwatch, "drift")
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [")
    assert "greater than the threshold (0.1)" in alarm["StateReason"]
    [value] = json.loads(alarm["StateReasonData"])["recentDatapoints"]
    assert value == max(_drift(story, feature)[0] for feature in DRIFTED)


@pytest.mark.parametrize(
    ("expression", "threshold", "state"),
    [
        ("MAX([m1,m2,m3])", 0.1, "ALARM"),  # 0.3
        ("MIN([m1, m2])", 0.1, "OK"),  # 0.05
        ("SUM([m1,m2])", 0.3, "ALARM"),  # 0.35
        ("AVG([m1,m2,m3])", 0.15, "OK"),  # 0.35 / 3: a missing value counts as 0
        ("AVG([m1,m2])", 0.15, "ALARM"),  # 0.175
        ("m2", 0.25, "ALARM"),  # 0.3
        ("m1", 0.25, "OK"),  # 0.05
    ],
)
def test_metric_math_alarms_are_evaluated_per_period(
    story: Story, expression: str, threshold: float, state: str
) -> None:
    cloudwatch = story.aws.client("cloudwatch")
    name = f"math-{expression}-{threshold}"
    _math_alarm(cloudwatch, name, expression, threshold)
    assert _alarm(cloudwatch, name)["StateValue"] == "INSUFFICIENT_DATA"  # no data yet
    _put(cloudwatch, name, {"m1": 0.9, "m2": 0.9, "m3": 0.9}, ago=120)  # an older period
    _put(cloudwatch, name, {"m1": 0.05, "m2": 0.3})
    assert _alarm(cloudwatch, name)["StateValue"] == state


def test_metric_math_alarms_take_the_single_metric_rules(story: Story) -> None:
    cloudwatch = story.aws.client("cloudwatch")
    _math_alarm(
        cloudwatch, "math-m-of-n", "MAX([m1,m2])", 0.5, EvaluationPeriods=3, DatapointsToAlarm=2
    )
    _put(cloudwatch, "math-m-of-n", {"m1": 0.9}, ago=120)
    _put(cloudwatch, "math-m-of-n", {"m2": 0.1}, ago=60)
    _put(cloudwatch, "math-m-of-n", {"m1": 0.2})
    alarm = _alarm(cloudwatch, "math-m-of-n")
    assert alarm["StateValue"] == "OK"  # 1 of the last 3 breaches
    _put(cloudwatch, "math-m-of-n", {"m2": 0.7})
    alarm = _alarm(cloudwatch, "math-m-of-n")
    assert alarm["StateValue"] == "ALARM"  # the current period's MAX is now 0.7: 2 of 3
    assert "2 out of the last 3 datapoints" in alarm["StateReason"]

    _math_alarm(cloudwatch, "math-missing", "MAX([m1])", 0.5, TreatMissingData="breaching")
    assert _alarm(cloudwatch, "math-missing")["StateValue"] == "ALARM"
    _math_alarm(cloudwatch, "math-quiet", "MAX([m1])", 0.5, TreatMissingData="notBreaching")
    assert _alarm(cloudwatch, "math-quiet")["StateValue"] == "OK"


def test_metric_math_the_local_aws_does_not_evaluate_keeps_its_state(story: Story) -> None:
    cloudwatch = story.aws.client("cloudwatch")
    _math_alarm(cloudwatch, "math-other", "m1 * 2", 0.5)
    _put(cloudwatch, "math-other", {"m1": 0.9})
    cloudwatch.set_alarm_state(AlarmName="math-other", StateValue="OK", StateReason="by hand")
    assert _alarm(cloudwatch, "math-other")["StateValue"] == "OK"
