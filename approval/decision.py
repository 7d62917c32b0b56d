"""Deciding an approval: one conditional write, then one Step Functions callback.

The write (`status = PENDING` → APPROVED/REJECTED) is what makes a decision single-use: of
any number of concurrent clicks, web or Slack, exactly one passes the condition, and only
that one gets the token back and calls Step Functions. A refused callback is recorded on
the item, so a late decision (the execution already timed out) is visible, not silent.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from approval import aws
from approval.config import Config
from approval.model import (
    APPROVED,
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    DECISIONS,
    REJECTED_ERROR,
    Approval,
)
from approval.store import ApprovalStore

_LOG = logging.getLogger(__name__)


def decide(
    config: Config, approval_id: str, action: str, decided_by: str, comment: str, via: str
) -> Approval:
    """Record the decision and resume the workflow; the approval as it now stands.

    Raises ApprovalNotFound or ApprovalClosed (nothing written) when it cannot be decided.
    """
    store = ApprovalStore(aws.client("dynamodb"), config.table, config.retention_days)
    approval, token = store.decide(approval_id, DECISIONS[action], decided_by, comment, via)
    error = _resume_workflow(approval, token)
    _LOG.info(
        "approval %s %s by %s via %s; workflow %s",
        approval_id,
        approval.status.lower(),
        decided_by,
        via,
        f"NOT resumed ({error})" if error else "resumed",
    )
    if not error:
        return dataclasses.replace(approval, callback=CALLBACK_DELIVERED)
    try:
        return store.record_callback_failure(approval, error)
    except Exception as exc:  # the decision stands; only its bookkeeping failed
        _LOG.error(
            "approval %s: recording the callback failure failed: %s",
            approval_id,
            aws.error_code(exc),
        )
        return dataclasses.replace(approval, callback=CALLBACK_FAILED, callback_error=error)


def _resume_workflow(approval: Approval, token: str) -> str:
    """SendTaskSuccess on approval, SendTaskFailure("Rejected") otherwise; the error, if any."""
    record = json.dumps(approval.decision_record())
    sfn = aws.client("stepfunctions")
    try:
        if approval.status == APPROVED:
            sfn.send_task_success(taskToken=token, output=record)
        else:
            sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=record)
    except Exception as exc:  # e.g. TaskTimedOut: the decision came after the deadline
        return aws.error_code(exc)
    return ""
