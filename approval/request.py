"""Opening an approval: what the state machine's callback task sends, and what comes back.

The state machine invokes the function with `lambda:invoke.waitForTaskToken` and this
payload (all fields required):

    {"taskToken": str, "executionArn": str, "pipelineExecutionArn": str,
     "modelPackageArn": str,
     "metrics": {"regression_metrics": {"mse": {"value": 4.5, "standard_deviation": 0.2},
                                        "rmse": {...}, "mae": {...}, "r2": {...}}},
     "qualityGate": {"metric": "mse", "threshold": 6.0, "comparison": "LessThanOrEqualTo"},
     "timeoutSeconds": 604800,
     "trigger": {"Type": "new-data", "Object": "s3://..."},      optional: why the run started
     "reviewFiles": {"EvaluationComparison": "s3://...",         optional: the package's
                     "EvaluationPictures": "s3://..."}}          CustomerMetadataProperties


It returns {"approvalId", "expiresAt" (ISO-8601 UTC), "notified": [channels]}. Step Functions
records that result in the execution history, which read-only roles can see, so the review
link (a bearer credential for the page) leaves the function only inside the messages it sends.
The task itself completes only when a reviewer decides (SendTaskSuccess/SendTaskFailure).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from typing import Any

from approval import aws, signing
from approval.config import Config
from approval.model import COMPARISONS, PENDING, Approval, QualityGate, clean_text, iso_time
from approval.store import ApprovalStore
from core.contracts import APPROVAL_ID, TASK_TOKEN, describe_trigger

_LOG = logging.getLogger(__name__)

_TEXT_FIELDS = (TASK_TOKEN, "executionArn", "pipelineExecutionArn", "modelPackageArn")


class InvalidApprovalRequest(ValueError):
    """The event does not follow the contract; the message names the offending field."""


def open_approval(event: dict[str, Any], config: Config, now: float | None = None) -> dict:
    """Validate, store a PENDING approval with its token, send the link; return the id."""
    approval, token = parse_request(event, config, time.time() if now is None else now)
    key = aws.signing_key(config.signing_secret)
    review_url = signing.review_url(
        config.require_base_url(), key, approval.approval_id, approval.expires_at
    )
    # Read before storing: the page then needs nothing but the item (approval.review_files).
    from approval import review_files

    given = event.get("reviewFiles")
    properties = given if isinstance(given, dict) else None
    found = review_files.fetch(approval.model_package_arn, properties)
    approval = dataclasses.replace(approval, comparison=found.comparison, pictures=found.pictures)
    store = ApprovalStore(aws.client("dynamodb"), config.table, config.retention_days)
    store.put_pending(approval, token)

    # Imported here: only requests need urllib's HTTP client and the email package.
    from approval.messages import NotificationFailed, notify

    try:
        notified = notify(config, approval, review_url)
    except NotificationFailed:
        store.abandon(approval.approval_id)
        raise
    _LOG.info(
        "approval %s opened for %s, expires %s, notified %s",
        approval.approval_id,
        approval.model_package_arn,
        approval.expires_at_iso,
        notified or "nobody",
        extra={
            "approvalId": approval.approval_id,
            "outcome": "opened",
            "modelPackageArn": approval.model_package_arn,
            "expiresAt": approval.expires_at_iso,
            "notified": list(notified),
        },
    )
    return {
        APPROVAL_ID: approval.approval_id,
        "expiresAt": approval.expires_at_iso,
        "notified": notified,
    }


def parse_request(event: dict[str, Any], config: Config, now: float) -> tuple[Approval, str]:
    """The approval (new id, PENDING) and the task token, or InvalidApprovalRequest."""
    for name in _TEXT_FIELDS:
        value = event.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _invalid(name, value, "a non-empty string")
    metrics = event.get("metrics")
    if not isinstance(metrics, dict):
        raise _invalid("metrics", metrics, "an object")
    gate = _quality_gate(event.get("qualityGate"))
    timeout = event.get("timeoutSeconds")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise _invalid("timeoutSeconds", timeout, "a positive number of seconds")
    lifetime = min(int(timeout), config.link_ttl_seconds)
    approval = Approval(
        approval_id=secrets.token_urlsafe(16),
        status=PENDING,
        execution_arn=event["executionArn"],
        pipeline_execution_arn=event["pipelineExecutionArn"],
        model_package_arn=event["modelPackageArn"],
        metrics=metrics,
        quality_gate=gate,
        approvers=config.approvers,
        trigger=_trigger(event),
        created_at=iso_time(now),
        expires_at=int(now) + lifetime,
    )
    return approval, event[TASK_TOKEN]


#: The trigger line is shown, not parsed: long object keys or alarm reasons are cut here.
MAX_TRIGGER_CHARS = 300


def _trigger(event: dict[str, Any]) -> str:
    """Why the run started, one clean line (the field is optional: older state machines)."""
    if "trigger" not in event:
        return ""
    line = clean_text(describe_trigger(event["trigger"]))
    return line if len(line) <= MAX_TRIGGER_CHARS else line[: MAX_TRIGGER_CHARS - 1] + "…"


def _quality_gate(raw: Any) -> QualityGate:
    if not isinstance(raw, dict):
        raise _invalid("qualityGate", raw, "an object")
    metric, threshold, comparison = (raw.get(k) for k in ("metric", "threshold", "comparison"))
    if not isinstance(metric, str) or not metric:
        raise _invalid("qualityGate.metric", metric, "a metric name")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise _invalid("qualityGate.threshold", threshold, "a number")
    if comparison not in COMPARISONS:
        raise _invalid("qualityGate.comparison", comparison, "one of " + ", ".join(COMPARISONS))
    return QualityGate(metric, float(threshold), comparison)


def _invalid(field: str, value: Any, expected: str) -> InvalidApprovalRequest:
    if value is None:
        return InvalidApprovalRequest(f"approval request is missing '{field}' ({expected})")
    return InvalidApprovalRequest(f"approval request: '{field}' must be {expected}")
