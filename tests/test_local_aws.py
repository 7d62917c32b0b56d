"""The embedded local AWS itself: what it loads, how it wakes pollers, what it leaves behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localaws import PipelineRun, local_aws
from localaws.sessions import local_session
from mlops import pipeline_run

PIPELINE = {"Version": "2020-12-01", "Parameters": [], "Steps": []}


def test_a_pipeline_session_loads_no_workflow_service() -> None:
    """S3 and SageMaker alone never import moto's Lambda, DynamoDB or Step Functions."""
    probe = """
import sys
from localaws import local_aws
with local_aws() as aws:
    aws.client("s3").list_buckets()
    aws.client("sagemaker").list_pipelines()
    services = ("moto.awslambda", "moto.dynamodb", "moto.stepfunctions")
    loaded = [name for name in services if name in sys.modules]
print(",".join(loaded) or "none")
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "none"


def test_seams_are_in_place_when_another_service_creates_their_resources() -> None:
    """A table made through CloudFormation lives in the seam's backend, not moto's plain one."""
    from localaws.dynamodb_seam import AtomicDynamoDBBackend

    template = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "approvals",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                },
            }
        }
    }
    with local_aws() as aws:
        aws.client("cloudformation").create_stack(
            StackName="tables", TemplateBody=json.dumps(template)
        )
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[aws.account_id][aws.region]
        assert isinstance(backend, AtomicDynamoDBBackend)
        assert "approvals" in backend.tables


def test_a_watch_wakes_on_every_change_rather_than_each_poll_interval() -> None:
    release = threading.Event()

    def executor(run: PipelineRun) -> None:
        release.wait(30)
        run.steps.append({"StepName": "Only", "StepStatus": "Executing"})
        run.changed()
        run.steps[0]["StepStatus"] = "Succeeded"
        run.changed()

    reports: list[list[str]] = []
    with local_aws(executor=executor) as aws:
        sagemaker = aws.client("sagemaker")
        sagemaker.create_pipeline(
            PipelineName="p",
            PipelineDefinition=json.dumps(PIPELINE),
            RoleArn="arn:aws:iam::123456789012:role/r",
        )
        arn = sagemaker.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]

        def on_steps(steps: list[dict[str, Any]]) -> None:
            reports.append([s["StepStatus"] for s in steps])
            release.set()

        started = time.monotonic()
        outcome = pipeline_run.watch(
            sagemaker, arn, on_steps, wait=aws.wait_for_pipeline_change, poll_seconds=60
        )
        elapsed = time.monotonic() - started
    assert outcome.status == "Succeeded"
    assert reports[-1] == ["Succeeded"]
    # A watch that slept out its 60 s poll interval would still be waiting.
    assert elapsed < 30, elapsed


def test_sessions_share_one_copy_of_each_service_model() -> None:
    with local_aws() as aws:
        other = local_session(aws.region)
        first = aws.client("sagemaker").meta.service_model.operation_names
        second = other.client("sagemaker").meta.service_model.operation_names
        loaders = {
            id(session._session.get_component("data_loader")) for session in (aws.session, other)
        }
    assert first == second
    assert len(loaders) == 1


def test_the_environment_is_restored_on_exit(monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.delenv("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", raising=False)
    before = dict(os.environ)
    with local_aws():
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert dict(os.environ) == before


def test_mirrored_objects_are_real_s3_objects_and_a_changed_source_is_not_trusted(
    tmp_path: Path,
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    with local_aws() as aws:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="data-bucket")
        aws.upload(source, "data-bucket", "in/data.csv")
        listed = s3.list_objects_v2(Bucket="data-bucket")["Contents"][0]
        body = s3.get_object(Bucket="data-bucket", Key="in/data.csv")["Body"].read()
        assert (listed["Key"], listed["Size"], body) == ("in/data.csv", 8, b"a,b\n1,2\n")

        source.write_text("changed after the upload\n")
        copy = tmp_path / "copy.csv"
        aws.account.mirror.download(s3, "data-bucket", "in/data.csv", listed["ETag"], copy)
        assert copy.read_bytes() == b"a,b\n1,2\n"  # what S3 holds, not the changed file

        with pytest.raises(ClientError) as error:
            aws.upload(source, "no-such-bucket", "in/data.csv")
    assert error.value.response["Error"]["Code"] == "NoSuchBucket"


def test_a_function_sees_its_environment_and_the_process_keeps_its_own() -> None:
    """The Lambda seam applies a function's variables for the invocation only."""
    import io
    import zipfile

    from fakes import environment

    from deploy.iam import assume_role

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    os.environ.pop("MLOPS_TEST_ONLY", None)
    with local_aws() as aws:
        role = aws.client("iam").create_role(
            RoleName="echo", AssumeRolePolicyDocument=json.dumps(assume_role("lambda", False))
        )["Role"]["Arn"]
        aws.client("lambda").create_function(
            FunctionName="echo-environment",
            Runtime="python3.12",
            Role=role,
            Handler=f"{environment.__name__}.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": {"MLOPS_TEST_ONLY": "inside"}},
        )
        answer = aws.client("lambda").invoke(
            FunctionName="echo-environment", Payload=json.dumps({"name": "MLOPS_TEST_ONLY"})
        )
        assert json.loads(answer["Payload"].read()) == {"value": "inside"}
        assert "MLOPS_TEST_ONLY" not in os.environ


def test_invocations_of_one_function_overlap_and_another_functions_wait() -> None:
    """In-process Lambda shares one os.environ: the same variables run concurrently (as
    parallel containers do), other variables wait, and nobody sees another's values."""
    import io
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from fakes import environment

    from deploy.iam import assume_role

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    with local_aws() as aws:
        lam = aws.client("lambda")
        role = aws.client("iam").create_role(
            RoleName="slow", AssumeRolePolicyDocument=json.dumps(assume_role("lambda", False))
        )["Role"]["Arn"]
        for name in ("first", "second"):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler=f"{environment.__name__}.slow_handler",
                Code={"ZipFile": code.getvalue()},
                Environment={"Variables": {"MLOPS_TEST_ONLY": name}},
            )

        def invoke(name: str) -> dict[str, Any]:
            payload = json.dumps({"name": "MLOPS_TEST_ONLY", "seconds": 0.3})
            answer = aws.client("lambda").invoke(FunctionName=name, Payload=payload)
            return {"name": name, **json.loads(answer["Payload"].read())}

        with ThreadPoolExecutor(max_workers=3) as pool:
            runs = list(pool.map(invoke, ["first", "first", "second"]))
    for run in runs:
        assert run["values"] == [run["name"], run["name"]]
    first_a, first_b, second = runs
    assert first_a["started"] < first_b["ended"] and first_b["started"] < first_a["ended"]
    ends_of_first = max(first_a["ended"], first_b["ended"])
    starts_of_first = min(first_a["started"], first_b["started"])
    assert second["started"] >= ends_of_first or second["ended"] <= starts_of_first


def test_a_function_at_its_reserved_concurrency_is_throttled_as_lambda_throttles() -> None:
    """One slot reserved, two invocations at once: one runs, the other is refused with
    TooManyRequestsException (429) by Invoke, and with 429 by the Function URL."""
    import io
    import urllib.error
    import urllib.request
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config
    from fakes import environment

    from deploy.iam import assume_role

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    once = Config(retries={"total_max_attempts": 1})
    with local_aws() as aws:
        lam = aws.session.client("lambda", endpoint_url=aws.endpoint, config=once)
        role = aws.client("iam").create_role(
            RoleName="one", AssumeRolePolicyDocument=json.dumps(assume_role("lambda", False))
        )["Role"]["Arn"]
        lam.create_function(
            FunctionName="one-at-a-time",
            Runtime="python3.12",
            Role=role,
            Handler=f"{environment.__name__}.gated_handler",
            Code={"ZipFile": code.getvalue()},
        )
        lam.put_function_concurrency(FunctionName="one-at-a-time", ReservedConcurrentExecutions=1)
        url = lam.create_function_url_config(FunctionName="one-at-a-time", AuthType="NONE")[
            "FunctionUrl"
        ]

        def invoke(_: int) -> str:
            try:
                lam.invoke(FunctionName="one-at-a-time", Payload="{}")
                return "ran"
            except ClientError as exc:
                return exc.response["Error"]["Code"]

        environment.ENTERED.clear()
        environment.RELEASE.clear()
        with ThreadPoolExecutor(max_workers=2) as pool:
            busy = pool.submit(invoke, 0)
            assert environment.ENTERED.wait(30)  # the one slot is taken
            refused = invoke(1)
            try:
                urllib.request.urlopen(url, timeout=5)
                through_url = 200
            except urllib.error.HTTPError as exc:
                through_url = exc.code
            environment.RELEASE.set()
            assert busy.result() == "ran"
        assert refused == "TooManyRequestsException"
        assert through_url == 429
        assert invoke(2) == "ran"  # the slot is free again
