"""Decisions taken in the SageMaker model registry end the pending approval.

SageMaker users usually approve or reject a model package in Studio's model registry
(UpdateModelPackage, ModelApprovalStatus Approved or Rejected). SageMaker then sends a
"SageMaker Model Package State Change" event to EventBridge, and the stack's rule sends those
of this project's model package group with status Approved or Rejected to this function
(deploy/template.py). The event is the package as DescribeModelPackage describes it (SageMaker
developer guide, "Events that Amazon SageMaker sends to Amazon EventBridge", model package
state change: https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-
eventbridge.html#eventbridge-model-package): source "aws.sagemaker", detail with
ModelPackageArn, ModelPackageGroupName, ModelApprovalStatus, LastModifiedTime, ...

Here the package's PENDING approval (found by its ARN, `ApprovalStore.pending_for_package`)
is decided through the same conditional write and Step Functions callback as the review page
and Slack (`approval.decision.decide`), via "model registry". Who decided is the package's
LastModifiedBy (SageMaker API reference, UserContext): the Studio user profile's name, else
the IAM identity's ARN, else "model registry"; the comment is its ApprovalDescription. The
guide's example event carries neither field, so when the event lacks them they are read with
DescribeModelPackage.

An event for a package with no pending approval is not an error: the workflow's own
ApproveModelPackage and RejectModelPackage after a decision, a repeated event (SageMaker
may send several per change), or another run's package. Nor is one whose execution no longer
waits for the approval: its wait timed out, and the workflow's timeout path reads the
registry itself (workflow/approval.py) and may have just set the package Rejected, which must
not count as a person's decision. Either is logged in one INFO line and ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from approval import aws
from approval.config import Config
from approval.decision import decide
from approval.model import (
    APPROVE,
    REJECT,
    VIA_REGISTRY,
    ApprovalClosed,
    ApprovalNotFound,
    clean_text,
)
from approval.pages import MAX_COMMENT_LENGTH, MAX_NAME_LENGTH
from approval.store import ApprovalStore

_LOG = logging.getLogger(__name__)

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
#: ModelApprovalStatus -> the decision it takes.
ACTIONS = {"Approved": APPROVE, "Rejected": REJECT}
#: Who decided, when SageMaker does not say.
UNKNOWN_DECIDER = VIA_REGISTRY


def is_registry_event(event: dict[str, Any]) -> bool:
    """Whether the event is SageMaker's model package state change (from EventBridge)."""
    return event.get("source") == SOURCE and event.get("detail-type") == DETAIL_TYPE


def handle_registry_event(event: dict[str, Any], config: Config) -> dict[str, Any]:
    """Decide the package's pending approvals as the registry says; what was decided."""
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    arn = str(detail.get("ModelPackageArn") or "")
    status = str(detail.get("ModelApprovalStatus") or "")
    result: dict[str, Any] = {"modelPackageArn": arn, "modelApprovalStatus": status, "decided": []}
    if not arn or status not in ACTIONS:
        _ignore(arn or "(no ModelPackageArn)", status or "(no ModelApprovalStatus)", "no decision")
        return result
    store = ApprovalStore(aws.client("dynamodb"), config.table, config.retention_days)
    pending = store.pending_for_package(arn)
    if not pending:
        _ignore(arn, status, "no pending approval")
        return result
    decided_by, comment = _who_and_why(detail, arn)
    for approval_id, execution_arn in pending:
        if not _still_waiting(execution_arn):
            _ignore(
                arn, status, f"execution {execution_arn} no longer waits for approval {approval_id}"
            )
            continue
        try:
            decide(config, approval_id, ACTIONS[status], decided_by, comment, VIA_REGISTRY)
        except (ApprovalNotFound, ApprovalClosed) as closed:
            _ignore(arn, status, f"approval {approval_id} is no longer pending ({closed})")
            continue
        result["decided"].append(approval_id)
    return result


def _ignore(arn: str, status: str, why: str) -> None:
    _LOG.info(
        "model package %s %s in the model registry: %s; ignored",
        arn,
        status,
        why,
        extra={"outcome": "ignored", "modelPackageArn": arn, "reason": why},
    )


#: What follows a task's TaskScheduled while it runs.
_RUNNING = frozenset({"TaskStarted", "TaskSubmitted"})
#: The approval task's resource as its TaskScheduled event names it (lambda, with a callback).
_CALLBACK = "waitForTaskToken"
#: Events kept from the end of the history: enough to reach the latest TaskScheduled.
_TAIL = 10


def _still_waiting(execution_arn: str) -> bool:
    """Whether the execution is in its approval task, waiting for the callback.

    The history's latest events are then that task's: its TaskScheduled (a Lambda invoke
    with a callback), at most followed by TaskStarted/TaskSubmitted. A wait that timed out
    has a TaskTimedOut and the states after it (another task being scheduled is no wait for
    a decision). Unreadable history (other than a missing execution) does not stop the
    decision: its callback then says. The history is read oldest first, page by page.
    """
    sfn = aws.client("stepfunctions")
    query: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    tail: list[dict[str, Any]] = []
    try:
        while True:
            page = sfn.get_execution_history(**query)
            tail = (tail + list(page.get("events") or []))[-_TAIL:]
            if not page.get("nextToken"):
                break
            query["nextToken"] = page["nextToken"]
    except Exception as exc:
        code = aws.error_code(exc)
        if code == "ExecutionDoesNotExist":
            return False
        _LOG.warning("execution %s: its history could not be read (%s)", execution_arn, code)
        return True
    return waiting_for_callback(tail)


def waiting_for_callback(events: list[dict[str, Any]]) -> bool:
    """Whether these latest history events end in a task waiting for its callback."""
    for event in reversed(events):
        if event.get("type") in _RUNNING:
            continue
        resource = str((event.get("taskScheduledEventDetails") or {}).get("resource", ""))
        return event.get("type") == "TaskScheduled" and resource.endswith(_CALLBACK)
    return False


def _who_and_why(detail: dict[str, Any], arn: str) -> tuple[str, str]:
    """(decided_by, comment): the package's LastModifiedBy and ApprovalDescription, from the
    event or else from DescribeModelPackage; cleaned and limited as the review form's are."""
    if "LastModifiedBy" not in detail:
        try:
            detail = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
        except Exception as exc:  # the decision stands; only its attribution is missing
            _LOG.warning(
                "model package %s: DescribeModelPackage failed (%s); deciding as %r",
                arn,
                aws.error_code(exc),
                UNKNOWN_DECIDER,
            )
            detail = {}
    who = detail.get("LastModifiedBy")
    who = who if isinstance(who, dict) else {}
    identity = who.get("IamIdentity")
    identity = identity if isinstance(identity, dict) else {}
    name = clean_text(str(who.get("UserProfileName") or identity.get("Arn") or ""))
    comment = clean_text(str(detail.get("ApprovalDescription") or ""), multiline=True)
    return (name[:MAX_NAME_LENGTH] or UNKNOWN_DECIDER), comment[:MAX_COMMENT_LENGTH]
