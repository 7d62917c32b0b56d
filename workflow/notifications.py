"""Failure notifications and run notifications (SNS), and the one failure path every error takes.

Every API task catches States.ALL into a small Pass named "<Task>Error" that records which
state failed; a Choice copes with a caught error that has no Cause; then one SNS publish
(Subject, and a JSON message with execution, state, error and cause); then one Fail state
that repeats the original error and cause, so the execution's own error and cause say
what went wrong without opening the history.
"""

from __future__ import annotations

from typing import Any

from workflow import errors
from workflow.sdk import Catch, Choice, ChoiceRule, Pass, State, Task
from workflow.substitutions import NOTIFICATION_TOPIC_ARN, ref
from workflow.tasks import SNS_PUBLISH, ApiTask, FailFromPaths

#: Where a failure is recorded in the state data: {"State", "Error", "Cause"}.
FAILURE = "$.failure"


def publish(
    state_id: str, subject: str, message: dict[str, Any] | str, output_path: str | None = None
) -> ApiTask:
    """An SNS publish to the notification topic; `message` is an object or a "$.path".

    The sns:publish integration serialises an object message to JSON. `output_path` narrows
    what the next state receives (a final Succeed cannot carry one: cfn-lint rejects it).
    """
    extra: dict[str, Any] = {"output_path": output_path} if output_path else {}
    body = {"Message.$": message} if isinstance(message, str) else {"Message": message}
    return ApiTask(
        state_id,
        resource=SNS_PUBLISH,
        parameters={"TopicArn": ref(NOTIFICATION_TOPIC_ARN), "Subject": subject, **body},
        result_path=None,
        **extra,
    )


class Failures:
    """Builds the shared failure path and routes errors and explicit failures into it."""

    def __init__(self, subject: str) -> None:
        self.fail = FailFromPaths(
            "Failed", error_path=f"{FAILURE}.Error", cause_path=f"{FAILURE}.Cause"
        )
        self.notify = publish(
            "NotifyFailure",
            subject,
            {
                "execution.$": "$$.Execution.Id",
                "trigger.$": "$.config.Trigger",
                "state.$": f"{FAILURE}.State",
                "error.$": f"{FAILURE}.Error",
                "cause.$": f"{FAILURE}.Cause",
            },
        )
        self.notify.next(self.fail)
        # A notification that cannot be sent must not hide the original failure.
        self.notify.add_catch(
            Catch(error_equals=[errors.ALL], next_step=self.fail, result_path="$.notifyError")
        )
        # A caught error's Cause may be missing or null; reading it then would be a
        # States.Runtime error that ends the execution without the notification.
        cause = f"{FAILURE}.Caught.Cause"
        self.caught = Choice("CaughtErrorHasCause")
        keep = Pass(
            "KeepCaughtCause", parameters=self._record(cause_from=cause), result_path=FAILURE
        )
        without = Pass(
            "NoCaughtCause",
            parameters=self._record(cause="No cause was reported"),
            result_path=FAILURE,
        )
        self.caught.add_choice(
            ChoiceRule.And([ChoiceRule.IsPresent(cause, True), ChoiceRule.IsString(cause, True)]),
            keep,
        )
        self.caught.default_choice(without)
        keep.next(self.notify)
        without.next(self.notify)

    @staticmethod
    def _record(*, cause: str | None = None, cause_from: str | None = None) -> dict[str, str]:
        return {
            "State.$": f"{FAILURE}.State",
            "Error.$": f"{FAILURE}.Error",
            **_cause(cause, cause_from),
        }

    def guard(self, task: Task) -> Task:
        """Send any error of `task` (after its retries) down the failure path."""
        record = Pass(
            f"{task.state_id}Error",
            parameters={"State": task.state_id, "Error.$": f"{FAILURE}.Error", "Caught.$": FAILURE},
            result_path=FAILURE,
        )
        record.next(self.caught)
        task.add_catch(Catch(error_equals=[errors.ALL], next_step=record, result_path=FAILURE))
        return task

    def failure(
        self, state_id: str, error: str, *, cause: str | None = None, cause_from: str | None = None
    ) -> State:
        """A Pass recording an explicit failure: a literal `cause`, or `cause_from` a path or
        an intrinsic function."""
        record = Pass(
            state_id,
            parameters={"State": state_id, "Error": error, **_cause(cause, cause_from)},
            result_path=FAILURE,
        )
        record.next(self.notify)
        return record


def _cause(cause: str | None, cause_from: str | None) -> dict[str, str]:
    if cause is not None and cause_from is None:
        return {"Cause": cause}
    if cause_from is not None and cause is None:
        return {"Cause.$": cause_from}
    raise ValueError("give exactly one of cause and cause_from")
