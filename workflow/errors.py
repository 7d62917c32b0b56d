"""Error names: the ones the state machine raises, and the transient ones it retries.

How Step Functions names an AWS SDK integration's error: "<Service>.<ErrorCode>Exception"
in PascalCase when the service's SDK models that error (e.g.
"SageMaker.ResourceLimitExceededException"); an error the SDK does not model, which
includes SageMaker's throttling, arrives as the service's base exception,
"SageMaker.SageMakerException" (older accounts and forum posts show
"SageMaker.AmazonSageMakerException"). moto's interpreter (ported from LocalStack) names
the unmodelled ones "<service>.<service>Exception" with the lower-case service from the
ARN ("sagemaker.sagemakerException"), and Retry/Catch match names exactly. So each list
below holds the AWS names and moto's spelling; the generic names also cover non-transient
errors such as ValidationException, which then fail after the retries (2 + 4 + 8 s).
"""

from __future__ import annotations

# Raised by this state machine (Fail states and the approval function's SendTaskFailure);
# the names live with the other shared contracts.
from core.contracts import (
    ENDPOINT_FAILED,
    NO_MODEL_PACKAGE,
    PIPELINE_FAILED,
    REJECTED,
    SMOKE_TEST_FAILED,
    UNEXPECTED_DECISION,
    WRONG_MODEL_PACKAGE_GROUP,
)

__all__ = [
    "ALL",
    "ENDPOINT_FAILED",
    "NO_MODEL_PACKAGE",
    "PIPELINE_FAILED",
    "REJECTED",
    "SMOKE_TEST_FAILED",
    "TIMEOUT",
    "UNEXPECTED_DECISION",
    "WRONG_MODEL_PACKAGE_GROUP",
    "transient_errors",
]

TIMEOUT = "States.Timeout"
ALL = "States.ALL"

_TRANSIENT: dict[str, tuple[str, ...]] = {
    "sagemaker": (
        "SageMaker.ThrottlingException",
        "SageMaker.SageMakerException",
        "SageMaker.AmazonSageMakerException",
        "sagemaker.sagemakerException",  # moto's name for every unmodelled SageMaker error
    ),
    "s3": ("S3.S3Exception", "S3.SdkClientException", "s3.s3Exception"),
    "sns": ("SNS.ThrottledException", "SNS.InternalErrorException", "SNS.SdkClientException"),
    "lambda": (
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ),
}


def transient_errors(service: str) -> tuple[str, ...]:
    """The error names worth retrying for a service ("sagemaker", "s3", "sns", "lambda")."""
    try:
        return _TRANSIENT[service]
    except KeyError:
        raise ValueError(
            f"no transient-error list for service {service!r}; add one to workflow/errors.py"
        ) from None
