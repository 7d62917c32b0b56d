"""The human decision: ask the approval Lambda, wait for its callback, record the outcome.

HumanApproval invokes the approval function with `lambda:invoke.waitForTaskToken` and waits
up to ApprovalTimeoutSeconds. The function resumes the execution with SendTaskSuccess
({"decision": "approved", "decided_by", "comment", "decided_at"}) or SendTaskFailure
(error "Rejected", cause: the same record as JSON). A rejection or a timeout marks the
package Rejected and ends the execution successfully: "no" is a valid outcome, not an error.
"""

from __future__ import annotations

from core import contracts
from workflow import errors
from workflow.notifications import Failures, publish
from workflow.package import METRICS, MODEL_PACKAGE_ARN
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Catch, Choice, ChoiceRule, Pass, Succeed
from workflow.segment import Segment, exit_on
from workflow.substitutions import APPROVAL_FUNCTION_ARN, ref
from workflow.tasks import LAMBDA_INVOKE_WAIT_FOR_TOKEN, ApiTask, sagemaker

#: The reviewer's record {"decision", "decided_by", "comment", "decided_at"} (+ "reason"
#: when rejected or timed out).
DECISION = "$.decision"
#: The execution's output, also the body of the final notification.
RESULT = "$.result"


def request_approval(failures: Failures, rejected: Segment) -> Segment:
    """HumanApproval and the routing of its three outcomes; exits when approved."""
    ask = ApiTask(
        contracts.APPROVAL_STATE,
        resource=LAMBDA_INVOKE_WAIT_FOR_TOKEN,
        parameters={
            "FunctionName": ref(APPROVAL_FUNCTION_ARN),
            "Payload": {
                f"{contracts.TASK_TOKEN}.$": "$$.Task.Token",
                "executionArn.$": "$$.Execution.Id",
                "pipelineExecutionArn.$": PIPELINE_EXECUTION_ARN,
                "modelPackageArn.$": MODEL_PACKAGE_ARN,
                "metrics.$": METRICS,
                "qualityGate.$": "$.config.QualityGate",
                "timeoutSeconds.$": "$.config.ApprovalTimeoutSeconds",
                "trigger.$": "$.config.Trigger",
            },
        },
        timeout_seconds_path="$.config.ApprovalTimeoutSeconds",
        result_path=DECISION,
    )
    read_rejection = Pass(
        "ReadRejection",
        parameters={"Record.$": f"States.StringToJson({DECISION}.Cause)"},
        result_path=DECISION,
    )
    record = f"{DECISION}.Record"
    describe_rejection = Pass(
        "DescribeRejection",
        parameters={
            "decision": "rejected",
            "decided_by.$": f"{record}.decided_by",
            "decided_at.$": f"{record}.decided_at",
            "comment.$": f"{record}.comment",
            "reason.$": (
                f"States.Format('Rejected by {{}} at {{}}: {{}}', {record}.decided_by, "
                f"{record}.decided_at, {record}.comment)"
            ),
        },
        result_path=DECISION,
    )
    describe_timeout = Pass(
        "DescribeTimeout",
        parameters={
            "decision": "rejected",
            "decided_by": None,
            "decided_at.$": "$$.State.EnteredTime",
            "comment": None,
            "reason.$": (
                "States.Format('No decision within {} seconds', $.config.ApprovalTimeoutSeconds)"
            ),
        },
        result_path=DECISION,
    )
    # A rejection without a JSON record as its cause (any other caller of SendTaskFailure)
    # is still a rejection; reading a record that is not there would be a States.Runtime.
    describe_bare_rejection = Pass(
        "DescribeRejectionWithoutRecord",
        parameters={
            "decision": "rejected",
            "decided_by": None,
            "decided_at.$": "$$.State.EnteredTime",
            "comment": None,
            "reason": "Rejected; the callback gave no reviewer, time or comment",
        },
        result_path=DECISION,
    )
    cause = f"{DECISION}.Cause"
    has_record = Choice("HasRejectionRecord")
    has_record.add_choice(
        ChoiceRule.And([ChoiceRule.IsPresent(cause, True), ChoiceRule.IsString(cause, True)]),
        read_rejection,
    )
    has_record.default_choice(describe_bare_rejection)
    ask.add_catch(Catch(error_equals=[errors.REJECTED], next_step=has_record, result_path=DECISION))
    ask.add_catch(
        Catch(error_equals=[errors.TIMEOUT], next_step=describe_timeout, result_path=DECISION)
    )
    failures.guard(ask)
    read_rejection.next(describe_rejection)
    for described in (describe_rejection, describe_bare_rejection, describe_timeout):
        described.next(rejected.entry)

    approved = Choice("IsApproved")
    approved.default_choice(
        failures.failure(
            "UnexpectedDecision",
            errors.UNEXPECTED_DECISION,
            cause_from=(
                "States.Format('The approval callback sent {} instead of an approval', "
                f"States.JsonToString({DECISION}))"
            ),
        )
    )
    ask.next(approved)
    decision = f"{DECISION}.decision"
    return Segment(
        ask,
        exit_on(
            approved,
            ChoiceRule.And(
                [
                    ChoiceRule.IsPresent(decision, True),
                    ChoiceRule.StringEquals(decision, "approved"),
                ]
            ),
        ),
    )


def approve_model(failures: Failures) -> Segment:
    """Mark the package Approved, saying who approved it, when and why."""
    update = failures.guard(
        sagemaker(
            "ApproveModelPackage",
            "updateModelPackage",
            parameters={
                "ModelPackageArn.$": MODEL_PACKAGE_ARN,
                "ModelApprovalStatus": "Approved",
                "ApprovalDescription.$": (
                    f"States.Format('Approved by {{}} at {{}}: {{}}', {DECISION}.decided_by, "
                    f"{DECISION}.decided_at, {DECISION}.comment)"
                ),
            },
            result_path=None,
        )
    )
    return Segment.chain(update)


def reject_model(failures: Failures, subject: str) -> Segment:
    """Mark the package Rejected with the reason, notify, succeed with decision "rejected"."""
    update = failures.guard(
        sagemaker(
            "RejectModelPackage",
            "updateModelPackage",
            parameters={
                "ModelPackageArn.$": MODEL_PACKAGE_ARN,
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription.$": f"{DECISION}.reason",
            },
            result_path=None,
        )
    )
    result = Pass(
        "RejectionResult",
        parameters={
            "decision": "rejected",
            "decided_by.$": f"{DECISION}.decided_by",
            "decided_at.$": f"{DECISION}.decided_at",
            "comment.$": f"{DECISION}.comment",
            "reason.$": f"{DECISION}.reason",
            "trigger.$": "$.config.Trigger",
            "modelPackageArn.$": MODEL_PACKAGE_ARN,
            "pipelineExecutionArn.$": PIPELINE_EXECUTION_ARN,
            "executionArn.$": "$$.Execution.Id",
        },
        result_path=RESULT,
    )
    notify = failures.guard(publish("NotifyRejected", subject, RESULT, output_path=RESULT))
    done = Succeed("ModelRejected")
    return Segment.ending(update, result, notify, done)
