"""State classes for the ASL fields stepfunctions 2.3.0 lacks, resource ARNs, retry policies.

The SDK's `Task` has no `ResultSelector` and its `Fail` no `ErrorPath`/`CausePath`; both are
plain ASL today, so the subclasses here add them after the SDK's own fields.
"""

from __future__ import annotations

from typing import Any

from workflow.errors import transient_errors
from workflow.sdk import Fail, Retry, Task

#: Every API call gets this long; a hung call must not hold an execution forever.
API_TIMEOUT_SECONDS = 60

SNS_PUBLISH = "arn:aws:states:::sns:publish"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_WAIT_FOR_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def aws_sdk(service: str, action: str) -> str:
    """The aws-sdk integration ARN, e.g. aws_sdk("sagemaker", "describeEndpoint").

    SageMaker is always called this way (not the optimised integrations), so moto's ASL
    interpreter makes the same API calls that Step Functions makes on AWS.
    """
    return f"arn:aws:states:::aws-sdk:{service}:{action}"


def service_of(resource: str) -> str:
    """ "sagemaker" for an aws-sdk:sagemaker ARN, "sns" for sns:publish, and so on."""
    tail = resource.removeprefix("arn:aws:states:::")
    return tail.removeprefix("aws-sdk:").split(":", 1)[0]


def retry_transient(service: str) -> Retry:
    """Retry the service's throttling/transient errors with exponential backoff (2, 4, 8 s)."""
    return Retry(
        error_equals=list(transient_errors(service)),
        interval_seconds=2,
        max_attempts=3,
        backoff_rate=2.0,
    )


class ApiTask(Task):
    """A Task that calls an AWS API: a timeout, a transient-error retry, an optional ResultSelector.

    `result_selector` trims the API's response to what later states read; besides keeping
    the state small, this keeps moto's datetimes out of outputs.
    """

    def __init__(
        self,
        state_id: str,
        *,
        resource: str,
        parameters: dict[str, Any],
        result_selector: dict[str, Any] | None = None,
        timeout_seconds: int | None = None,
        timeout_seconds_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        if timeout_seconds is None and timeout_seconds_path is None:
            timeout_seconds = API_TIMEOUT_SECONDS
        super().__init__(
            state_id,
            resource=resource,
            parameters=parameters,
            timeout_seconds=timeout_seconds,
            timeout_seconds_path=timeout_seconds_path,
            retry=retry_transient(service_of(resource)),
            **kwargs,
        )
        self.result_selector = result_selector

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        if self.result_selector is not None:
            result["ResultSelector"] = self.result_selector
        return result


def sagemaker(state_id: str, action: str, **kwargs: Any) -> ApiTask:
    """An ApiTask calling SageMaker's `action` (camelCase, e.g. "createModel")."""
    return ApiTask(state_id, resource=aws_sdk("sagemaker", action), **kwargs)


class FailFromPaths(Fail):
    """A Fail state whose error and cause are read from the state data (ErrorPath/CausePath).

    One Fail state then ends every failure path with the original error and cause.
    """

    def __init__(self, state_id: str, *, error_path: str, cause_path: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)
        self.error_path = error_path
        self.cause_path = cause_path

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["ErrorPath"] = self.error_path
        result["CausePath"] = self.cause_path
        return result
