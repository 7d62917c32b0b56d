"""The smoke test: before a new model takes traffic, its endpoint must answer as the
evaluation step's model did on the same rows.

The state machine invokes this function (lambda:invoke) once the endpoint that serves the new
configuration is InService: the new endpoint itself on a first deployment, else a temporary
endpoint on the new configuration, so live traffic never reaches an untested model. Event:

    {"EndpointName": str,
     "EvaluationReport": "s3://.../evaluation.json",   the package's ModelQuality statistics
     "Tolerance": float}                               optional, default 1e-4

The sample sits beside the report (core/contracts.py, SMOKE_TEST_FOLDER): the payload is sent
as one `text/csv` request, and each answer is compared with the evaluation's prediction for
that row. Result, which the state machine keeps as `$.smokeTest`:

    {"status": "passed" | "failed" | "skipped", "rows": int, "max_abs_diff": float | null,
     "endpoint": str, "reason": str}

"failed" is the endpoint's fault (a ModelError, an answer that is not one number per row, a
prediction outside the tolerance); "skipped" means the pipeline wrote no sample (a pipeline
whose evaluation step does not write one). Anything else (no permission, a missing
endpoint) raises, and the state machine's failure path reports it.
"""

from __future__ import annotations

import logging
from typing import Any

from core import contracts
from core.function_clients import client
from smoketest.compare import DEFAULT_TOLERANCE, AnswerError, compare, numbers

INFERENCE_ID = "smoke-test"
LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    endpoint = str(event["EndpointName"])
    report = str(event["EvaluationReport"])
    tolerance = float(event.get("Tolerance", DEFAULT_TOLERANCE))
    folder = f"{report.rsplit('/', 1)[0]}/{contracts.SMOKE_TEST_FOLDER}"
    payload = _read(f"{folder}/{contracts.SMOKE_TEST_PAYLOAD}")
    predictions = _read(f"{folder}/{contracts.SMOKE_TEST_PREDICTIONS}")
    if payload is None or predictions is None:
        return _result(
            "skipped",
            endpoint,
            0,
            None,
            f"no smoke-test sample in {folder}/ (the evaluation "
            "step writes none): the endpoint was not checked before traffic",
        )
    expected = numbers(predictions, "text/csv")
    runtime = client("sagemaker-runtime")
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="text/csv",
            Accept="text/csv",
            Body=payload,
            # Captured requests carry it (eventMetadata.inferenceId): the smoke test's rows
            # can be told apart from real traffic in the endpoint's data capture.
            InferenceId=INFERENCE_ID,
        )
    except runtime.exceptions.ModelError as exc:
        return _result("failed", endpoint, len(expected), None, _message(exc))
    try:
        got = numbers(answer["Body"].read(), answer.get("ContentType") or "text/csv")
        comparison = compare(got, expected, tolerance)
    except AnswerError as exc:
        return _result("failed", endpoint, len(expected), None, f"endpoint {endpoint}: {exc}")
    if comparison.passed():
        reason = (
            f"{comparison.rows} rows answered as evaluated (largest difference "
            f"{comparison.max_abs_diff:.3g}, tolerance {tolerance:g})"
        )
        return _result("passed", endpoint, comparison.rows, comparison.max_abs_diff, reason)
    row = comparison.first_mismatch or 0
    reason = (
        f"endpoint {endpoint} answered {got[row]!r} for row {row + 1} of the sample, the "
        f"evaluation predicted {expected[row]!r} (tolerance {tolerance:g}): it does not "
        "serve the evaluated model as evaluated"
    )
    return _result("failed", endpoint, comparison.rows, comparison.max_abs_diff, reason)


def _result(
    status: str, endpoint: str, rows: int, max_abs_diff: float | None, reason: str
) -> dict[str, Any]:
    LOGGER.info("smoke test %s", status, extra={"endpoint": endpoint, "reason": reason})
    return {
        "status": status,
        "rows": rows,
        "max_abs_diff": max_abs_diff,
        "endpoint": endpoint,
        "reason": reason,
    }


def _message(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return f"endpoint answered {error.get('Code', type(exc).__name__)}: {error.get('Message', exc)}"


def _read(uri: str) -> bytes | None:
    """An S3 object's bytes, or None when it does not exist."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = client("s3")
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
