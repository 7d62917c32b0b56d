"""Step RetryPolicies, honoured where a local run can meet the failure they name.

A pipeline step's `RetryPolicies` (sagemaker/workflow/retry.py; SageMaker's "Retry Policy
for Pipeline Steps") list ExceptionType values with IntervalSeconds (default 1), BackoffRate
(default 2.0) and MaxAttempts (default 5) or ExpireAfterMin. Locally:

- `Step.THROTTLING` and `Step.SERVICE_FAULT` apply to the AWS calls a step makes (a throttled
  or failing call to the local SageMaker, say, which the account's fault injection produces):
  the step is run again after the interval, as SageMaker does.
- `SageMaker.JOB_INTERNAL_ERROR`, `SageMaker.CAPACITY_ERROR`, `SageMaker.RESOURCE_LIMIT`
  describe the managed fleet (instances, capacity, account limits), which a local run does not
  have: they are logged as not applicable. A job's own error (the script exits non-zero) is
  never retried, on SageMaker either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localaws.executor.jobs import StepContext, StepOutcome

Runner = Callable[[StepContext], StepOutcome]
LOCAL_TYPES = ("Step.THROTTLING", "Step.SERVICE_FAULT")
_THROTTLING = {"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown"}
_FAULTS = {"InternalFailure", "InternalServerError", "ServiceUnavailable", "InternalError"}


def retrying(runner: Runner) -> Runner:
    """`runner`, re-run as the step's RetryPolicies say when an AWS call in it fails."""

    def run(ctx: StepContext) -> StepOutcome:
        policies = [p for p in ctx.spec.get("RetryPolicies") or [] if isinstance(p, dict)]
        _note_inapplicable(ctx.log, policies)
        attempts: dict[int, int] = {}
        started = time.monotonic()
        while True:
            try:
                return runner(ctx)
            except Exception as exc:
                kind = exception_type(exc)
                chosen = next(
                    (i for i, p in enumerate(policies) if kind in (p.get("ExceptionType") or [])),
                    None,
                )
                if kind is None or chosen is None:
                    raise
                policy = policies[chosen]
                done = attempts.get(chosen, 0)
                if not _may_retry(policy, done, time.monotonic() - started):
                    raise
                wait = (
                    float(policy.get("IntervalSeconds", 1))
                    * float(policy.get("BackoffRate", 2.0)) ** done
                )
                attempts[chosen] = done + 1
                _append(
                    ctx.log,
                    f"# {kind}: {exc}\n# RetryPolicy: attempt {done + 2} in {wait:g} s\n",
                )
                time.sleep(wait)

    return run


def exception_type(exc: BaseException) -> str | None:
    """The RetryPolicy ExceptionType of a failure, from the AWS error behind it if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            error = seen.response.get("Error", {})
            status = seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = str(error.get("Code", ""))
            if code in _THROTTLING:
                return "Step.THROTTLING"
            if code in _FAULTS or status >= 500:
                return "Step.SERVICE_FAULT"
            return None
        seen = seen.__cause__ or seen.__context__
    return None


def _may_retry(policy: dict[str, Any], done: int, elapsed: float) -> bool:
    if "ExpireAfterMin" in policy and "MaxAttempts" not in policy:
        return elapsed < float(policy["ExpireAfterMin"]) * 60
    return done < int(policy.get("MaxAttempts", 5))


def _note_inapplicable(log: Path, policies: list[dict[str, Any]]) -> None:
    kinds = sorted(
        {k for p in policies for k in p.get("ExceptionType") or [] if k not in LOCAL_TYPES}
    )
    if kinds:
        _append(
            log,
            f"# RetryPolicy for {', '.join(kinds)} cannot apply locally: those failures come "
            "from SageMaker's managed instances and limits, which a local run does not use\n",
        )


def _append(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(text)
