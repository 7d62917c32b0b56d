"""EventBridge in the local AWS: S3's and CloudWatch's events start the workflow's state machine
through rules, as on AWS (localaws/events_seam.py).

The pin tests (`test_moto_still_...`) check moto alone, in a fresh interpreter without the seam:
each fails when moto closes the gap it names. Then the seam's bridge for that gap can go.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import LocalAWS, events_seam, local_aws

ROLE = "arn:aws:iam::{account}:role/events-start-workflow"
PREFIX = "abalone-pipeline/input/"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CW_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
ALARM_PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"state": {"value": ["ALARM"]}},
}


# -- pins: what moto alone still gets wrong --------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, warnings
    import boto3
    from moto import mock_aws
    warnings.simplefilter("ignore")
    R = "us-east-1"
    found = {}
    with mock_aws():
        s3, ev = boto3.client("s3", region_name=R), boto3.client("events", region_name=R)
        sqs, sfn = boto3.client("sqs", region_name=R), boto3.client("stepfunctions", region_name=R)
        cw = boto3.client("cloudwatch", region_name=R)

        def queue(name):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            return url, arn["Attributes"]["QueueArn"]

        def received(url):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
            return [json.loads(m["Body"]) for m in messages or []]

        def rule(name, pattern, arn, bus="default", **target):
            ev.put_rule(Name=name, EventPattern=json.dumps(pattern), EventBusName=bus)
            ev.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "t", "Arn": arn, **target}])

        machine = sfn.create_state_machine(
            name="pin", roleArn="arn:aws:iam::123456789012:role/pin",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]

        # S3 -> EventBridge: the events of one PutObject, CopyObject, multipart upload.
        s3_url, s3_arn = queue("s3-events")
        bus_url, bus_arn = queue("custom-bus")
        rule("s3", {"source": ["aws.s3"]}, s3_arn)
        ev.create_event_bus(Name="custom")
        rule("s3-custom", {"source": ["aws.s3"]}, bus_arn, bus="custom")
        s3.create_bucket(Bucket="pin-bucket")
        s3.put_bucket_notification_configuration(
            Bucket="pin-bucket", NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        found["notification"] = sorted(
            k for k in s3.get_bucket_notification_configuration(Bucket="pin-bucket")
            if k != "ResponseMetadata"
        )
        s3.put_object(Bucket="pin-bucket", Key="in/a", Body=b"abc")
        s3.copy_object(Bucket="pin-bucket", Key="in/b", CopySource="pin-bucket/in/a")
        upload = s3.create_multipart_upload(Bucket="pin-bucket", Key="in/c")["UploadId"]
        part = s3.upload_part(
            Bucket="pin-bucket", Key="in/c", UploadId=upload, PartNumber=1, Body=b"x"
        )
        s3.complete_multipart_upload(
            Bucket="pin-bucket", Key="in/c", UploadId=upload,
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )
        found["s3"] = received(s3_url)
        found["s3_custom_bus"] = len(received(bus_url))

        # CreateBucket: an "Object Created" event to a rule asking for the call.
        rule("bucket", {"source": ["aws.s3"], "detail": {"eventName": ["CreateBucket"]}},
             machine, RoleArn="arn:aws:iam::123456789012:role/pin")
        s3.create_bucket(Bucket="pin-second-bucket")
        found["create_bucket_executions"] = len(
            sfn.list_executions(stateMachineArn=machine)["executions"]
        )

        # A state machine target: PutEvents fails; PutTargets wants no RoleArn.
        rule("sfn", {"source": ["pin.sfn"]}, machine)
        try:
            ev.put_events(Entries=[{"Source": "pin.sfn", "DetailType": "x", "Detail": "{}"}])
            found["put_events"] = "ok"
        except NotImplementedError as error:  # moto's server answers 500
            found["put_events"] = type(error).__name__

        # A disabled rule still delivers.
        off_url, off_arn = queue("disabled")
        rule("off", {"source": ["pin.off"]}, off_arn)
        ev.disable_rule(Name="off")
        ev.put_events(Entries=[{"Source": "pin.off", "DetailType": "x", "Detail": "{}"}])
        found["disabled_rule_delivered"] = len(received(off_url))

        # An alarm's state change sends no event.
        cw_url, cw_arn = queue("alarms")
        rule("alarm", {"source": ["aws.cloudwatch"]}, cw_arn)
        cw.put_metric_alarm(
            AlarmName="pin", Namespace="Pin", MetricName="Drift", Statistic="Maximum",
            Period=60, EvaluationPeriods=1, Threshold=0.5,
            ComparisonOperator="GreaterThanThreshold",
        )
        cw.set_alarm_state(AlarmName="pin", StateValue="ALARM", StateReason="drifted")
        found["alarm_events"] = len(received(cw_url))

    from moto.events.utils import EventTemplateParser
    try:
        EventTemplateParser.parse(
            '{"key": <key>}', {"key": "$.detail.key"},
            {"detail": {"key": "in/a"}, "ingestion-time": 0},
        )
        found["unquoted_placeholder"] = "json"
    except ValueError:
        found["unquoted_placeholder"] = "not json"
    print(json.dumps(found))
    """
)


@pytest.fixture(scope="module")
def moto_alone() -> dict[str, Any]:
    """What moto 5.2.5 does, in a fresh interpreter with no seam."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=180, check=True
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_moto_still_sends_s3_events_of_its_own_shape_several_per_write(moto_alone):
    """Gap 1: reason "ObjectCreated" (not the API), "eTag", one fixed id and sequencer, a
    "version-id" of "null", and extra events: Object Tags Added on PutObject, two Object
    Created and an Object Tags Added on CompleteMultipartUpload."""
    events = moto_alone["s3"]
    assert [e["detail-type"] for e in events] == [
        "Object Created",
        "Object Tags Added",
        "Object Created",
        "Object Created",
        "Object Tags Added",
        "Object Created",
    ]
    first = events[0]["detail"]
    assert first["reason"] == "ObjectCreated"
    assert "eTag" in first["object"] and first["object"]["version-id"] == "null"
    assert len({e["id"] for e in events}) == 1
    assert len({e["detail"]["object"]["sequencer"] for e in events}) == 1


def test_moto_still_sends_s3_events_to_every_bus_and_one_for_a_new_bucket(moto_alone):
    """Gap 1: a custom bus's rule gets S3's events (S3 sends to the default bus), and a rule
    asking for CreateBucket starts an execution (S3 sends no event for a bucket)."""
    assert moto_alone["s3_custom_bus"] == len(moto_alone["s3"])
    assert moto_alone["create_bucket_executions"] == 1


def test_moto_still_cannot_deliver_to_a_state_machine(moto_alone):
    """Gap 2: Rule.send_to_targets raises NotImplementedError (PutEvents: a 500)."""
    assert moto_alone["put_events"] == "NotImplementedError"


def test_moto_still_fills_an_unquoted_placeholder_with_raw_text(moto_alone):
    """Gap 2: moto's InputTransformer makes `{"key": <key>}` into `{"key": in/a}`."""
    assert moto_alone["unquoted_placeholder"] == "not json"


def test_moto_still_delivers_to_disabled_rules(moto_alone):
    """Gap 3."""
    assert moto_alone["disabled_rule_delivered"] == 1


def test_moto_still_accepts_a_state_machine_target_without_a_role():
    """Gap 3: moto's PutTargets takes it (AWS: "RoleArn is required for target <arn>.")."""
    from moto.events.models import events_backends

    backend = events_backends["111122223333"]["eu-west-1"]
    target = {"Id": "t", "Arn": "arn:aws:states:eu-west-1:111122223333:stateMachine:pin"}
    with seam(installed=False):
        backend.put_rule("pin-no-role", event_pattern='{"source": ["pin"]}')
        try:
            backend.put_targets("pin-no-role", None, [target])
            assert backend.describe_rule("pin-no-role", None).targets == [target]
        finally:
            backend.remove_targets("pin-no-role", None, ["t"])
            backend.delete_rule("pin-no-role", None)


def test_moto_still_sends_no_event_when_an_alarm_changes_state(moto_alone):
    """Gap 5."""
    assert moto_alone["alarm_events"] == 0


def test_moto_still_leaves_eventbridge_out_of_a_buckets_notification_configuration(moto_alone):
    """Gap 6."""
    assert moto_alone["notification"] == []


# -- the local AWS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with local_aws() as running:
        running.client("events").list_rules()  # loads EventBridge: the seams are in place
        yield running


@contextmanager
def seam(installed: bool) -> Iterator[None]:
    """The events seam in (or out), and back as it was after."""
    was = events_seam.installed()
    (events_seam.install if installed else events_seam.uninstall)()
    try:
        yield
    finally:
        (events_seam.install if was else events_seam.uninstall)()


def machine(aws: LocalAWS, name: str) -> str:
    return aws.client("stepfunctions").create_state_machine(
        name=name, definition=PASS_MACHINE, roleArn=ROLE.format(account=aws.account_id)
    )["stateMachineArn"]


def bucket(aws: LocalAWS, name: str, eventbridge: bool = True) -> str:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    if eventbridge:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    return name


def rule(
    aws: LocalAWS,
    name: str,
    pattern: dict[str, Any],
    machine_arn: str,
    **target: Any,
) -> None:
    events = aws.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "workflow",
                "Arn": machine_arn,
                "RoleArn": ROLE.format(account=aws.account_id),
                **target,
            }
        ],
    )


def on_input(name: str, prefix: str = PREFIX) -> dict[str, Any]:
    """The workflow's pattern: an object created in bucket `name` under `prefix`."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [name]}, "object": {"key": [{"prefix": prefix}]}},
    }


def started(aws: LocalAWS, machine_arn: str) -> list[Any]:
    """The inputs of the executions EventBridge started on a machine, in the order started
    (every delivery queued so far made first)."""
    log = events_seam.deliveries(aws.account)
    assert log.wait(30)
    arns = [d.execution_arn for d in log.made() if d.target_arn == machine_arn and d.execution_arn]
    sfn = aws.client("stepfunctions")
    listed = {
        e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    }
    assert listed == set(arns)
    return [json.loads(sfn.describe_execution(executionArn=a)["input"]) for a in arns]


def test_an_object_under_the_prefix_starts_one_execution_with_the_s3_event(aws):
    name = bucket(aws, "events-one")
    workflow = machine(aws, "events-one")
    rule(aws, "events-one", on_input(name), workflow)
    put = aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"1,2,3\n")

    [event] = started(aws, workflow)
    assert list(event) == [
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    ]  # fmt: skip
    assert uuid.UUID(event["id"]).version == 4
    assert ISO_SECONDS.fullmatch(event["time"])
    assert {k: event[k] for k in ("version", "detail-type", "source", "account", "region")} == {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": aws.account_id,
        "region": aws.region,
    }
    assert event["resources"] == [f"arn:aws:s3:::{name}"]
    detail = event["detail"]
    assert re.fullmatch(r"[0-9A-Z]{16}", detail.pop("request-id"))
    sequencer = detail["object"].pop("sequencer")
    assert re.fullmatch(r"[0-9A-F]+", sequencer)
    assert detail == {
        "version": "0",
        "bucket": {"name": name},
        "object": {"key": f"{PREFIX}data.csv", "size": 6, "etag": put["ETag"].strip('"')},
        "requester": aws.account_id,
        "source-ip-address": "127.0.0.1",
        "reason": "PutObject",
    }


def test_an_object_outside_the_prefix_starts_none(aws):
    name = bucket(aws, "events-outside")
    workflow = machine(aws, "events-outside")
    rule(aws, "events-outside", on_input(name), workflow)
    s3 = aws.client("s3")
    s3.put_object(Bucket=name, Key="abalone-pipeline/output/model.tar.gz", Body=b"x")
    s3.put_object(Bucket=name, Key="abalone-pipeline/inputs.csv", Body=b"x")
    assert started(aws, workflow) == []


def test_quick_uploads_start_one_execution_each_in_upload_order(aws):
    name = bucket(aws, "events-burst")
    workflow = machine(aws, "events-burst")
    rule(aws, "events-burst", on_input(name), workflow)
    s3 = aws.client("s3")
    keys = [f"{PREFIX}part-{n}.csv" for n in range(5)]
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())

    events = started(aws, workflow)
    assert [e["detail"]["object"]["key"] for e in events] == keys
    sequencers = [e["detail"]["object"]["sequencer"] for e in events]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 5
    assert len({e["id"] for e in events}) == 5


def test_an_upload_through_the_local_aws_sends_the_event_putobject_would(aws, tmp_path):
    """LocalAWS.upload stores an object without HTTP: S3 still sends its event."""
    name = bucket(aws, "events-mirror")
    workflow = machine(aws, "events-mirror")
    rule(aws, "events-mirror", on_input(name), workflow)
    source = tmp_path / "data.csv"
    source.write_bytes(b"1,2\n")
    aws.upload(source, name, f"{PREFIX}data.csv")
    [event] = started(aws, workflow)
    assert event["detail"]["reason"] == "PutObject"
    assert event["detail"]["object"]["size"] == 4


def test_a_bucket_without_eventbridge_notifications_starts_none(aws):
    name = bucket(aws, "events-quiet", eventbridge=False)
    workflow = machine(aws, "events-quiet")
    rule(aws, "events-quiet", on_input(name), workflow)
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"x")
    assert started(aws, workflow) == []


def test_copies_and_multipart_uploads_send_one_event_each_naming_their_api(aws):
    name = bucket(aws, "events-apis")
    workflow = machine(aws, "events-apis")
    rule(
        aws, "events-apis", {"source": ["aws.s3"], "detail": {"bucket": {"name": [name]}}}, workflow
    )
    s3 = aws.client("s3")
    s3.put_object(Bucket=name, Key="a.csv", Body=b"abc", Tagging="stage=raw")
    s3.copy_object(Bucket=name, Key="b.csv", CopySource={"Bucket": name, "Key": "a.csv"})
    upload = s3.create_multipart_upload(Bucket=name, Key="c.csv")["UploadId"]
    part = s3.upload_part(Bucket=name, Key="c.csv", UploadId=upload, PartNumber=1, Body=b"xy")
    s3.complete_multipart_upload(
        Bucket=name,
        Key="c.csv",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_object_tagging(
        Bucket=name, Key="a.csv", Tagging={"TagSet": [{"Key": "stage", "Value": "clean"}]}
    )
    events = started(aws, workflow)
    assert [(e["detail-type"], e["detail"]["object"]["key"]) for e in events] == [
        ("Object Created", "a.csv"),
        ("Object Created", "b.csv"),
        ("Object Created", "c.csv"),
        ("Object Tags Added", "a.csv"),
    ]
    assert [e["detail"].get("reason") for e in events[:3]] == [
        "PutObject",
        "CopyObject",
        "CompleteMultipartUpload",
    ]
    assert events[2]["detail"]["object"]["size"] == 2


def test_the_input_transformer_fills_its_template(aws):
    name = bucket(aws, "events-transformed")
    workflow = machine(aws, "events-transformed")
    template = (
        '{"bucket": <bucket>, "key": <key>, "size": <size>, "note": "new <key> in <bucket>",'
        ' "rule": <aws.events.rule-name>, "missing": <missing>, "object": <object>}'
    )
    paths = {
        "bucket": "$.detail.bucket.name",
        "key": "$.detail.object.key",
        "size": "$.detail.object.size",
        "missing": "$.detail.nothing",
        "object": "$.detail.object",
    }
    rule(
        aws,
        "events-transformed",
        on_input(name),
        workflow,
        InputTransformer={"InputPathsMap": paths, "InputTemplate": template},
    )
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"abc")
    [given] = started(aws, workflow)
    assert given.pop("object")["key"] == f"{PREFIX}data.csv"
    assert given == {
        "bucket": name,
        "key": f"{PREFIX}data.csv",
        "size": 3,
        "note": f"new {PREFIX}data.csv in {name}",
        "rule": "events-transformed",
        "missing": None,
    }


def test_input_path_and_constant_input(aws):
    name = bucket(aws, "events-inputs")
    by_path, constant = machine(aws, "events-by-path"), machine(aws, "events-constant")
    events = aws.client("events")
    events.put_rule(Name="events-inputs", EventPattern=json.dumps(on_input(name)))
    role = ROLE.format(account=aws.account_id)
    events.put_targets(
        Rule="events-inputs",
        Targets=[
            {"Id": "path", "Arn": by_path, "RoleArn": role, "InputPath": "$.detail.object"},
            {"Id": "fixed", "Arn": constant, "RoleArn": role, "Input": '{"run": "on-upload"}'},
        ],
    )
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"abc")
    [selected] = started(aws, by_path)
    assert selected["key"] == f"{PREFIX}data.csv" and selected["size"] == 3
    assert started(aws, constant) == [{"run": "on-upload"}]


def test_an_alarm_going_to_alarm_starts_one_execution_with_its_name_and_reason(aws):
    workflow = machine(aws, "events-drift")
    only_this_alarm = {"alarmName": ["model-drift"], **ALARM_PATTERN["detail"]}
    rule(aws, "events-drift", {**ALARM_PATTERN, "detail": only_this_alarm}, workflow)
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="model-drift",
        AlarmDescription="The model's inputs drifted",
        Namespace="abalone/monitoring",
        MetricName="feature_baseline_drift",
        Dimensions=[{"Name": "Endpoint", "Value": "abalone"}],
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )
    reason_data = json.dumps({"version": "1.0", "recentDatapoints": [0.5]})
    for state in ("ALARM", "ALARM", "OK"):  # ALARM again is no change; OK is not matched
        cloudwatch.set_alarm_state(
            AlarmName="model-drift",
            StateValue=state,
            StateReason=f"drift is {state}",
            StateReasonData=reason_data,
        )
    [event] = started(aws, workflow)
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=["model-drift"])["MetricAlarms"][0][
        "AlarmArn"
    ]
    assert (event["source"], event["detail-type"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
    )
    assert event["resources"] == [alarm_arn] and event["account"] == aws.account_id
    assert ISO_SECONDS.fullmatch(event["time"])
    detail = event["detail"]
    assert detail["alarmName"] == "model-drift"
    state, previous = detail["state"], detail["previousState"]
    assert CW_STAMP.fullmatch(state.pop("timestamp")) and CW_STAMP.fullmatch(
        previous.pop("timestamp")
    )
    assert state == {"value": "ALARM", "reason": "drift is ALARM", "reasonData": reason_data}
    assert previous["value"] == "OK"
    [metric] = detail["configuration"]["metrics"]
    assert detail["configuration"]["description"] == "The model's inputs drifted"
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {"Endpoint": "abalone"},
            "name": "feature_baseline_drift",
            "namespace": "abalone/monitoring",
        },
        "period": 3600,
        "stat": "Maximum",
    }
    assert metric["returnData"] is True


def test_an_alarm_that_evaluates_to_alarm_sends_its_state_change(aws):
    """The state CloudWatch's evaluation (localaws.alarms) reaches is an event as well."""
    workflow = machine(aws, "events-evaluated")
    only = {"alarmName": ["evaluated-drift"], **ALARM_PATTERN["detail"]}
    rule(aws, "events-evaluated", {**ALARM_PATTERN, "detail": only}, workflow)
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="evaluated-drift",
        Namespace="abalone/evaluated",
        MetricName="drift",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.put_metric_data(
        Namespace="abalone/evaluated", MetricData=[{"MetricName": "drift", "Value": 0.9}]
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["evaluated-drift"])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    [event] = started(aws, workflow)
    assert event["detail"]["state"]["reason"] == alarm["StateReason"]
    assert event["detail"]["state"]["reason"].startswith("Threshold Crossed")
    assert json.loads(event["detail"]["state"]["reasonData"])["threshold"] == 0.2


def test_an_alarm_state_change_can_be_transformed_to_the_workflows_input(aws):
    workflow = machine(aws, "events-drift-input")
    rule(
        aws,
        "events-drift-input",
        {
            **ALARM_PATTERN,
            "detail": {"alarmName": ["retrain-drift"], "state": {"value": ["ALARM"]}},
        },
        workflow,
        InputTransformer={
            "InputPathsMap": {"alarm": "$.detail.alarmName", "why": "$.detail.state.reason"},
            "InputTemplate": '{"trigger": "drift", "alarm": <alarm>, "reason": <why>}',
        },
    )
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="retrain-drift",
        Namespace="abalone/monitoring",
        MetricName="drift",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(
        AlarmName="retrain-drift", StateValue="ALARM", StateReason='drift "high"'
    )
    assert started(aws, workflow) == [
        {"trigger": "drift", "alarm": "retrain-drift", "reason": 'drift "high"'}
    ]


def test_a_disabled_rule_starts_nothing(aws):
    name = bucket(aws, "events-disabled")
    workflow = machine(aws, "events-disabled")
    rule(aws, "events-disabled", on_input(name), workflow)
    aws.client("events").disable_rule(Name="events-disabled")
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"x")
    assert started(aws, workflow) == []


def test_a_state_machine_target_needs_a_role(aws):
    workflow = machine(aws, "events-no-role")
    events = aws.client("events")
    events.put_rule(Name="events-no-role", EventPattern=json.dumps({"source": ["x"]}))
    with pytest.raises(ClientError) as refused:
        events.put_targets(Rule="events-no-role", Targets=[{"Id": "t", "Arn": workflow}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert (
        refused.value.response["Error"]["Message"] == f"RoleArn is required for target {workflow}."
    )


def test_put_events_reach_a_state_machine(aws):
    workflow = machine(aws, "events-custom")
    rule(aws, "events-custom", {"source": ["mlops.cli"]}, workflow)
    answer = aws.client("events").put_events(
        Entries=[{"Source": "mlops.cli", "DetailType": "Run", "Detail": '{"run": 7}'}]
    )
    assert answer["FailedEntryCount"] == 0
    [event] = started(aws, workflow)
    assert event["id"] == answer["Entries"][0]["EventId"]
    assert (event["detail-type"], event["detail"]) == ("Run", {"run": 7})
    assert ISO_SECONDS.fullmatch(event["time"])


def test_a_failed_delivery_is_logged_and_later_ones_are_still_made(aws):
    name = bucket(aws, "events-failing")
    workflow = machine(aws, "events-failing")
    gone = workflow.replace("events-failing", "events-gone")
    events = aws.client("events")
    events.put_rule(Name="events-failing", EventPattern=json.dumps(on_input(name)))
    role = ROLE.format(account=aws.account_id)
    events.put_targets(
        Rule="events-failing",
        Targets=[
            {"Id": "gone", "Arn": gone, "RoleArn": role},
            {"Id": "text", "Arn": workflow, "RoleArn": role, "Input": "not json"},
            {"Id": "ok", "Arn": workflow, "RoleArn": role},
        ],
    )
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"x")
    [event] = started(aws, workflow)
    assert event["detail"]["object"]["key"] == f"{PREFIX}data.csv"
    failed = {
        d.target_id: d.error
        for d in events_seam.deliveries(aws.account).failed()
        if d.rule_arn.endswith("/events-failing")
    }
    assert set(failed) == {"gone", "text"}
    assert "StateMachineDoesNotExist" in str(failed["gone"])


def test_get_bucket_notification_configuration_shows_eventbridge(aws):
    name = bucket(aws, "events-config")
    s3 = aws.client("s3")
    config = s3.get_bucket_notification_configuration(Bucket=name)
    assert config["EventBridgeConfiguration"] == {}
    queue_arn = f"arn:aws:sqs:{aws.region}:{aws.account_id}:nowhere"
    aws.client("sqs").create_queue(QueueName="nowhere")
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
        },
    )
    config = s3.get_bucket_notification_configuration(Bucket=name)
    assert config["EventBridgeConfiguration"] == {}
    assert config["QueueConfigurations"][0]["QueueArn"] == queue_arn


def test_the_rule_and_target_deployed_by_cloudformation_start_the_workflow(aws):
    name = bucket(aws, "events-stack")
    template = {
        "Resources": {
            "EventsRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                },
            },
            "Workflow": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "events-stack",
                    "RoleArn": {"Fn::GetAtt": ["EventsRole", "Arn"]},
                    "DefinitionString": PASS_MACHINE,
                },
            },
            "OnInput": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": on_input(name),
                    "Targets": [
                        {
                            "Id": "workflow",
                            "Arn": {"Ref": "Workflow"},
                            "RoleArn": {"Fn::GetAtt": ["EventsRole", "Arn"]},
                            "InputTransformer": {
                                "InputPathsMap": {
                                    "bucket": "$.detail.bucket.name",
                                    "key": "$.detail.object.key",
                                },
                                "InputTemplate": '{"InputUri": "s3://<bucket>/<key>"}',
                            },
                        }
                    ],
                },
            },
        },
        "Outputs": {"Machine": {"Value": {"Ref": "Workflow"}}},
    }
    cfn = aws.client("cloudformation")
    cfn.create_stack(StackName="events-stack", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="events-stack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    workflow = stack["Outputs"][0]["OutputValue"]
    aws.client("s3").put_object(Bucket=name, Key=f"{PREFIX}data.csv", Body=b"x")
    assert started(aws, workflow) == [{"InputUri": f"s3://{name}/{PREFIX}data.csv"}]


def test_events_start_executions_only_in_their_own_account(aws):
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": ["events-theirs"]}}}
    mine = machine(aws, "events-mine")
    rule(aws, "events-mine", pattern, mine)
    with local_aws() as other:
        assert other.account_id != aws.account_id
        theirs = machine(other, "events-mine")
        rule(other, "events-mine", pattern, theirs)
        bucket(other, "events-theirs")
        other.client("s3").put_object(Bucket="events-theirs", Key="a.csv", Body=b"x")
        [event] = started(other, theirs)
        assert event["account"] == other.account_id
    assert started(aws, mine) == []


def test_leaving_the_local_aws_makes_the_queued_deliveries_and_stops_the_worker():
    with local_aws() as aws:
        name = bucket(aws, "events-closing")
        workflow = machine(aws, "events-closing")
        rule(aws, "events-closing", on_input(name), workflow)
        s3 = aws.client("s3")
        for n in range(5):
            s3.put_object(Bucket=name, Key=f"{PREFIX}{n}.csv", Body=b"x")
        log = events_seam.deliveries(aws.account)
    assert [d.error for d in log.made()] == [None] * 5
    assert all(d.execution_arn for d in log.made())
    assert not [t for t in threading.enumerate() if t.name == f"eventbridge-{aws.account_id}"]
    assert not log.submit(lambda: None)  # closed: refused


# -- the input transformer on its own --------------------------------------------------------

EVENT = {
    "id": "e1",
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "n": 3, "tags": ["a", "b"]},
}
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state", "n": "$.detail.n"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # The EventBridge User Guide's examples ("Transforming target input").
        ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
        (
            '{"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"}',
            '{"instance": "i-0123456789", "state": [9, "RUNNING", true], "Transformed": "Yes"}',
        ),
        (
            '{"state": "<state>", "status": "instance \\"<instance>\\" is in <state>"}',
            '{"state": "RUNNING", "status": "instance \\"i-0123456789\\" is in RUNNING"}',
        ),
        ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
        (
            '{"n": <n>, "text": "<n>", "none": <gone>, "empty": "<gone>"}',
            '{"n": 3, "text": "3", "none": null, "empty": ""}',
        ),
        ('{"tags": <tags>, "undefined": <nobody>}', '{"tags": ["a", "b"], "undefined": <nobody>}'),
    ],
)
def test_input_templates_are_filled_as_eventbridge_fills_them(template, expected):
    paths = {**PATHS, "gone": "$.detail.nowhere", "tags": "$.detail.tags"}
    got = events_seam.transform({"InputPathsMap": paths, "InputTemplate": template}, EVENT)
    assert got == expected
