"""The human decision: ask the approval Lambda, wait for its callback, record the outcome.

HumanApproval invokes the approval function with `lambda:invoke.waitForTaskToken` and waits
up to ApprovalTimeoutSeconds. The function resumes the execution with SendTaskSuccess
({"decision": "approved", "decided_by", "comment", "decided_at"}) or SendTaskFailure
(error "Rejected", cause: the same record as JSON), whether the reviewer decided on the review
page, in Slack or in the SageMaker model registry (approval/registry.py). A rejection or a
timeout marks the package Rejected and ends the execution successfully: "no" is a valid
outcome, not an error.

A timeout never overwrites a decision a person took. A person may have approved or rejected
the package in the model registry without the wait ending (the registry's event did not reach
the function), so the timeout path first reads the package (DescribeModelPackage): Approved
continues as an approval (deploys) and Rejected as a rejection, each by its LastModifiedBy
(the Studio user profile's name, else the IAM identity's ARN, else "model registry") with its
ApprovalDescription as the comment, decided_at when the run read it, and neither updates the
package again; only a package still PendingManualApproval is set Rejected with the timeout's
reason.
"""

from __future__ import annotations

from core import contracts
from workflow import errors
from workflow.notifications import Failures, publish
from workflow.package import METRICS, MODEL_PACKAGE_ARN, REVIEW_FILES
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Catch, Choice, ChoiceRule, Pass, State, Succeed
from workflow.segment import Segment, exit_on, exits
from workflow.substitutions import APPROVAL_FUNCTION_ARN, ref
from workflow.tasks import LAMBDA_INVOKE_WAIT_FOR_TOKEN, ApiTask, sagemaker

#: The reviewer's record {"decision", "decided_by", "comment", "decided_at"} (+ "reason"
#: when rejected or timed out).
DECISION = "$.decision"
#: The execution's output, also the body of the final notification.
RESULT = "$.result"
#: On the timeout path: {"Package": DescribeModelPackage of the package, with ApprovalDescription
#: and LastModifiedBy defaulted, "DecidedBy": {"Name"} once a registry decision is found}.
REGISTRY = "$.registry"
REGISTRY_STATUS = f"{REGISTRY}.Package.ModelApprovalStatus"
#: Who decided in the registry when SageMaker does not say (the approval function's too).
REGISTRY_DECIDER = "model registry"
#: ModelApprovalStatus values that are a person's decision.
APPROVED_STATUS = "Approved"
REJECTED_STATUS = "Rejected"


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
                "reviewFiles.$": REVIEW_FILES,
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
    approved = Choice("IsApproved")
    read_registry, registry_approval, registry_rejection = _registry_decision(
        failures, undecided=describe_timeout
    )
    ask.add_catch(
        Catch(error_equals=[errors.TIMEOUT], next_step=read_registry, result_path=DECISION)
    )
    failures.guard(ask)
    read_rejection.next(describe_rejection)
    for described in (
        describe_rejection,
        describe_bare_rejection,
        describe_timeout,
        registry_rejection,
    ):
        described.next(rejected.entry)
    registry_approval.next(approved)

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


def _registry_decision(failures: Failures, undecided: State) -> tuple[State, State, State]:
    """After a timeout: the package's approval status in the model registry decides.

    Returns the entry (DescribeModelPackage), and the two states that describe a decision
    found there, approved and rejected, for the caller to route on; a package nobody decided
    goes to `undecided`.
    """
    read = failures.guard(
        sagemaker(
            "ReadRegistryDecision",
            "describeModelPackage",
            parameters={"ModelPackageName.$": MODEL_PACKAGE_ARN},
            # DescribeModelPackage may leave these out (SageMaker API reference: none is
            # required); each gets a default below, so the Choices read no missing path.
            result_selector={
                "Defaults": {
                    "ModelApprovalStatus": "",
                    "ApprovalDescription": "",
                    "LastModifiedBy": {},
                },
                "Described.$": "$",
            },
            result_path=REGISTRY,
        )
    )
    merge = Pass(
        "DefaultRegistryDecision",
        parameters={
            "Package.$": f"States.JsonMerge({REGISTRY}.Defaults, {REGISTRY}.Described, false)"
        },
        result_path=REGISTRY,
    )
    read.next(merge)
    package = f"{REGISTRY}.Package"
    by = f"{package}.LastModifiedBy"
    decided = ChoiceRule.Or(
        [
            ChoiceRule.StringEquals(REGISTRY_STATUS, APPROVED_STATUS),
            ChoiceRule.StringEquals(REGISTRY_STATUS, REJECTED_STATUS),
        ]
    )
    who = Choice("DecidedInRegistry")
    which = Choice("ApprovedInRegistry")
    for state_id, name, rule in (
        (
            "DecidedByUserProfile",
            {"Name.$": f"{by}.UserProfileName"},
            ChoiceRule.IsPresent(f"{by}.UserProfileName", True),
        ),
        (
            "DecidedByIamIdentity",
            {"Name.$": f"{by}.IamIdentity.Arn"},
            ChoiceRule.IsPresent(f"{by}.IamIdentity.Arn", True),
        ),
        ("DecidedByUnknown", {"Name": REGISTRY_DECIDER}, None),
    ):
        named = Pass(state_id, parameters=name, result_path=f"{REGISTRY}.DecidedBy")
        who.add_choice(ChoiceRule.And([decided, rule]) if rule else decided, named)
        named.next(which)
    who.default_choice(undecided)
    merge.next(who)

    # decided_at: when the run read the decision. (The package's LastModifiedTime is a
    # timestamp the aws-sdk integration gives as text on AWS but moto's interpreter keeps as
    # an object its outputs cannot hold.)
    record = {
        "decided_by.$": f"{REGISTRY}.DecidedBy.Name",
        "decided_at.$": "$$.State.EnteredTime",
        "comment.$": f"{package}.ApprovalDescription",
    }
    approval = Pass(
        "DescribeRegistryApproval",
        parameters={"decision": "approved", **record},
        result_path=DECISION,
    )
    rejection = Pass(
        "DescribeRegistryRejection",
        parameters={
            "decision": "rejected",
            **record,
            "reason.$": (
                "States.Format('Rejected in the model registry by {}: {}', "
                f"{REGISTRY}.DecidedBy.Name, {package}.ApprovalDescription)"
            ),
        },
        result_path=DECISION,
    )
    which.add_choice(ChoiceRule.StringEquals(REGISTRY_STATUS, APPROVED_STATUS), approval)
    which.default_choice(rejection)
    return read, approval, rejection


def _read_in_registry(name: str, check: Choice, otherwise: State) -> Choice:
    """Whether the timeout path read the package (so `check` may compare its status).

    A Choice of its own, before `check`: a rule that reads a missing path is an error on AWS
    (States.Runtime), and moto's interpreter evaluates every operand of an And, so an
    IsPresent guard inside the same rule would not keep the comparison from reading it.
    """
    read = Choice(name)
    read.add_choice(ChoiceRule.IsPresent(REGISTRY_STATUS, True), check)
    read.default_choice(otherwise)
    return read


def approve_model(failures: Failures) -> Segment:
    """Mark the package Approved, saying who approved it, when and why; a package a person
    already approved in the model registry keeps their record."""
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
    check = Choice("IsApprovedInRegistry")
    check.default_choice(update)
    read = _read_in_registry("RegistryReadBeforeApproval", check, update)
    approved = ChoiceRule.StringEquals(REGISTRY_STATUS, APPROVED_STATUS)
    return Segment(read, exits(exit_on(check, approved), update.next))


def reject_model(failures: Failures, subject: str) -> Segment:
    """Mark the package Rejected with the reason (unless a person rejected it in the model
    registry), notify, succeed with decision "rejected"."""
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
    check = Choice("IsRejectedInRegistry")
    check.add_choice(ChoiceRule.StringEquals(REGISTRY_STATUS, REJECTED_STATUS), result)
    check.default_choice(update)
    Segment.ending(update, result, notify, done)
    return Segment(_read_in_registry("RegistryReadBeforeRejection", check, update), None)
