"""Two gaps in moto's Step Functions, filled so state machines behave as on AWS.

1. The aws-sdk integration hands streaming bodies (S3 GetObject's `Body`) to the state data
   as a stream object; AWS gives a string. Streams are read into strings.
2. SendTaskFailure drops its `cause` (only the error reaches the waiting task), so a Catch
   sees no Cause. The cause is passed through.

Both are method replacements on moto's own classes, installed once per process.
"""

from __future__ import annotations

from typing import Any

from botocore.response import StreamingBody
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_service,
)
from moto.stepfunctions.responses import StepFunctionResponse


def _read_streams(self: Any, response: Any, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(response, dict):
        for key, value in list(response.items()):
            if isinstance(value, StreamingBody):
                response[key] = value.read().decode("utf-8")


def _send_task_failure(self: StepFunctionResponse) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


def install() -> None:
    """Patch moto's Step Functions classes (idempotent)."""
    aws_sdk_service.StateTaskServiceAwsSdk._normalise_response = _read_streams
    StepFunctionResponse.send_task_failure = _send_task_failure
