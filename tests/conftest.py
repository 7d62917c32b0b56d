"""Shared fixtures."""

from __future__ import annotations

import functools
import io
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

# ---------------------------------------------------------------------------------------------
# The job scripts (scripts/): each runs in a fresh interpreter, as in its container, on the
# bundled Abalone data.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_script() -> Callable[..., subprocess.CompletedProcess]:
    """Run scripts/<name> in a fresh interpreter, as the container would; capture its output."""
    from core.settings import SCRIPTS_DIR

    def run(
        name: str, *args: object, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(SCRIPTS_DIR / name), *map(str, args)],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def abalone_csv() -> Path:
    """The project's copy of the UCI Abalone data (4177 rows, with a header)."""
    from core.settings import DEFAULT_DATA

    return DEFAULT_DATA


@pytest.fixture(scope="session")
def abalone_splits(
    run_script: Callable[..., subprocess.CompletedProcess],
    abalone_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """preprocess.py's output for the real data with every default (seed 42)."""
    out = tmp_path_factory.mktemp("abalone-splits")
    result = run_script("preprocess.py", "--input", abalone_csv, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    return out


# ---------------------------------------------------------------------------------------------
# Approval service (approval/): a local AWS with the approvals table, the Function URL adapter
# on 127.0.0.1, and helpers to open, sign and decide approvals.
# ---------------------------------------------------------------------------------------------

APPROVAL_FUNCTION_ENV = ("APPROVAL_TABLE", "APPROVAL_BASE_URL", "SIGNING_SECRET")
_REGION_ACCOUNT = "us-east-1:123456789012"


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    text: str


@dataclass
class ApprovalStack:
    """A running approval service against the local AWS, and ways to poke at it."""

    aws: Any
    url: str
    table: str
    signing_secret: str
    #: Every SendTaskSuccess/SendTaskFailure that reached Step Functions: (operation, token).
    callbacks: list[tuple[str, str]] = field(default_factory=list)
    #: Appended to the names of per-test resources (the local AWS outlives one test).
    suffix: str = ""
    _workflow: dict[str, str] = field(default_factory=dict)

    # -- requests from the state machine ------------------------------------------------------

    def event(self, **overrides: Any) -> dict[str, Any]:
        """A valid approval request; the token is long (as real ones can be) and traceable."""
        metric = {"value": 4.5, "standard_deviation": 0.2}
        event = {
            "taskToken": "TOKEN-" + secrets.token_urlsafe(1500),
            "executionArn": f"arn:aws:states:{_REGION_ACCOUNT}:execution:abalone-mlops:run-1",
            "pipelineExecutionArn": (
                f"arn:aws:sagemaker:{_REGION_ACCOUNT}:pipeline/abalone-pipeline/execution/x1"
            ),
            "modelPackageArn": (
                f"arn:aws:sagemaker:{_REGION_ACCOUNT}:model-package/abalone-models/3"
            ),
            "metrics": {
                "regression_metrics": {
                    "mse": metric,
                    "rmse": {"value": 2.12, "standard_deviation": 0.05},
                    "mae": {"value": 1.6, "standard_deviation": 0.04},
                    "r2": {"value": 0.55, "standard_deviation": 0.01},
                }
            },
            "qualityGate": {"metric": "mse", "threshold": 6.0, "comparison": "LessThanOrEqualTo"},
            "timeoutSeconds": 604800,
        }
        event.update(overrides)
        return event

    def open(self, **overrides: Any) -> dict[str, Any]:
        from approval.handler import lambda_handler

        return lambda_handler(self.event(**overrides), None)

    def item(self, approval_id: str) -> dict[str, Any] | None:
        response = self.aws.client("dynamodb").get_item(
            TableName=self.table, Key={"approval_id": {"S": approval_id}}, ConsistentRead=True
        )
        return response.get("Item")

    def items(self) -> list[dict[str, Any]]:
        return self.aws.client("dynamodb").scan(TableName=self.table)["Items"]

    # -- links and forms ----------------------------------------------------------------------

    def sign(self, approval_id: str, action: str, expires_at: int) -> str:
        from approval.signing import sign

        return sign(self.signing_secret.encode(), approval_id, action, expires_at)

    def decision_form(
        self, approval_id: str, expires_at: int, action: str = "approve", **fields: str
    ) -> dict[str, str]:
        form = {
            "id": approval_id,
            "action": action,
            "exp": str(expires_at),
            "sig": self.sign(approval_id, action, expires_at),
            "decided_by": "ana@example.com",
            "comment": "looks good",
        }
        form.update(fields)
        return {k: v for k, v in form.items() if v is not None}

    def review_query(self, approval_id: str, expires_at: int) -> dict[str, str]:
        sig = self.sign(approval_id, "review", expires_at)
        return {"id": approval_id, "exp": str(expires_at), "sig": sig}

    # -- HTTP through the local Function URL adapter ------------------------------------------

    def http(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpReply:
        url = self.url + path + (f"?{urlencode(query)}" if query else "")
        headers = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return HttpReply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return HttpReply(error.code, dict(error.headers), error.read().decode())

    def decide(self, approval_id: str, expires_at: int, **fields: str) -> HttpReply:
        return self.http(
            "POST", "/decision", form=self.decision_form(approval_id, expires_at, **fields)
        )

    # -- a real state machine whose callback task invokes the approval function ---------------

    def start_workflow(self, name: str, task_timeout: int = 300) -> tuple[str, str, int]:
        """Start an execution; return (execution ARN, approval id, expiry) once it is waiting."""
        machine = self._state_machine(task_timeout)
        sfn = self.aws.client("stepfunctions")
        execution_arn = sfn.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(self.event())
        )["executionArn"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for item in self.items():
                if item["execution_arn"]["S"] == execution_arn:
                    return execution_arn, item["approval_id"]["S"], int(item["expires_at"]["N"])
            time.sleep(0.02)
        raise AssertionError(f"no approval record for {execution_arn}")

    def wait_for_execution(self, execution_arn: str, timeout: float = 20) -> dict[str, Any]:
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] != "RUNNING":
                return execution
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} still running after {timeout}s")

    def _state_machine(self, task_timeout: int) -> str:
        key = f"machine-{task_timeout}"
        if key in self._workflow:
            return self._workflow[key]
        from core.settings import Settings

        settings = Settings()
        if "function" not in self._workflow:
            self._workflow["role"] = _lambda_role(self.aws, f"approval-{self.suffix}")
            self._workflow["function"] = self.aws.client("lambda").create_function(
                FunctionName=f"{settings.approval_function_name}-{self.suffix}",
                Runtime="python3.12",
                Role=self._workflow["role"],
                Handler="approval.handler.lambda_handler",
                Code={"ZipFile": _empty_zip()},
                Timeout=30,
                Environment={"Variables": {k: os.environ[k] for k in APPROVAL_FUNCTION_ENV}},
            )["FunctionArn"]
        payload = {
            "taskToken.$": "$$.Task.Token",
            "executionArn.$": "$$.Execution.Id",
            **{
                f"{k}.$": f"$.{k}"
                for k in (
                    "pipelineExecutionArn",
                    "modelPackageArn",
                    "metrics",
                    "qualityGate",
                    "timeoutSeconds",
                )
            },
        }
        definition = {
            "StartAt": "AskForApproval",
            "States": {
                "AskForApproval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": self._workflow["function"], "Payload": payload},
                    "TimeoutSeconds": task_timeout,
                    "End": True,
                }
            },
        }
        self._workflow[key] = self.aws.client("stepfunctions").create_state_machine(
            name=f"{settings.state_machine_name}-{task_timeout}-{self.suffix}",
            definition=json.dumps(definition),
            roleArn=self._workflow["role"],
        )["stateMachineArn"]
        return self._workflow[key]


def _lambda_role(aws: Any, name: str) -> str:
    from deploy.iam import assume_role

    trust = json.dumps(assume_role("lambda", source_account=False))
    return aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"][
        "Arn"
    ]


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("approval/__init__.py", "")
    return buffer.getvalue()


def _counted(method: Callable[..., Any], name: str, calls: list) -> Callable[..., Any]:
    @functools.wraps(method)
    def counted(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((name, task_token))
        return method(self, task_token, *args, **kwargs)

    return counted


@pytest.fixture(scope="module")
def approval_local_aws() -> Iterator[Any]:
    """One local AWS per test module (starting is cheap; stopping costs up to half a second)."""
    from localaws import local_aws

    with local_aws() as aws:
        yield aws


@pytest.fixture
def approval_stack(
    approval_local_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ApprovalStack]:
    """A fresh approvals table and the handler on a local Function URL, env configured.

    Step Functions callbacks are counted where they arrive.
    """
    from moto.ses.models import ses_backends
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from approval.handler import lambda_handler
    from approval.store import create_table
    from core.settings import Settings
    from localaws.function_urls import serve

    aws = approval_local_aws
    callbacks: list[tuple[str, str]] = []
    for name in ("send_task_success", "send_task_failure"):
        original = getattr(StepFunctionsParserBackend, name)
        monkeypatch.setattr(StepFunctionsParserBackend, name, _counted(original, name, callbacks))
    ses_backends[aws.account_id][aws.region].sent_messages.clear()
    saved_env = dict(os.environ)  # the Lambda seam applies function environments to os.environ
    suffix = secrets.token_hex(4)
    table = f"{Settings().approval_table_name}-{suffix}"
    secret = secrets.token_urlsafe(32)
    try:
        with serve(lambda_handler) as server:
            create_table(aws.client("dynamodb"), table)
            os.environ.update(
                {"APPROVAL_TABLE": table, "APPROVAL_BASE_URL": server.url, "SIGNING_SECRET": secret}
            )
            yield ApprovalStack(aws, server.url, table, secret, callbacks, suffix)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
