"""The local AWS's model registry sends SageMaker's state change events, and EventBridge
invokes Lambda targets with them, as on AWS (localaws/sagemaker_seam.py, localaws/events_seam.py
gap 7).

The pin tests (`test_moto_still_...`) check moto alone, in a fresh interpreter without the
seams: each fails when moto closes the gap it names. Then the seam's bridge for it can go.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import recorder

from deploy.iam import assume_role
from localaws import LocalAWS, events_seam, local_aws
from localaws.sagemaker_seam import MODEL_PACKAGE_EVENT_FIELDS, MODEL_PACKAGE_STATE_CHANGE

ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CONTAINER = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"}
DECISIONS = {
    "source": ["aws.sagemaker"],
    "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
    "detail": {"ModelApprovalStatus": ["Approved", "Rejected"]},
}

# -- pins: what moto alone still does --------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, warnings
    import boto3
    from moto import mock_aws
    warnings.simplefilter("ignore")
    R = "us-east-1"
    found = {}
    with mock_aws():
        sm, ev = boto3.client("sagemaker", region_name=R), boto3.client("events", region_name=R)
        sqs = boto3.client("sqs", region_name=R)
        url = sqs.create_queue(QueueName="registry")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        ev.put_rule(Name="registry", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
        ev.put_targets(
            Rule="registry",
            Targets=[{"Id": "q", "Arn": queue["Attributes"]["QueueArn"]}],
        )
        sm.create_model_package_group(ModelPackageGroupName="pin")
        package = sm.create_model_package(
            ModelPackageGroupName="pin",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        sm.update_model_package(
            ModelPackageArn=package, ModelApprovalStatus="Approved", ApprovalDescription="ok"
        )
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
        found["events"] = len(messages or [])
        described = sm.describe_model_package(ModelPackageName=package)
        found["last_modified_by"] = described["LastModifiedBy"]
        sm.update_model_package(ModelPackageArn=package, CustomerMetadataProperties={"a": "b"})
        described = sm.describe_model_package(ModelPackageName=package)
        found["kept"] = {
            k: described.get(k) for k in ("ModelApprovalStatus", "ApprovalDescription")
        }

        ev.put_rule(Name="function", EventPattern=json.dumps({"source": ["pin.function"]}))
        function = "arn:aws:lambda:us-east-1:123456789012:function:pin"
        ev.put_targets(Rule="function", Targets=[{"Id": "f", "Arn": function}])
        try:
            ev.put_events(Entries=[{"Source": "pin.function", "DetailType": "x", "Detail": "{}"}])
            found["put_events"] = "ok"
        except NotImplementedError as error:  # moto's server answers 500
            found["put_events"] = type(error).__name__
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


def test_moto_still_sends_no_event_when_a_packages_approval_status_changes(moto_alone):
    """sagemaker_seam: UpdateModelPackage sends no "SageMaker Model Package State Change"."""
    assert moto_alone["events"] == 0


def test_moto_still_records_its_fixed_studio_user_as_last_modified_by(moto_alone):
    """sagemaker_seam: any caller's update is "fake-user-profile-name" of "fake-domain-id"."""
    assert moto_alone["last_modified_by"]["UserProfileName"] == "fake-user-profile-name"
    assert "IamIdentity" not in moto_alone["last_modified_by"]


def test_moto_still_erases_the_status_and_description_an_update_does_not_give(moto_alone):
    """sagemaker_seam: an update of another field leaves the package with neither."""
    assert moto_alone["kept"] == {"ModelApprovalStatus": None, "ApprovalDescription": None}


def test_moto_still_cannot_deliver_to_a_lambda_function(moto_alone):
    """events_seam gap 7: Rule.send_to_targets raises NotImplementedError (PutEvents: 500)."""
    assert moto_alone["put_events"] == "NotImplementedError"


# -- the local AWS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with local_aws() as running:
        running.client("events").list_rules()  # loads EventBridge: the seams are in place
        running.client("sagemaker").create_model_package_group(ModelPackageGroupName="registry")
        yield running


def package(aws: LocalAWS) -> str:
    return aws.client("sagemaker").create_model_package(
        ModelPackageGroupName="registry",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [CONTAINER],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def queue(aws: LocalAWS, rule: str, pattern: dict[str, Any]) -> str:
    """A rule sending `pattern`'s events to a new SQS queue; the queue's URL."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=rule)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events = aws.client("events")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}])
    return url


def received(aws: LocalAWS, url: str) -> list[dict[str, Any]]:
    """The events the queue got, every delivery queued so far made first."""
    assert events_seam.deliveries(aws.account).wait(30)
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
    return [json.loads(m["Body"]) for m in messages or []]


def test_a_change_of_approval_status_sends_the_documented_event(aws):
    url = queue(aws, "registry-shape", DECISIONS)
    arn = package(aws)
    sm = aws.client("sagemaker")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    [event] = received(aws, url)
    described = sm.describe_model_package(ModelPackageName=arn)
    assert uuid.UUID(event.pop("id"))
    assert ISO_SECONDS.fullmatch(event.pop("time"))
    detail = event.pop("detail")
    assert event == {
        "version": "0",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": aws.account_id,
        "region": aws.region,
        "resources": [arn],
    }
    assert list(detail) == [f for f in MODEL_PACKAGE_EVENT_FIELDS if f in detail]
    assert {
        "ModelPackageGroupName": "registry",
        "ModelPackageArn": arn,
        "ModelApprovalStatus": "Approved",
        "ModelPackageStatus": "Completed",
        "ModelPackageVersion": described["ModelPackageVersion"],
        "InferenceSpecification": described["InferenceSpecification"],
    }.items() <= detail.items()
    assert ISO_SECONDS.fullmatch(detail["CreationTime"])
    assert ISO_SECONDS.fullmatch(detail["LastModifiedTime"])
    # The guide's example has neither: readers ask DescribeModelPackage.
    assert "LastModifiedBy" not in detail and "ApprovalDescription" not in detail


def test_only_a_change_of_approval_status_sends_an_event(aws):
    url = queue(aws, "registry-changes", {"source": ["aws.sagemaker"]})
    arn = package(aws)
    sm = aws.client("sagemaker")
    sm.update_model_package(ModelPackageArn=arn, ApprovalDescription="a note, no decision")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    statuses = [e["detail"]["ModelApprovalStatus"] for e in received(aws, url)]
    assert statuses == ["Rejected", "Approved"]
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "a note, no decision"  # kept by later updates


def test_the_caller_is_recorded_as_who_last_modified_the_package(aws):
    arn = package(aws)
    sm = aws.client("sagemaker")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    caller = aws.client("sts").get_caller_identity()
    expected = {"IamIdentity": {"Arn": caller["Arn"], "PrincipalId": caller["UserId"]}}
    assert sm.describe_model_package(ModelPackageName=arn)["LastModifiedBy"] == expected


def function(aws: LocalAWS, name: str) -> str:
    """A function whose handler keeps the events it gets (fakes.recorder); its ARN."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    role = aws.client("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(assume_role("lambda", False))
    )["Role"]["Arn"]
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=f"{recorder.__name__}.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def function_rule(aws: LocalAWS, name: str, function_arn: str, permitted_rule: str | None) -> str:
    """A rule on `name`'s events targeting the function, which lets EventBridge invoke it for
    `permitted_rule` (None: no permission at all); the rule's ARN."""
    events = aws.client("events")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "function", "Arn": function_arn}])
    if permitted_rule is not None:
        aws.client("lambda").add_permission(
            FunctionName=function_arn,
            StatementId=f"events-{name}",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn.replace(f"rule/{name}", f"rule/{permitted_rule}"),
        )
    return rule_arn


def deliveries_of(aws: LocalAWS, rule_arn: str) -> list[events_seam.Delivery]:
    log = events_seam.deliveries(aws.account)
    assert log.wait(30)
    return [d for d in log.made() if d.rule_arn == rule_arn]


def put(aws: LocalAWS, source: str, detail: dict[str, Any]) -> str:
    answer = aws.client("events").put_events(
        Entries=[{"Source": source, "DetailType": "Test", "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0
    return str(answer["Entries"][0]["EventId"])


def test_a_rule_invokes_its_function_with_the_event(aws):
    target = function(aws, "events-invoked")
    rule_arn = function_rule(aws, "events-invoked", target, permitted_rule="events-invoked")
    event_id = put(aws, "events-invoked", {"run": 7})

    [delivery] = deliveries_of(aws, rule_arn)
    assert (delivery.error, delivery.function_error) == (None, None)
    [event] = [e for e in recorder.EVENTS if e.get("id") == event_id]
    assert (event["source"], event["detail"]) == ("events-invoked", {"run": 7})
    assert ISO_SECONDS.fullmatch(event["time"])


def test_a_function_that_does_not_let_eventbridge_invoke_it_for_the_rule_is_not_invoked(aws):
    target = function(aws, "events-refused")
    other = function_rule(aws, "events-refused", target, permitted_rule="another-rule")
    none = function_rule(aws, "events-unpermitted", target, permitted_rule=None)
    ids = {put(aws, "events-refused", {}), put(aws, "events-unpermitted", {})}

    for rule_arn in (other, none):
        [delivery] = deliveries_of(aws, rule_arn)
        assert delivery.function_error is None
        assert f"EventBridge may not invoke {target}" in str(delivery.error)
        assert rule_arn in str(delivery.error)
    assert not [e for e in recorder.EVENTS if e.get("id") in ids]


def test_an_error_of_the_function_is_kept_on_its_delivery(aws):
    target = function(aws, "events-failing-function")
    rule_arn = function_rule(aws, "events-failing-function", target, "events-failing-function")
    put(aws, "events-failing-function", {"fail": True})

    [delivery] = deliveries_of(aws, rule_arn)
    assert delivery.error is None
    assert json.loads(str(delivery.function_error))["errorMessage"] == "asked to fail"
