"""Deployment guardrails on the local AWS: UpdateEndpoint starts the green fleet, then with a
DeploymentConfig shifts traffic blue to green, bakes, and rolls back when a CloudWatch alarm
trips (without one, all at once); a green fleet that cannot load its model takes no traffic;
InvokeEndpoint puts SageMaker's invocation metrics, kept three hours; CloudWatch alarms are
evaluated from their data; and CloudFormation creates AWS::CloudWatch::Alarm. All through boto3
against `local_aws()`.

The pin (`test_moto_still_...`) checks moto alone: it fails when moto starts evaluating alarms
itself, and localaws/alarms.py can go.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError, WaiterError

from localaws import LocalAWS, local_aws

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BUCKET = "rollout-models"
ROW = "0.1,0.2,0.3"
#: What the blue and the green model answer to any row.
OLD, NEW = 1.0, 5.0
ERRORS = "Invocation5XXErrors"


def _archive(prediction: float) -> bytes:
    """A model.tar.gz of an XGBoost booster that answers `prediction` to every row."""
    features = np.random.default_rng(0).random((20, 3))
    booster = xgb.train(
        {"objective": "reg:squarederror", "base_score": prediction},
        xgb.DMatrix(features, np.full(20, prediction)),
        num_boost_round=1,
    )
    raw = bytes(booster.save_raw("ubj"))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("xgboost-model")
        member.size = len(raw)
        tar.addfile(member, io.BytesIO(raw))
    return archive.getvalue()


def _script_archive(source: str) -> bytes:
    """A model.tar.gz with only code/inference.py: `source`."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("code/inference.py")
        member.size = len(source.encode())
        tar.addfile(member, io.BytesIO(source.encode()))
    return archive.getvalue()


#: A model that loads and fails every request (ModelError 500).
FAILING = "def model_fn(model_dir):\n    return 1\n\ndef predict_fn(data, model):\n    1 / 0\n"
#: A model that takes a while to fail loading: its endpoint's status can be watched meanwhile.
UNLOADABLE = (
    "import time\n\ndef model_fn(model_dir):\n    time.sleep(0.5)\n"
    "    raise RuntimeError('no weights here')\n"
)


#: A model that takes a while to load, then answers NEW.
SLOW = (
    f"import time\n\ndef model_fn(model_dir):\n    time.sleep(0.5)\n    return {NEW!r}\n\n"
    "def predict_fn(data, model):\n    return model\n"
)
#: The configs whose model is a script (SAGEMAKER_PROGRAM).
SCRIPTS = {"failing", "unloadable", "slow"}


def _wait_in_service(aws: LocalAWS, endpoint: str) -> None:
    """boto3's waiter, polling every 50 ms (botocore takes a sub-second Delay)."""
    aws.client("sagemaker").get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 0.05, "MaxAttempts": 300}
    )


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    """A local AWS with endpoint configs of two instances each: `old` and `new` answer OLD and
    NEW, `bad` has model data that does not load, `failing` loads and fails every request
    (ModelError 500), `unloadable` fails loading after half a second, and `slow` loads in half
    a second, then answers NEW."""
    with local_aws() as local:
        s3, sm = local.client("s3"), local.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        bodies = {
            "old": _archive(OLD),
            "new": _archive(NEW),
            "bad": b"not a model archive",
            "failing": _script_archive(FAILING),
            "unloadable": _script_archive(UNLOADABLE),
            "slow": _script_archive(SLOW),
        }
        for name, body in bodies.items():
            s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=body)
            container = {
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"} if name in SCRIPTS else {},
            }
            sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
            variant = {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
            }
            sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        yield local


def _endpoint(aws: LocalAWS, name: str, alarm: bool = True) -> None:
    """Endpoint `name` on `old`, InService, with an alarm `<name>-5xx` on its 5XX errors (the
    developer guide's rollback alarm: any error in a minute)."""
    aws.client("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName="old")
    _wait_in_service(aws, name)
    if alarm:
        aws.client("cloudwatch").put_metric_alarm(
            AlarmName=f"{name}-5xx",
            Namespace="AWS/SageMaker",
            MetricName=ERRORS,
            Dimensions=_dimensions(name),
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
        )


def _dimensions(endpoint: str, **more: str) -> list[dict[str, str]]:
    pairs = {"EndpointName": endpoint, "VariantName": "AllTraffic", **more}
    return [{"Name": k, "Value": v} for k, v in pairs.items()]


def _blue_green(routing: dict[str, Any], *alarms: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def _invoke(aws: LocalAWS, endpoint: str, **kwargs: Any) -> tuple[str, float]:
    """(variant, prediction) of one row, or ("error", status) for a ModelError."""
    runtime = aws.client("sagemaker-runtime")
    kwargs.setdefault("ContentType", "text/csv")
    try:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=ROW, **kwargs)
    except runtime.exceptions.ModelError as error:
        return "error", float(error.response["OriginalStatusCode"])
    return answer["InvokedProductionVariant"], float(answer["Body"].read())


def _roll_out(
    aws: LocalAWS, endpoint: str, timeout: float = 15
) -> tuple[list[str], list[tuple[str, float]]]:
    """Invoke `endpoint` while it deploys: the statuses seen and the answers, until InService."""
    sm = aws.client("sagemaker")
    statuses, answers = [], []
    deadline = time.monotonic() + timeout
    while (status := sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]) != "InService":
        assert time.monotonic() < deadline, f"still {status} after {timeout} s"
        statuses.append(status)
        answers.append(_invoke(aws, endpoint))
    return statuses, answers


def _last(items: list[Any], item: Any) -> int:
    return len(items) - 1 - items[::-1].index(item)


def _threads(endpoint: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"deployment-{endpoint}"]


# --- blue/green deployments -------------------------------------------------------------


def test_a_failing_canary_trips_its_alarm_and_rolls_back(aws: LocalAWS) -> None:
    _endpoint(aws, "canary")
    sm, cloudwatch = aws.client("sagemaker"), aws.client("cloudwatch")
    config = _blue_green(
        {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 5,
        },
        "canary-5xx",
    )
    started = time.monotonic()
    sm.update_endpoint(EndpointName="canary", EndpointConfigName="failing", DeploymentConfig=config)
    statuses, answers = _roll_out(aws, "canary")

    # Rolled back during the canary's bake: the rest of the traffic never moved.
    assert time.monotonic() - started < 5
    assert statuses[0] == "Updating" and "RollingBack" in statuses
    assert ("error", 500.0) in answers  # the canary took some of the traffic, and failed it
    assert ("AllTraffic", OLD) in answers
    endpoint = sm.describe_endpoint(EndpointName="canary")
    assert endpoint["EndpointConfigName"] == "old"
    assert re.fullmatch(
        r"Rolled back to old: CloudWatch alarm\(s\) \[canary-5xx\] went into ALARM during the "
        r"deployment's baking period\.",
        endpoint["FailureReason"],
    )
    assert endpoint["LastDeploymentConfig"] == config
    assert "PendingDeploymentSummary" not in endpoint
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["canary-5xx"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert re.fullmatch(
        r"Threshold Crossed: 1 datapoint \[\d+\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:00\)\] was greater "
        r"than the threshold \(0\.0\)\.",
        alarm["StateReason"],
    )
    # Blue serves everything again.
    assert {_invoke(aws, "canary") for _ in range(20)} == {("AllTraffic", OLD)}
    assert not _threads("canary")


def test_a_good_linear_rollout_serves_both_fleets_then_the_new_one(aws: LocalAWS) -> None:
    _endpoint(aws, "linear")
    sm = aws.client("sagemaker")
    config = _blue_green(
        {
            "Type": "LINEAR",
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 1,
        },
        "linear-5xx",
    )
    sm.update_endpoint(EndpointName="linear", EndpointConfigName="new", DeploymentConfig=config)
    pending = sm.describe_endpoint(EndpointName="linear")["PendingDeploymentSummary"]
    statuses, answers = _roll_out(aws, "linear")

    assert set(statuses) == {"Updating"}
    assert pending["EndpointConfigName"] == "new"
    assert set(answers) == {("AllTraffic", OLD), ("AllTraffic", NEW)}
    # Half the traffic first: the fleets answered in turn before the new one took it all.
    first_new, last_old = answers.index(("AllTraffic", NEW)), _last(answers, ("AllTraffic", OLD))
    assert first_new < last_old
    endpoint = sm.describe_endpoint(EndpointName="linear")
    assert endpoint["EndpointConfigName"] == "new"
    assert endpoint["LastDeploymentConfig"] == config
    assert "FailureReason" not in endpoint
    assert {_invoke(aws, "linear") for _ in range(10)} == {("AllTraffic", NEW)}
    # Both fleets' requests were counted apart, by their config (EndpointConfigName).
    for fleet in ("old", "new"):
        counted = _sum(aws, "Invocations", _dimensions("linear", EndpointConfigName=fleet))
        assert counted > 0, fleet

    # RetainDeploymentConfig deploys the next config the same way.
    sm.update_endpoint(EndpointName="linear", EndpointConfigName="old", RetainDeploymentConfig=True)
    endpoint = sm.describe_endpoint(EndpointName="linear")
    assert endpoint["EndpointStatus"] == "Updating"
    assert endpoint["PendingDeploymentSummary"]["EndpointConfigName"] == "old"
    _roll_out(aws, "linear")
    endpoint = sm.describe_endpoint(EndpointName="linear")
    assert (endpoint["EndpointConfigName"], endpoint["LastDeploymentConfig"]) == ("old", config)


def test_all_at_once_without_a_bake_finishes_at_once(aws: LocalAWS) -> None:
    _endpoint(aws, "at-once", alarm=False)
    sm = aws.client("sagemaker")
    config = _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0})
    started = time.monotonic()
    sm.update_endpoint(EndpointName="at-once", EndpointConfigName="new", DeploymentConfig=config)
    _roll_out(aws, "at-once")
    assert time.monotonic() - started < 2
    endpoint = sm.describe_endpoint(EndpointName="at-once")
    assert (endpoint["EndpointConfigName"], endpoint["LastDeploymentConfig"]) == ("new", config)
    assert _invoke(aws, "at-once") == ("AllTraffic", NEW)


def test_an_update_without_a_deployment_config_is_blue_green_all_at_once(aws: LocalAWS) -> None:
    """SageMaker's default deployment: the green fleet starts, then takes all traffic at once."""
    _endpoint(aws, "plain", alarm=False)
    sm = aws.client("sagemaker")
    sm.update_endpoint(EndpointName="plain", EndpointConfigName="slow")
    endpoint = sm.describe_endpoint(EndpointName="plain")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("Updating", "old")
    assert endpoint["PendingDeploymentSummary"]["EndpointConfigName"] == "slow"
    statuses, answers = _roll_out(aws, "plain")
    assert set(statuses) == {"Updating"}
    # The old fleet answered while the new one loaded (half a second).
    assert answers[0] == ("AllTraffic", OLD)
    assert set(answers) <= {("AllTraffic", OLD), ("AllTraffic", NEW)}
    endpoint = sm.describe_endpoint(EndpointName="plain")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", "slow")
    assert "LastDeploymentConfig" not in endpoint and "FailureReason" not in endpoint
    assert _invoke(aws, "plain") == ("AllTraffic", NEW)
    assert not _threads("plain")


def test_a_green_fleet_that_cannot_load_takes_no_traffic(aws: LocalAWS) -> None:
    """The update fails before any traffic moves: InService on the old config, FailureReason."""
    _endpoint(aws, "unloaded", alarm=False)
    sm = aws.client("sagemaker")
    config = _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0})
    sm.update_endpoint(
        EndpointName="unloaded", EndpointConfigName="unloadable", DeploymentConfig=config
    )
    statuses, answers = _roll_out(aws, "unloaded")

    # Updating while the green fleet tried to load (half a second), and never RollingBack.
    assert statuses and set(statuses) == {"Updating"}
    assert set(answers) == {("AllTraffic", OLD)}
    green = _dimensions("unloaded", EndpointConfigName="unloadable")
    assert _sum(aws, "Invocations", green) == 0
    endpoint = sm.describe_endpoint(EndpointName="unloaded")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", "old")
    assert endpoint["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check. Please check CloudWatch logs for this endpoint. The container's error: "
        "RuntimeError: no weights here"
    )
    assert endpoint["LastDeploymentConfig"] == config
    assert "PendingDeploymentSummary" not in endpoint
    assert {_invoke(aws, "unloaded") for _ in range(10)} == {("AllTraffic", OLD)}

    # Without a DeploymentConfig alike: the model data is not even an archive.
    sm.update_endpoint(EndpointName="unloaded", EndpointConfigName="bad")
    _roll_out(aws, "unloaded")
    endpoint = sm.describe_endpoint(EndpointName="unloaded")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", "old")
    assert "not a readable tar archive" in endpoint["FailureReason"]


def test_updates_sagemaker_refuses(aws: LocalAWS) -> None:
    _endpoint(aws, "busy")
    sm = aws.client("sagemaker")
    slow = _blue_green(
        {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 600,
        }
    )
    sm.update_endpoint(EndpointName="busy", EndpointConfigName="new", DeploymentConfig=slow)
    assert sm.describe_endpoint(EndpointName="busy")["EndpointStatus"] == "Updating"
    with pytest.raises(ClientError, match=r'Cannot update in-progress endpoint ".*:endpoint/busy"'):
        sm.update_endpoint(EndpointName="busy", EndpointConfigName="old")

    missing = _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, "busy-5xx", "nope")
    _endpoint(aws, "refused")
    with pytest.raises(ClientError, match=r"alarm\(s\) that do not exist: \[nope\]"):
        sm.update_endpoint(
            EndpointName="refused", EndpointConfigName="new", DeploymentConfig=missing
        )
    too_big = _blue_green(
        {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 2},
            "WaitIntervalInSeconds": 0,
        }
    )
    with pytest.raises(ClientError, match=r"CanarySize \(2 instance\(s\)\) must be at most 50%"):
        sm.update_endpoint(
            EndpointName="refused", EndpointConfigName="new", DeploymentConfig=too_big
        )
    refused = sm.describe_endpoint(EndpointName="refused")
    assert (refused["EndpointStatus"], refused["EndpointConfigName"]) == ("InService", "old")

    # Deleting the endpoint ends its deployment's thread.
    assert _threads("busy")
    sm.delete_endpoint(EndpointName="busy")
    assert not _threads("busy")

    # Nor is an endpoint being created updated, or a failed one (DeleteEndpoint only).
    sm.create_endpoint(EndpointName="creating", EndpointConfigName="unloadable")
    assert sm.describe_endpoint(EndpointName="creating")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError, match=r'Cannot update in-progress endpoint ".*/creating"'):
        sm.update_endpoint(EndpointName="creating", EndpointConfigName="old")
    with pytest.raises(WaiterError, match="Failed"):
        _wait_in_service(aws, "creating")
    with pytest.raises(ClientError, match=r'Cannot update failed endpoint ".*/creating"'):
        sm.update_endpoint(EndpointName="creating", EndpointConfigName="old")
    sm.delete_endpoint(EndpointName="creating")


def test_deleting_an_endpoint_being_created_ends_its_creation(aws: LocalAWS) -> None:
    sm = aws.client("sagemaker")
    sm.create_endpoint(EndpointName="short-lived", EndpointConfigName="unloadable")
    assert [t.name for t in threading.enumerate() if t.name == "creation-short-lived"]
    sm.delete_endpoint(EndpointName="short-lived")
    assert not [t for t in threading.enumerate() if t.name == "creation-short-lived"]
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert "short-lived" not in names


def test_closing_the_local_aws_ends_its_deployments() -> None:
    with local_aws() as local:
        s3, sm = local.client("s3"), local.client("sagemaker")
        s3.create_bucket(Bucket="closing-models")  # bucket names are global
        s3.put_object(Bucket="closing-models", Key="model.tar.gz", Body=_archive(OLD))
        variant = {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large"}
        container = {"Image": IMAGE, "ModelDataUrl": "s3://closing-models/model.tar.gz"}
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer=container)
        for name in ("a", "b"):
            sm.create_endpoint_config(
                EndpointConfigName=name, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
            )
        sm.create_endpoint(EndpointName="closing", EndpointConfigName="a")
        _wait_in_service(local, "closing")
        config = _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600})
        sm.update_endpoint(EndpointName="closing", EndpointConfigName="b", DeploymentConfig=config)
        (thread,) = _threads("closing")
    thread.join(1)  # it notices within deployments.POLL_SECONDS
    assert not thread.is_alive()


# --- endpoint metrics ---------------------------------------------------------------------


def _sum(aws: LocalAWS, metric: str, dimensions: list[dict[str, str]], stat: str = "Sum") -> float:
    now = dt.datetime.now(dt.UTC)
    datapoints = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=10),
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return sum(float(d[stat]) for d in datapoints)


def test_invocations_put_sagemakers_metrics(aws: LocalAWS) -> None:
    _endpoint(aws, "metered", alarm=False)
    for _ in range(7):
        assert _invoke(aws, "metered") == ("AllTraffic", OLD)
    assert _invoke(aws, "metered", ContentType="application/x-unknown") == ("error", 415.0)
    dims = _dimensions("metered")
    assert _sum(aws, "Invocations", dims) == 8
    assert _sum(aws, "Invocation4XXErrors", dims) == 1
    assert _sum(aws, ERRORS, dims) == 0
    assert _sum(aws, "ModelLatency", dims, "SampleCount") == 8
    assert _sum(aws, "OverheadLatency", dims, "SampleCount") == 8
    assert _sum(aws, "ModelLatency", dims, "Maximum") > 0

    aws.client("sagemaker").create_endpoint(EndpointName="broken", EndpointConfigName="failing")
    _wait_in_service(aws, "broken")
    assert _invoke(aws, "broken") == ("error", 500.0)
    assert _sum(aws, "Invocations", _dimensions("broken")) == 1
    assert _sum(aws, ERRORS, _dimensions("broken")) == 1


def test_invocation_metrics_are_kept_three_hours(aws: LocalAWS) -> None:
    """The runtime seam drops its datapoints past METRICS_RETENTION, at most once a minute."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    from localaws import runtime_seam

    _endpoint(aws, "pruned", alarm=False)
    cloudwatch = cloudwatch_backends[aws.account_id][aws.region]
    runtime = sagemakerruntime_backends[aws.account_id][aws.region]

    def stored() -> list[Any]:
        return [
            d
            for d in cloudwatch.metric_data
            if d.namespace == "AWS/SageMaker"
            and ("EndpointName", "pruned") in {(x.name, x.value) for x in d.dimensions}
        ]

    def age(hours: float) -> None:
        for datum in stored():
            datum.timestamp = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)

    per_request = len(runtime_seam.INVOCATION_METRICS)
    for _ in range(3):
        _invoke(aws, "pruned")
    assert len(stored()) == 3 * per_request
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)
    other = {"Namespace": "Local/Tests", "MetricName": "not-pruned"}
    _put(aws, other, 1.0, old)

    # A minute later (the clock of the last pruning put back), requests of 3 h 01 min ago go.
    age(3 + 1 / 60)
    runtime._next_prune = 0.0
    _invoke(aws, "pruned")
    assert len(stored()) == per_request
    assert [d.name for d in cloudwatch.metric_data if d.name == "not-pruned"] == ["not-pruned"]
    # Datapoints of 2 h 59 min ago stay; and within the minute nothing is pruned again.
    age(3 - 1 / 60)
    runtime._next_prune = 0.0
    _invoke(aws, "pruned")
    assert len(stored()) == 2 * per_request
    age(4)
    _invoke(aws, "pruned")
    assert len(stored()) == 3 * per_request


# --- alarm evaluation ---------------------------------------------------------------------


def _alarm_on(aws: LocalAWS, name: str, **settings: Any) -> dict[str, Any]:
    """A one-period alarm on `name` > 0 (Sum); `settings` override or, as None, remove."""
    alarm = {
        "AlarmName": name,
        "Namespace": "Local/Tests",
        "MetricName": name,
        "Dimensions": [{"Name": "Service", "Value": "api"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        **settings,
    }
    aws.client("cloudwatch").put_metric_alarm(**{k: v for k, v in alarm.items() if v is not None})
    return {"Namespace": "Local/Tests", "MetricName": name}


def _put(aws: LocalAWS, metric: dict[str, Any], value: float, when: dt.datetime) -> None:
    datum = {
        "MetricName": metric["MetricName"],
        "Value": value,
        "Timestamp": when,
        "Dimensions": [{"Name": "Service", "Value": "api"}],
    }
    aws.client("cloudwatch").put_metric_data(Namespace=metric["Namespace"], MetricData=[datum])


def _state(aws: LocalAWS, name: str) -> tuple[str, str]:
    (alarm,) = aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm["StateValue"], alarm["StateReason"]


def test_alarms_are_evaluated_from_their_data_as_cloudwatch_does(aws: LocalAWS) -> None:
    now = dt.datetime.now(dt.UTC)
    minute = now.replace(second=0, microsecond=0)

    breaching = _alarm_on(aws, "breaching", TreatMissingData="notBreaching")
    _put(aws, breaching, 3.0, now)
    assert _state(aws, "breaching") == (
        "ALARM",
        f"Threshold Crossed: 1 datapoint [3.0 ({minute:%d/%m/%y %H:%M:%S})] was greater than "
        "the threshold (0.0).",
    )

    # No data, treated as not breaching: OK, once the state SetAlarmState gave has had its
    # "next comparison" (a datapoint of the metric; this one is older than the range).
    quiet = _alarm_on(aws, "quiet", TreatMissingData="notBreaching")
    aws.client("cloudwatch").set_alarm_state(
        AlarmName="quiet", StateValue="ALARM", StateReason="forced"
    )
    assert _state(aws, "quiet") == ("ALARM", "forced")
    _put(aws, quiet, 3.0, now - dt.timedelta(minutes=30))
    assert _state(aws, "quiet") == (
        "OK",
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching].",
    )

    # Missing data by default: INSUFFICIENT_DATA; percentiles from the samples.
    _alarm_on(aws, "unknown")
    assert _state(aws, "unknown") == (
        "INSUFFICIENT_DATA",
        "Insufficient Data: 3 datapoints were unknown.",
    )
    latency = _alarm_on(aws, "latency", Statistic=None, ExtendedStatistic="p90", Threshold=50.0)
    for value in range(1, 11):  # p90 of 10..100 is 90
        _put(aws, latency, value * 10.0, now)
    assert _state(aws, "latency")[0] == "ALARM"
    assert "[90.0 (" in _state(aws, "latency")[1]


def test_moto_still_never_evaluates_an_alarm() -> None:
    """moto alone (its plain backend) leaves the state where PutMetricAlarm put it."""
    from moto.cloudwatch.models import CloudWatchBackend

    backend = CloudWatchBackend("eu-west-1", "111122223333")
    backend.put_metric_alarm(
        name="pin",
        namespace="Pin",
        metric_name="Errors",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        period=60,
        threshold=0.0,
        statistic="Sum",
        description="",
        dimensions=[],
        alarm_actions=[],
        treat_missing_data="notBreaching",
    )
    backend.put_metric_data("Pin", [{"MetricName": "Errors", "Value": 3.0}])
    (alarm,) = backend.describe_alarms()
    assert (alarm.state_value, alarm.state_reason) == ("OK", "Unchecked: Initial alarm creation")


# --- CloudFormation -----------------------------------------------------------------------


def _alarm_template(threshold: str) -> str:
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": "stack-5xx",
            "AlarmDescription": "5XX errors of the endpoint",
            "Namespace": "AWS/SageMaker",
            "MetricName": ERRORS,
            "Dimensions": _dimensions("stacked"),
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 1,
            "Threshold": {"Ref": "Threshold"},
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "ActionsEnabled": "false",
        },
    }
    return json.dumps(
        {
            "Parameters": {"Threshold": {"Type": "Number", "Default": threshold}},
            "Resources": {"Alarm": alarm},
            "Outputs": {
                "Name": {"Value": {"Ref": "Alarm"}},
                "Arn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
            },
        }
    )


def test_cloudformation_creates_updates_and_deletes_alarms(aws: LocalAWS) -> None:
    cfn, cloudwatch = aws.client("cloudformation"), aws.client("cloudwatch")
    cfn.create_stack(StackName="alarms", TemplateBody=_alarm_template("0.05"))
    (stack,) = cfn.describe_stacks(StackName="alarms")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["stack-5xx"])["MetricAlarms"]
    assert outputs == {"Name": "stack-5xx", "Arn": alarm["AlarmArn"]}
    assert alarm["AlarmArn"].endswith(":alarm:stack-5xx")
    assert {k: alarm.get(k) for k in ("Threshold", "EvaluationPeriods", "DatapointsToAlarm")} == {
        "Threshold": 0.05,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
    }
    assert alarm["Dimensions"] == _dimensions("stacked")
    assert (alarm["Statistic"], alarm["TreatMissingData"], alarm["ActionsEnabled"]) == (
        "Average",
        "notBreaching",
        False,
    )
    assert alarm["AlarmDescription"] == "5XX errors of the endpoint"

    cfn.update_stack(
        StackName="alarms",
        TemplateBody=_alarm_template("0.05"),
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "0.2"}],
    )
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["stack-5xx"])["MetricAlarms"]
    assert alarm["Threshold"] == 0.2

    cfn.delete_stack(StackName="alarms")
    assert cloudwatch.describe_alarms(AlarmNames=["stack-5xx"])["MetricAlarms"] == []


def test_cloudformation_alarms_keep_their_metric_math_and_are_evaluated(aws: LocalAWS) -> None:
    """The stack's drift alarm is metric math: MAX over per-feature metrics."""
    dims = [{"Name": "Endpoint", "Value": "math"}]
    metrics = [
        {
            "Id": f"m{i}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "Math", "MetricName": name, "Dimensions": dims},
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for i, name in enumerate(("drift_a", "drift_b"))
    ]
    metrics.append({"Id": "top", "Expression": "MAX([m0,m1])", "ReturnData": True})
    template = {
        "Resources": {
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "stack-math",
                    "Metrics": metrics,
                    "EvaluationPeriods": 1,
                    "Threshold": 0.1,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                },
            }
        }
    }
    cfn, cloudwatch = aws.client("cloudformation"), aws.client("cloudwatch")
    cfn.create_stack(StackName="math", TemplateBody=json.dumps(template))
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["stack-math"])["MetricAlarms"]
    assert [m["Id"] for m in alarm["Metrics"]] == ["m0", "m1", "top"]
    assert alarm["Metrics"][2]["Expression"] == "MAX([m0,m1])"
    assert alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == dims

    cloudwatch.put_metric_data(
        Namespace="Math",
        MetricData=[{"MetricName": "drift_b", "Dimensions": dims, "Value": 0.7}],
    )
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["stack-math"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
    cfn.delete_stack(StackName="math")
