"""How fast is the approval function? Cold import, and a decision end to end.

    python benchmarks/approval_bench.py [--runs 40] [--imports 15]

* import: `import approval.handler` in a fresh interpreter (the Lambda cold start's own
  share; boto3 is imported on first use, not here). Targets: median under 150 ms.
* decision: POST /decision through `lambda_handler` against the workflow stack deployed from
  its template into the local AWS - signature check, DynamoDB conditional update,
  SendTaskSuccess to a real waiting execution, callback bookkeeping - for N distinct
  approvals. Target: median under 20 ms.
* review: GET /review (signature check, one consistent read, page rendering) of a package
  that registered the champion comparison and the evaluation's three pictures (two models
  each, as scripts/evaluate.py draws them on the Abalone test split's size). Target: median
  under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The tests' helpers (tests/fakes/stack.py deploys the workflow stack), imported as `fakes`:
# smdebug-rulesconfig, a sagemaker dependency, installs a top-level `tests` package.
sys.path.insert(1, str(ROOT / "tests"))

_IMPORT_PROBE = (
    "import time; t = time.perf_counter(); import approval.handler; print(time.perf_counter() - t)"
)


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name:<9} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   "
        f"min {ms[0]:7.2f} ms   n={len(ms)}"
    )


def import_times(runs: int) -> list[float]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for _ in range(runs)
    ]


def timed(handler: Callable[[dict, Any], dict], event: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    result = handler(event, None)
    return time.perf_counter() - start, result


def handler_times(runs: int) -> tuple[list[float], list[float]]:
    from fakes.stack import approval_input, approval_task_only, deploy

    from approval.handler import lambda_handler
    from approval.signing import sign
    from core.settings import Settings
    from deploy import template as tpl
    from localaws import local_aws
    from localaws.function_urls import to_event

    settings = Settings()
    with local_aws() as aws:
        outputs = deploy(aws, settings).outputs
        # The handler runs here, called directly, with the deployed function's configuration;
        # the state machine, narrowed to its approval task, invokes the same function.
        configured = aws.client("lambda").get_function_configuration(
            FunctionName=settings.approval_function_name
        )
        env = configured["Environment"]["Variables"]
        os.environ.update({**env, "LOG_LEVEL": "ERROR"})
        secret = aws.client("secretsmanager").get_secret_value(SecretId=env["SIGNING_SECRET_ARN"])[
            "SecretString"
        ]
        machine = outputs[tpl.OUT_STATE_MACHINE_ARN]
        package = _package_with_review_files(aws, settings)
        execution_input = json.dumps(
            approval_input(
                approval_task_only(aws, machine),
                _request(package, _properties(aws, package)),
                _TASK_TIMEOUT_SECONDS,
            )
        )
        sfn = aws.client("stepfunctions")
        executions = [
            sfn.start_execution(stateMachineArn=machine, name=f"bench-{i}", input=execution_input)[
                "executionArn"
            ]
            for i in range(runs + 1)
        ]
        pending = _wait_for_records(aws, outputs[tpl.OUT_TABLE_NAME], set(executions))
        # The emulator runs each execution in its own thread, in this process: let those
        # threads settle between timed calls so each figure is the decision's own cost.
        settle = 0.05
        time.sleep(10 * settle)

        def get(approval_id: str, exp: int) -> dict:
            query = urlencode(
                {
                    "id": approval_id,
                    "exp": exp,
                    "sig": sign(secret.encode(), approval_id, "review", exp),
                }
            )
            return to_event("GET", f"/review?{query}", [("Host", "bench")], b"", "127.0.0.1")

        def post(approval_id: str, exp: int) -> dict:
            form = {
                "id": approval_id,
                "action": "approve",
                "exp": exp,
                "sig": sign(secret.encode(), approval_id, "approve", exp),
                "decided_by": "bench@example.com",
                "comment": "",
            }
            headers = [("Host", "bench"), ("Content-Type", "application/x-www-form-urlencoded")]
            return to_event("POST", "/decision", headers, urlencode(form).encode(), "127.0.0.1")

        reviews, decisions = [], []
        for i, (approval_id, exp) in enumerate(pending):
            review_s, review = timed(lambda_handler, get(approval_id, exp))
            assert review["body"].count("<figure") == 3, "the pictures are not on the page"
            decision_s, decided = timed(lambda_handler, post(approval_id, exp))
            assert review["statusCode"] == 200 and decided["statusCode"] == 200, decided
            if i:  # the first pays for creating the boto3 clients
                reviews.append(review_s)
                decisions.append(decision_s)
            time.sleep(settle)
        statuses = {sfn.describe_execution(executionArn=e)["status"] for e in executions}
        deadline = time.monotonic() + 20
        while statuses != {"SUCCEEDED"} and time.monotonic() < deadline:
            time.sleep(0.1)
            statuses = {sfn.describe_execution(executionArn=e)["status"] for e in executions}
        assert statuses == {"SUCCEEDED"}, statuses
        return decisions, reviews


#: The approval task's timeout, and the approval links' lifetime (the request's timeoutSeconds).
_TASK_TIMEOUT_SECONDS = 3600


def _package_with_review_files(aws: Any, settings: Any) -> str:
    """A package registered as the pipeline registers one: comparison.json and the pictures
    (two models each) beside its evaluation."""
    from fakes import review_files

    bucket = settings.bucket_for(aws.account_id)
    prefix = settings.prefix("bench", "Evaluate", "output", "evaluation")
    return review_files.register(aws, settings.model_package_group, bucket, prefix)


def _properties(aws: Any, package: str) -> dict:
    """The package's CustomerMetadataProperties, which the state machine passes on."""
    described = aws.client("sagemaker").describe_model_package(ModelPackageName=package)
    return described["CustomerMetadataProperties"]


def _request(package: str, review_files: dict) -> dict:
    metric = {"value": 4.5, "standard_deviation": 0.2}
    return {
        "reviewFiles": review_files,
        "pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x",
        "modelPackageArn": package,
        "metrics": {"regression_metrics": {"mse": metric, "rmse": metric}},
        "qualityGate": {"metric": "mse", "threshold": 6.0, "comparison": "LessThanOrEqualTo"},
        "timeoutSeconds": _TASK_TIMEOUT_SECONDS,
        "trigger": {"Type": "manual"},
    }


def _wait_for_records(aws, table: str, executions: set[str]) -> list[tuple[str, int]]:
    db = aws.client("dynamodb")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = db.scan(TableName=table)["Items"]
        if {i["execution_arn"]["S"] for i in items} >= executions:
            return [(i["approval_id"]["S"], int(i["expires_at"]["N"])) for i in items]
        time.sleep(0.05)
    raise SystemExit("the executions never opened their approvals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="decisions to time")
    parser.add_argument("--imports", type=int, default=15, help="fresh interpreters to time")
    args = parser.parse_args()
    print(summary("import", import_times(args.imports)))
    decisions, reviews = handler_times(args.runs)
    print(summary("decision", decisions))
    print(summary("review", reviews))


if __name__ == "__main__":
    main()
