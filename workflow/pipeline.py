"""Start the SageMaker Pipeline and wait for it: there is no `.sync` for Pipelines.

StartPipeline -> WaitForPipeline (PollSeconds) -> DescribePipelineExecution -> PipelineStatus:
Succeeded exits; Failed/Stopped fail with the pipeline's FailureReason as the cause (the
quality gate's Fail step puts the metric and the threshold there); anything else waits again.
"""

from __future__ import annotations

from core.contracts import START_PIPELINE_STATE
from workflow import errors
from workflow.notifications import Failures
from workflow.sdk import Choice, ChoiceRule, Wait
from workflow.segment import Segment, exit_on
from workflow.substitutions import PIPELINE_NAME, ref
from workflow.tasks import sagemaker

#: {"PipelineExecutionArn"} of this run's pipeline execution.
PIPELINE = "$.pipeline"
PIPELINE_EXECUTION_ARN = f"{PIPELINE}.PipelineExecutionArn"
#: The latest DescribePipelineExecution response.
POLL = "$.poll"


def run_pipeline(failures: Failures) -> Segment:
    """Start one pipeline execution (idempotently) and poll it until it ends."""
    start = failures.guard(
        sagemaker(
            START_PIPELINE_STATE,
            "startPipelineExecution",
            parameters={
                "PipelineName": ref(PIPELINE_NAME),
                "PipelineParameters.$": "$.config.PipelineParameters",
                # The same token on every retry, so SageMaker returns the first execution.
                "ClientRequestToken.$": "$.names.ClientRequestToken",
                # core.contracts.pipeline_description: the same text, for an early start.
                "PipelineExecutionDescription.$": (
                    "States.Format('Started by Step Functions execution {}', $$.Execution.Id)"
                ),
            },
            result_selector={"PipelineExecutionArn.$": "$.PipelineExecutionArn"},
            result_path=PIPELINE,
        )
    )
    wait = Wait("WaitForPipeline", seconds_path="$.config.PollSeconds")
    # No ResultSelector: FailureReason exists only after a failure, and a selector naming a
    # missing field raises States.Runtime, which no Catch sees. A Choice tests it instead.
    describe = failures.guard(
        sagemaker(
            "DescribePipelineExecution",
            "describePipelineExecution",
            parameters={"PipelineExecutionArn.$": PIPELINE_EXECUTION_ARN},
            result_path=POLL,
        )
    )
    status = f"{POLL}.PipelineExecutionStatus"
    ended = ChoiceRule.Or(
        [ChoiceRule.StringEquals(status, "Failed"), ChoiceRule.StringEquals(status, "Stopped")]
    )
    check = Choice("PipelineStatus")
    check.add_choice(
        ChoiceRule.And([ended, ChoiceRule.IsPresent(f"{POLL}.FailureReason", True)]),
        failures.failure(
            "PipelineFailed", errors.PIPELINE_FAILED, cause_from=f"{POLL}.FailureReason"
        ),
    )
    check.add_choice(
        ended,
        failures.failure(
            "PipelineEnded",
            errors.PIPELINE_FAILED,
            cause_from=(
                "States.Format('Pipeline execution {} is {} and gave no reason', "
                f"{PIPELINE_EXECUTION_ARN}, {status})"
            ),
        ),
    )
    check.default_choice(wait)
    start.next(wait)
    wait.next(describe)
    describe.next(check)
    return Segment(start, exit_on(check, ChoiceRule.StringEquals(status, "Succeeded")))
