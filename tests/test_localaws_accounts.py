"""Each local AWS is an account of its own, and it serves only its own credentials.

Another process on the machine that does not hold this start's keys gets AWS's errors for an
unknown key from every service (it cannot read the signing secret, scan the approvals table or
send a task token), and two local AWS in one process keep their buckets, executions, faults
and Function URLs apart.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import PipelineRun, local_aws

#: A second process: the same calls with keys it made up, then with no signature at all.
_INTRUDER = r"""
import json, sys, urllib.request
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, secret_arn = sys.argv[1], sys.argv[2]
calls = {
    "secretsmanager": lambda c: c.get_secret_value(SecretId=secret_arn),
    "dynamodb": lambda c: c.scan(TableName="approvals"),
    "lambda": lambda c: c.get_function(FunctionName="approve"),
    "stepfunctions": lambda c: c.send_task_success(taskToken="t", output="{}"),
    "s3": lambda c: c.list_buckets(),
    "cloudformation": lambda c: c.describe_stacks(),
    "sagemaker": lambda c: c.list_pipelines(),
}
codes = {}
for service, call in calls.items():
    for label, extra in (
        ("forged", {"aws_access_key_id": "AKIAFORGEDFORGEDFORG", "aws_secret_access_key": "x"}),
        ("unsigned", {"config": Config(signature_version=UNSIGNED)}),
    ):
        client = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **extra)
        try:
            call(client)
            codes[f"{service}/{label}"] = "served"
        except ClientError as exc:
            codes[f"{service}/{label}"] = exc.response["Error"]["Code"]
for path in ("/moto-api/data.json", "/moto-api/reset"):
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + path, data=b"", method="POST"))
        codes[path] = "served"
    except urllib.error.HTTPError as exc:
        codes[path] = exc.code
print(json.dumps(codes))
"""


def _intrude(endpoint: str, secret_arn: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _INTRUDER, endpoint, secret_arn],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_another_process_with_other_credentials_is_refused_by_every_service() -> None:
    with local_aws() as aws:
        secret_arn = aws.client("secretsmanager").create_secret(
            Name="signing", SecretString="s" * 40
        )["ARN"]
        aws.client("dynamodb").create_table(
            TableName="approvals",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        outsider = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") or k in {"AWS_DEFAULT_REGION", "AWS_REGION"}
        }
        codes = _intrude(aws.endpoint, secret_arn, outsider)
        # The data is untouched and still served to the owner.
        assert aws.client("dynamodb").scan(TableName="approvals")["Count"] == 0
        assert aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)[
            "SecretString"
        ] == ("s" * 40)

    json_services = ("secretsmanager", "dynamodb", "stepfunctions", "sagemaker")
    expected: dict[str, Any] = {}
    for service in json_services:
        expected[f"{service}/forged"] = "UnrecognizedClientException"
        expected[f"{service}/unsigned"] = "MissingAuthenticationTokenException"
    expected.update(
        {
            "lambda/forged": "UnrecognizedClientException",
            "lambda/unsigned": "MissingAuthenticationTokenException",
            "s3/forged": "InvalidAccessKeyId",
            "s3/unsigned": "AccessDenied",
            "cloudformation/forged": "InvalidClientTokenId",
            "cloudformation/unsigned": "MissingAuthenticationToken",
            "/moto-api/data.json": 403,
            "/moto-api/reset": 403,
        }
    )
    assert codes == expected


def test_a_process_given_this_starts_credentials_is_served() -> None:
    """The refusals above are about the keys: a process handed them gets in."""
    probe = """
import sys, boto3
print(boto3.client("secretsmanager").get_secret_value(SecretId=sys.argv[1])["SecretString"])
"""
    with local_aws() as aws:
        secret_arn = aws.client("secretsmanager").create_secret(
            Name="signing", SecretString="s" * 40
        )["ARN"]
        env = {**os.environ, **aws.credentials}
        result = subprocess.run(
            [sys.executable, "-c", probe, secret_arn],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    assert result.stdout.strip() == "s" * 40


def test_credentials_are_new_for_every_start_and_shaped_like_aws_keys() -> None:
    with local_aws() as first:
        key1 = first.credentials["AWS_ACCESS_KEY_ID"]
    with local_aws() as second:
        key2 = second.credentials["AWS_ACCESS_KEY_ID"]
        stale = second.session.client(
            "s3",
            endpoint_url=second.endpoint,
            aws_access_key_id=key1,
            aws_secret_access_key="whatever",
        )
        with pytest.raises(ClientError) as refused:
            stale.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert key1 != key2
    for key in (key1, key2):
        assert len(key) == 20 and key.startswith("AKIA") and key.isalnum() and key.isupper()


def _recording_executor(seen: list[str]) -> Any:
    def execute(run: PipelineRun) -> None:
        seen.append(run.account.account_id)

    return execute


def _start(aws: Any, name: str) -> str:
    sm = aws.client("sagemaker")
    sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn=f"arn:aws:iam::{aws.account_id}:role/r",
    )
    return sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]


def test_two_local_aws_in_one_process_do_not_interfere(tmp_path: Path) -> None:
    outer_runs: list[str] = []
    inner_runs: list[str] = []
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with local_aws(_recording_executor(outer_runs)) as outer:
        outer_env = dict(os.environ)
        outer.client("s3").create_bucket(Bucket="outer-bucket")
        outer.upload(tmp_path / "data.csv", "outer-bucket", "data.csv")
        with local_aws(_recording_executor(inner_runs)) as inner:
            assert inner.account_id != outer.account_id
            assert os.environ["AWS_ENDPOINT_URL"] == inner.endpoint
            # Buckets: each account sees its own; a name is global, as on AWS.
            assert inner.client("s3").list_buckets()["Buckets"] == []
            with pytest.raises(ClientError) as taken:
                inner.client("s3").create_bucket(Bucket="outer-bucket")
            assert taken.value.response["Error"]["Code"] == "BucketAlreadyExists"
            # Faults: one account's fault does not fail the other's calls.
            inner.inject_fault("list_pipelines", "ResourceLimitExceeded")
            outer.client("sagemaker").list_pipelines()
            with pytest.raises(ClientError) as throttled:
                inner.client("sagemaker").list_pipelines()
            assert throttled.value.response["Error"]["Code"] == "ResourceLimitExceeded"
            # Executors: each account's executions go to its own executor.
            inner_arn = _start(inner, "p")
            outer_arn = _start(outer, "p")
            assert inner_arn.split(":")[4] == inner.account_id
            assert outer_arn.split(":")[4] == outer.account_id
            # One account's keys do not open the other.
            crossed = outer.session.client(
                "s3",
                endpoint_url=inner.endpoint,
                aws_access_key_id=outer.credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=outer.credentials["AWS_SECRET_ACCESS_KEY"],
            )
            with pytest.raises(ClientError):
                crossed.list_buckets()
        # The inner one is gone; the outer one goes on with its state and environment.
        assert dict(os.environ) == outer_env
        body = outer.client("s3").get_object(Bucket="outer-bucket", Key="data.csv")["Body"]
        assert body.read() == b"a,b\n1,2\n"
        assert [
            p["PipelineName"]
            for p in outer.client("sagemaker").list_pipelines()["PipelineSummaries"]
        ] == ["p"]
    _wait_for(lambda: outer_runs and inner_runs)
    assert outer_runs == [outer.account_id] and inner_runs == [inner.account_id]


def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_stopped_local_aws_leaves_no_account_behind() -> None:
    from localaws import accounts

    with local_aws() as aws:
        aws.client("s3").create_bucket(Bucket="left-behind")
        assert accounts.account(aws.account_id) is aws.account
    assert accounts.account(aws.account_id) is None
    with local_aws() as again:
        # Same (default) account id, fresh state: the bucket name is free again.
        assert again.account_id == aws.account_id
        assert again.client("s3").list_buckets()["Buckets"] == []
        again.client("s3").create_bucket(Bucket="left-behind")


# --- pins: the gaps in moto these seams fill ---------------------------------------------


def test_pin_moto_itself_serves_any_credentials() -> None:
    """moto's server does not check keys: localaws.auth is what refuses them."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    client = Client(DomainDispatcherApplication(create_backend_app))
    response = client.post(
        "/",
        headers={
            "Host": "secretsmanager.us-east-1.amazonaws.com",
            "X-Amz-Target": "secretsmanager.ListSecrets",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAMADEUPMADEUPMADE/20260101/"
            "us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
        },
        data="{}",
    )
    assert response.status_code == 200


def test_pin_moto_interpreter_signs_service_calls_with_dummy_keys() -> None:
    """moto's ASL interpreter calls services with fixed keys: localaws.sfn_seam swaps them."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    source = inspect.getsource(boto_client.boto_client_for)
    assert 'aws_access_key_id="ak"' in source and "boto3.client(" in source


def test_a_function_url_is_still_public_as_on_aws() -> None:
    """AuthType NONE: the review page needs no AWS keys (only the link's own signature)."""
    from localaws import function_urls

    with local_aws() as aws:
        arn = f"arn:aws:lambda:us-east-1:{aws.account_id}:function:f"
        served = function_urls.start_function_url(
            arn, lambda event, _ctx: {"statusCode": 200, "body": "ok"}
        )
        try:
            with urllib.request.urlopen(served) as response:
                assert response.read() == b"ok"
        finally:
            function_urls.stop_function_url(arn)


def test_a_state_machine_calls_services_as_its_own_account_beside_another_local_aws() -> None:
    """moto runs each task state in a thread of its own; with two local AWS in the process
    the task still signs as, and calls, the account whose execution it is."""
    import time

    from deploy.iam import assume_role

    definition = {
        "StartAt": "List",
        "States": {
            "List": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
                "TimeoutSeconds": 30,
                "ResultSelector": {"Names.$": "$.Buckets[*].Name"},
                "End": True,
            }
        },
    }
    with local_aws() as outer, local_aws() as inner:
        for aws, bucket in ((outer, "outer-only"), (inner, "inner-only")):
            aws.client("s3").create_bucket(Bucket=bucket)
        role = outer.client("iam").create_role(
            RoleName="sfn", AssumeRolePolicyDocument=json.dumps(assume_role("states", False))
        )["Role"]["Arn"]
        sfn = outer.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="list", definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="one")["executionArn"]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"Names": ["outer-only"]}


def test_pin_moto_runs_task_states_in_threads_of_their_own() -> None:
    """Why localaws.sfn_seam passes the account on to the interpreter's threads."""
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    assert "Thread(target=_exec_and_notify" in inspect.getsource(execute_state)


def test_pin_moto_cannot_stop_an_execution_whose_worker_has_not_started() -> None:
    """Why localaws.sfn_seam makes a stop wait for the worker's environment (gap 4)."""
    from types import SimpleNamespace

    from localaws import sfn_seam

    with pytest.raises(AttributeError, match="set_stop"):
        sfn_seam._ORIGINAL_STOP(SimpleNamespace(env=None), stop_date=None, error="", cause="")


def test_a_stop_right_after_the_start_waits_for_the_worker_and_stops_it() -> None:
    from types import SimpleNamespace

    from localaws import sfn_seam

    stopped: list[tuple[Any, ...]] = []
    environment = SimpleNamespace(set_stop=lambda **kw: stopped.append(tuple(kw.values())))
    worker = SimpleNamespace(env=None)
    threading.Timer(0.05, lambda: setattr(worker, "env", environment)).start()

    sfn_seam._stop(worker, stop_date="now", error="", cause="stopped by the user")

    assert stopped == [("now", "stopped by the user", "")]


_LOOKS_FOR_A_FIELD = {
    "StartAt": "HasField",
    "States": {
        "HasField": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.missing.field", "IsPresent": True, "Next": "Found"}],
            "Default": "NotThere",
        },
        "Found": {"Type": "Pass", "Result": {"Branch": "found"}, "End": True},
        "NotThere": {"Type": "Pass", "Result": {"Branch": "not there"}, "End": True},
    },
}


def _ask_for_a_missing_field(aws: Any) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"is-present-{os.getpid()}-{threading.get_ident()}",
        definition=json.dumps(_LOOKS_FOR_A_FIELD),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="one", input="{}")["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return described


def test_pin_moto_logs_an_error_for_a_path_that_is_present_tests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Why localaws.sfn_seam filters the interpreter's log (gap 5): without the filter, moto
    logs an ERROR for what IsPresent answers false, as AWS does, without any error."""
    import logging

    from localaws import sfn_seam

    logger = logging.getLogger(sfn_seam.INTERPRETER_LOGGER)
    with local_aws() as aws:
        aws.client("stepfunctions").list_state_machines()  # the seams install with the service
        logger.removeFilter(sfn_seam._MISSING_PATHS)
        try:
            with caplog.at_level(logging.ERROR, logger=sfn_seam.INTERPRETER_LOGGER):
                described = _ask_for_a_missing_field(aws)
        finally:
            logger.addFilter(sfn_seam._MISSING_PATHS)
    assert json.loads(described["output"]) == {"Branch": "not there"}
    assert any(r.getMessage().startswith("Exception=NoSuchJsonPathError") for r in caplog.records)


def test_is_present_on_a_missing_path_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with local_aws() as aws, caplog.at_level(logging.DEBUG, logger="moto"):
        described = _ask_for_a_missing_field(aws)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"Branch": "not there"}
    assert not [r for r in caplog.records if "NoSuchJsonPathError" in r.getMessage()]
