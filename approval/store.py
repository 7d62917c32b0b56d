"""The approvals table in DynamoDB: one item per approval, keyed by its random id.

The task token is written once and read back only by the single conditional update that
wins the decision, which also removes it. Every state change is a conditional write on
`status = PENDING`, so two reviewers (or a double click) racing on one link produce exactly
one decision. A decision costs one write; a refused callback (e.g. TaskTimedOut) a second.

Item attributes: approval_id (S, hash key), status (S), task_token (S, while needed),
execution_arn, pipeline_execution_arn, model_package_arn, approvers, created_at (S, ISO),
metrics and quality_gate (S, JSON), comparison (S, JSON) and pictures (B, compressed
JSON) when the package registered them, expires_at (N, epoch s), purge_at (N, the TTL attribute),
after a decision decided_by, decided_at, comment, decided_via, and if Step Functions refused
the callback, callback ("failed") and callback_error (its error code). The index
PACKAGE_INDEX finds an approval by its model_package_arn.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, NamedTuple

from approval import review_files
from approval.aws import error_code
from approval.model import (
    CALLBACK_FAILED,
    PENDING,
    UNDELIVERED,
    Approval,
    ApprovalClosed,
    ApprovalNotFound,
    QualityGate,
    iso_time,
)

KEY = "approval_id"
TOKEN = "task_token"
#: DynamoDB deletes items some time after this epoch second (the table's TTL attribute).
TTL_ATTRIBUTE = "purge_at"
#: The table's global secondary index by model package (hash key PACKAGE_KEY, the status
#: projected): how a decision taken in the SageMaker model registry finds its approval.
PACKAGE_INDEX = "by-model-package"
PACKAGE_KEY = "model_package_arn"
#: What the index projects besides the keys.
PACKAGE_INDEX_ATTRIBUTES = ("status", "execution_arn")


class PendingApproval(NamedTuple):
    """A PENDING approval as the package index finds it."""

    approval_id: str
    execution_arn: str


_TEXT_FIELDS = (
    "status",
    "execution_arn",
    "pipeline_execution_arn",
    "model_package_arn",
    "approvers",
    "trigger",
    "created_at",
    "decided_by",
    "decided_at",
    "comment",
    "decided_via",
    "callback",
    "callback_error",
)
_JSON_FIELDS = ("metrics", "quality_gate")
_NUMBER_FIELDS = ("expires_at",)
#: Optional: the comparison with the champion (S, JSON) and the pictures (B, compressed).
COMPARISON = "comparison"
PICTURES = "pictures"
#: Everything a reader may see: the item minus the token.
_VISIBLE = (KEY, *_TEXT_FIELDS, *_JSON_FIELDS, *_NUMBER_FIELDS, COMPARISON, PICTURES)
_PROJECTION = ", ".join(f"#{name}" for name in _VISIBLE)
_PROJECTION_NAMES = {f"#{name}": name for name in _VISIBLE}
_PENDING_CONDITION = "#status = :pending"


class ApprovalStore:
    """Reads and conditional writes of approvals through a low-level DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str, retention_days: int = 30):
        self._db = dynamodb
        self._table = table
        self._retention_seconds = retention_days * 24 * 3600

    def put_pending(self, approval: Approval, task_token: str) -> None:
        """Store a new PENDING approval with its token; never overwrites an existing id."""
        item = _to_item(approval)
        item[TOKEN] = {"S": task_token}
        item[TTL_ATTRIBUTE] = {"N": str(approval.expires_at + self._retention_seconds)}
        self._db.put_item(
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
        )

    def get(self, approval_id: str) -> Approval:
        """The approval (without its token); ApprovalNotFound if there is none."""
        response = self._db.get_item(
            TableName=self._table,
            Key=_key(approval_id),
            ConsistentRead=True,
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_PROJECTION_NAMES,
        )
        if "Item" not in response:
            raise ApprovalNotFound(approval_id)
        return _from_item(response["Item"])

    def pending_for_package(self, model_package_arn: str) -> list[PendingApproval]:
        """The PENDING approvals of a model package, read from PACKAGE_INDEX.

        A global secondary index is eventually consistent: an approval opened a moment ago may
        be missing. The registry decides a package long after its approval was opened, and
        `decide`'s conditional write is what guarantees a single decision.
        """
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PACKAGE_INDEX,
            "KeyConditionExpression": "#package = :package",
            "FilterExpression": _PENDING_CONDITION,
            "ProjectionExpression": "#key, #execution",
            "ExpressionAttributeNames": {
                "#package": PACKAGE_KEY,
                "#status": "status",
                "#key": KEY,
                "#execution": "execution_arn",
            },
            "ExpressionAttributeValues": {
                ":package": {"S": model_package_arn},
                ":pending": {"S": PENDING},
            },
        }
        found: list[PendingApproval] = []
        while True:
            page = self._db.query(**query)
            found += [
                PendingApproval(item[KEY]["S"], item.get("execution_arn", {}).get("S", ""))
                for item in page.get("Items", [])
            ]
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def decide(
        self,
        approval_id: str,
        status: str,
        decided_by: str,
        comment: str,
        via: str,
        now: float | None = None,
    ) -> tuple[Approval, str]:
        """Move PENDING to `status` if still open; return the decided approval and its token.

        The same write removes the token from the item: only the winner ever sees it again.
        Raises ApprovalNotFound, or ApprovalClosed carrying the approval as it stands (already
        decided, or expired) - in which case nothing was written.
        """
        now = time.time() if now is None else now
        decided: dict[str, Any] = {
            "status": status,
            "decided_by": decided_by,
            "decided_at": iso_time(now),
            "comment": comment,
            "decided_via": via,
        }
        values = {f":{name}": {"S": value} for name, value in decided.items()}
        values[":pending"] = {"S": PENDING}
        values[":now"] = {"N": str(int(now))}
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=_key(approval_id),
                UpdateExpression="SET "
                + ", ".join(f"#{name} = :{name}" for name in decided)
                + " REMOVE #token",
                ConditionExpression=f"{_PENDING_CONDITION} AND expires_at > :now",
                ExpressionAttributeNames={
                    **{f"#{name}": name for name in decided},
                    "#token": TOKEN,
                },
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = getattr(exc, "response", {}).get("Item")
            if not old:
                raise ApprovalNotFound(approval_id) from None
            raise ApprovalClosed(_from_item(old)) from None
        old = response["Attributes"]
        return dataclasses.replace(_from_item(old), **decided), old[TOKEN]["S"]

    def record_callback_failure(self, approval: Approval, error: str) -> Approval:
        """Note on the item that Step Functions refused the decision (e.g. TaskTimedOut)."""
        self._db.update_item(
            TableName=self._table,
            Key=_key(approval.approval_id),
            UpdateExpression="SET #callback = :failed, callback_error = :error",
            ExpressionAttributeNames={"#callback": "callback"},
            ExpressionAttributeValues={":failed": {"S": CALLBACK_FAILED}, ":error": {"S": error}},
        )
        return dataclasses.replace(approval, callback=CALLBACK_FAILED, callback_error=error)

    def abandon(self, approval_id: str) -> None:
        """Close a PENDING approval nobody was told about, dropping its token."""
        self._db.update_item(
            TableName=self._table,
            Key=_key(approval_id),
            UpdateExpression="SET #status = :undelivered REMOVE #token",
            ConditionExpression=_PENDING_CONDITION,
            ExpressionAttributeNames={"#status": "status", "#token": TOKEN},
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":undelivered": {"S": UNDELIVERED},
            },
        )


def _key(approval_id: str) -> dict[str, Any]:
    return {KEY: {"S": approval_id}}


def _to_item(approval: Approval) -> dict[str, Any]:
    item: dict[str, Any] = {KEY: {"S": approval.approval_id}}
    for name in _TEXT_FIELDS:
        value = getattr(approval, name)
        if value:
            item[name] = {"S": value}
    item["metrics"] = {"S": json.dumps(approval.metrics, separators=(",", ":"))}
    gate = approval.quality_gate
    item["quality_gate"] = {
        "S": json.dumps(
            {"metric": gate.metric, "threshold": gate.threshold, "comparison": gate.comparison}
        )
    }
    item["expires_at"] = {"N": str(approval.expires_at)}
    if approval.comparison is not None:
        item[COMPARISON] = {"S": json.dumps(approval.comparison, separators=(",", ":"))}
    if approval.pictures:
        item[PICTURES] = {"B": review_files.pack(approval.pictures)}
    return item


def _from_item(item: dict[str, Any]) -> Approval:
    text = {name: item[name]["S"] for name in _TEXT_FIELDS if name in item}
    return Approval(
        approval_id=item[KEY]["S"],
        metrics=json.loads(item["metrics"]["S"]),
        quality_gate=QualityGate(**json.loads(item["quality_gate"]["S"])),
        expires_at=int(item["expires_at"]["N"]),
        comparison=json.loads(item[COMPARISON]["S"]) if COMPARISON in item else None,
        pictures=review_files.unpack(item[PICTURES]["B"]) if PICTURES in item else {},
        **text,
    )
