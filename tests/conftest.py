"""Shared fixtures."""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
# Approval service (approval/): the workflow stack, deployed from its template into a local AWS
# once per module (fakes.stack), and helpers to open, sign and decide approvals on it.
# ---------------------------------------------------------------------------------------------

_REGION_ACCOUNT = "us-east-1:123456789012"


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    text: str


@dataclass(frozen=True)
class ApprovalDeployment:
    """One module's workflow stack: what its tests share."""

    aws: Any
    #: The approval function's Function URL (the stack's ReviewUrlBase), without the last "/".
    url: str
    table: str
    state_machine: str
    #: The value of the stack's generated link-signing secret.
    signing_secret: str
    #: The approval function's environment as the template configured it (see the fixture).
    environment: dict[str, str]
    #: The stack's HumanApproval state, the only state its state machine has here.
    approval_task: dict[str, Any]


@dataclass
class ApprovalStack:
    """The deployed approval service in the local AWS, and ways to poke at it."""

    aws: Any
    url: str
    table: str
    signing_secret: str
    state_machine: str
    approval_task: dict[str, Any]
    #: Every SendTaskSuccess/SendTaskFailure that reached Step Functions: (operation, token).
    callbacks: list[tuple[str, str]] = field(default_factory=list)
    #: Appended to the names of per-test executions (the stack outlives one test).
    suffix: str = ""

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
            "trigger": {"Type": "schedule"},
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

    # -- HTTP through the approval function's Function URL ------------------------------------

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

    # -- the stack's state machine: its approval task invokes the stack's function ------------

    def start_workflow(self, name: str, task_timeout: int = 300) -> tuple[str, str, int]:
        """Start an execution; return (execution ARN, approval id, expiry) once it is waiting.

        The request is `event()`'s (its link lives a week); the task times out after
        `task_timeout` seconds.
        """
        from fakes.stack import approval_input

        execution_input = approval_input(self.approval_task, self.event(), task_timeout)
        sfn = self.aws.client("stepfunctions")
        execution_arn = sfn.start_execution(
            stateMachineArn=self.state_machine, name=name, input=json.dumps(execution_input)
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


def _counted(method: Callable[..., Any], name: str, calls: list) -> Callable[..., Any]:
    @functools.wraps(method)
    def counted(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((name, task_token))
        return method(self, task_token, *args, **kwargs)

    return counted


@pytest.fixture(scope="module")
def approval_deployment() -> Iterator[ApprovalDeployment]:
    """The workflow stack from its template, once per module (the deploy takes a second or two).

    Two changes on top of the template, both to the stack's own resources:

    * the state machine is narrowed to its approval task (fakes.stack.approval_task_only):
      these tests follow the approval task's callback outcome, not the whole workflow's
      (tests/test_workflow.py runs the whole workflow, deciding through the same function);
    * the approval function's environment moves, unchanged, into the process's (the
      `approval_stack` fixture sets it per test): the Lambda seam runs the handler in this
      process with the function's variables laid over the process's, so a test that changes
      a setting with monkeypatch (APPROVAL_TABLE, SLACK_SIGNING_SECRET...) would otherwise
      reach the handler it calls directly but not the one behind the Function URL.
    """
    from fakes.stack import approval_task_only, deploy

    from core.settings import Settings
    from deploy import template as tpl
    from localaws import local_aws

    settings = Settings()
    with local_aws() as aws:
        outputs = deploy(aws, settings).outputs
        functions = aws.client("lambda")
        function = settings.approval_function_name
        configured = functions.get_function_configuration(FunctionName=function)
        environment = configured["Environment"]["Variables"]
        functions.update_function_configuration(
            FunctionName=function, Environment={"Variables": {}}
        )
        signing_secret = aws.client("secretsmanager").get_secret_value(
            SecretId=environment["SIGNING_SECRET_ARN"]
        )["SecretString"]
        machine = outputs[tpl.OUT_STATE_MACHINE_ARN]
        yield ApprovalDeployment(
            aws=aws,
            url=outputs[tpl.OUT_REVIEW_URL_BASE].rstrip("/"),
            table=outputs[tpl.OUT_TABLE_NAME],
            state_machine=machine,
            signing_secret=signing_secret,
            environment=environment,
            approval_task=approval_task_only(aws, machine),
        )


@pytest.fixture
def approval_stack(
    approval_deployment: ApprovalDeployment, monkeypatch: pytest.MonkeyPatch
) -> ApprovalStack:
    """The module's stack with an empty approvals table and the function's environment set.

    SIGNING_SECRET holds the stack's secret value, as a local run gives it (tests of the
    Secrets Manager path replace it with SIGNING_SECRET_ARN). Step Functions callbacks are
    counted where they arrive.
    """
    from moto.ses.models import ses_backends
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from approval.store import KEY

    deployed = approval_deployment
    aws = deployed.aws
    callbacks: list[tuple[str, str]] = []
    for name in ("send_task_success", "send_task_failure"):
        original = getattr(StepFunctionsParserBackend, name)
        monkeypatch.setattr(StepFunctionsParserBackend, name, _counted(original, name, callbacks))
    ses_backends[aws.account_id][aws.region].sent_messages.clear()
    dynamodb = aws.client("dynamodb")
    for item in dynamodb.scan(TableName=deployed.table, ProjectionExpression=KEY)["Items"]:
        dynamodb.delete_item(TableName=deployed.table, Key={KEY: item[KEY]})
    for name, value in {**deployed.environment, "SIGNING_SECRET": deployed.signing_secret}.items():
        monkeypatch.setenv(name, value)
    return ApprovalStack(
        aws=aws,
        url=deployed.url,
        table=deployed.table,
        signing_secret=deployed.signing_secret,
        state_machine=deployed.state_machine,
        approval_task=deployed.approval_task,
        callbacks=callbacks,
        suffix=secrets.token_hex(4),
    )
