"""A real state machine waits on the approval function's task token; reviewers resume it.

The state machine's single Task is `lambda:invoke.waitForTaskToken` on a Lambda whose
Handler is approval.handler.lambda_handler (run in-process by the local AWS's Lambda seam).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import approval.aws


def task_token(stack, execution_arn: str) -> str:
    """The token Step Functions issued, as recorded in the execution's history."""
    history = stack.aws.client("stepfunctions").get_execution_history(executionArn=execution_arn)[
        "events"
    ]
    (scheduled,) = [e for e in history if e["type"] == "TaskScheduled"]
    return json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["taskToken"]


def test_approve_resumes_the_execution_with_the_decision(approval_stack, caplog):
    caplog.set_level(logging.DEBUG, logger="approval")
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"approve-{approval_stack.suffix}"
    )
    token = task_token(approval_stack, execution_arn)
    assert approval_stack.item(approval_id)["task_token"]["S"] == token
    reply = approval_stack.decide(approval_id, expires_at, decided_by="Ana <ana@example.com>")
    assert token not in reply.text and token not in caplog.text

    assert reply.status == 200, reply.text
    assert "Approved by Ana &lt;ana@example.com&gt;" in reply.text
    assert "workflow has received the decision" in reply.text
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    item = approval_stack.item(approval_id)
    assert output == {
        "decision": "approved",
        "decided_by": "Ana <ana@example.com>",
        "comment": "looks good",
        "decided_at": item["decided_at"]["S"],
    }
    assert item["status"]["S"] == "APPROVED" and item["decided_via"]["S"] == "web"
    assert "callback_error" not in item  # only a refused callback is recorded
    assert "task_token" not in item  # removed by the winning write: no longer kept
    assert [name for name, _ in approval_stack.callbacks] == ["send_task_success"]


def test_reject_fails_the_execution_with_error_rejected(approval_stack):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"reject-{approval_stack.suffix}"
    )
    # moto 5.2 drops SendTaskFailure's cause on receipt, so read it off the wire instead.
    sent: list[dict] = []
    events = approval.aws.client("stepfunctions").meta.events
    event_name = "provide-client-params.sfn.SendTaskFailure"

    def record(params: dict, **_: object) -> None:
        sent.append(dict(params))

    events.register(event_name, record)
    try:
        reply = approval_stack.decide(
            approval_id, expires_at, action="reject", decided_by="bo", comment="mae too high"
        )
    finally:
        events.unregister(event_name, record)

    assert reply.status == 200, reply.text
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Rejected"
    (request,) = sent
    assert request["error"] == "Rejected"
    cause = json.loads(execution.get("cause") or request["cause"])
    assert cause["decision"] == "rejected" and cause["decided_by"] == "bo"
    assert cause["comment"] == "mae too high" and cause["decided_at"].endswith("Z")
    assert approval_stack.item(approval_id)["status"]["S"] == "REJECTED"
    assert [name for name, _ in approval_stack.callbacks] == ["send_task_failure"]


def test_second_decision_is_refused_with_who_and_when(approval_stack):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"twice-{approval_stack.suffix}"
    )
    assert approval_stack.decide(approval_id, expires_at, decided_by="ana").status == 200
    decided = approval_stack.item(approval_id)

    again = approval_stack.decide(approval_id, expires_at, action="reject", decided_by="bo")

    assert again.status == 409
    assert f"approved by ana at {decided['decided_at']['S']}" in again.text
    assert "your decision was not recorded" in again.text
    assert approval_stack.item(approval_id) == decided
    assert len(approval_stack.callbacks) == 1
    assert approval_stack.wait_for_execution(execution_arn)["status"] == "SUCCEEDED"

    review = approval_stack.http(
        "GET", "/review", query=approval_stack.review_query(approval_id, expires_at)
    )
    assert review.status == 200
    assert f"Approved by ana at {decided['decided_at']['S']}" in review.text
    assert "<form" not in review.text
    assert approval_stack.item(approval_id) == decided


def test_fifty_concurrent_decisions_one_winner_one_callback(approval_stack):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"race-{approval_stack.suffix}"
    )

    def click(i: int) -> int:
        action = "approve" if i % 2 else "reject"
        return approval_stack.decide(
            approval_id, expires_at, action=action, decided_by=f"reviewer-{i}"
        ).status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(click, range(50)))

    assert sorted(statuses) == [200] + [409] * 49
    assert len(approval_stack.callbacks) == 1
    item = approval_stack.item(approval_id)
    winner = item["decided_by"]["S"]
    assert item["status"]["S"] == ("APPROVED" if int(winner.split("-")[1]) % 2 else "REJECTED")
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] in {"SUCCEEDED", "FAILED"}


def test_a_decision_after_the_task_timed_out_is_recorded_as_not_delivered(approval_stack):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"late-{approval_stack.suffix}", task_timeout=1
    )
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] == "FAILED" and execution["error"] == "States.Timeout"

    reply = approval_stack.decide(approval_id, expires_at)

    assert reply.status == 502
    assert "could not be resumed" in reply.text
    item = approval_stack.item(approval_id)
    assert item["status"]["S"] == "APPROVED"
    assert item["callback"]["S"] == "failed"
    assert item["callback_error"]["S"] in {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}


def test_the_execution_history_holds_the_approval_id_never_the_link_or_token(approval_stack):
    """Read-only roles see the history: a link there would let them open the page and decide."""
    execution_arn, approval_id, _ = approval_stack.start_workflow(f"result-{approval_stack.suffix}")
    history = approval_stack.aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn
    )["events"]
    (submitted,) = [e for e in history if e["type"] == "TaskSubmitted"]
    payload = json.loads(submitted["taskSubmittedEventDetails"]["output"])["Payload"]
    assert payload["approvalId"] == approval_id
    assert set(payload) == {"approvalId", "expiresAt", "notified"}
    everything = json.dumps(history, default=str)
    assert approval_stack.url not in everything
    assert "/review" not in everything and "sig=" not in everything
    # (The token is in TaskScheduled's parameters, as on AWS; using it needs an IAM grant.)
    assert task_token(approval_stack, execution_arn) not in json.dumps(payload)
