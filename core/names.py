"""Names of the deployed resources that Settings does not hold, each derived from Settings.

One place, so the template, the CI template, the CLI and the tests can never disagree.
"""

from __future__ import annotations

from core.settings import Settings


def stack_name(settings: Settings) -> str:
    """The default CloudFormation stack of the workflow (CodeBuild's STACK_NAME)."""
    return f"{settings.project}-mlops"


def schedule_name(settings: Settings) -> str:
    return f"{settings.state_machine_name}-schedule"


def schedule_dlq_name(settings: Settings) -> str:
    return f"{settings.state_machine_name}-schedule-dlq"


def signing_secret_name(settings: Settings) -> str:
    return f"{settings.project}/approval-link-signing-key"


def function_log_group(settings: Settings) -> str:
    return f"/aws/lambda/{settings.approval_function_name}"


def ci_project_name(settings: Settings) -> str:
    return f"{settings.project}-mlops-ci"


def ci_log_group(settings: Settings) -> str:
    return f"/aws/codebuild/{ci_project_name(settings)}"


def endpoint_prefix(settings: Settings) -> str:
    """Models and endpoint configs the workflow creates are named `<endpoint>-...`."""
    return settings.endpoint_name


def smoke_test_function_name(settings: Settings) -> str:
    return f"{settings.project}-smoke-test"


def smoke_test_log_group(settings: Settings) -> str:
    return f"/aws/lambda/{smoke_test_function_name(settings)}"


#: The endpoint's CloudWatch alarms that roll a deployment back: "<endpoint><suffix>". The
#: state machine names them from its ${EndpointName} placeholder, the template creates them.
ERRORS_ALARM_SUFFIX = "-invocation-5xx-errors"
LATENCY_ALARM_SUFFIX = "-model-latency"


def rollback_alarm_names(settings: Settings) -> tuple[str, str]:
    """The invocation-error and model-latency alarms, in that order."""
    return (
        f"{settings.endpoint_name}{ERRORS_ALARM_SUFFIX}",
        f"{settings.endpoint_name}{LATENCY_ALARM_SUFFIX}",
    )


#: Where new training data lands: an upload under this prefix starts a run (the template's
#: new-data rule); the pipeline's default input lives here too.
INPUT_FOLDER = "input"


def input_prefix(settings: Settings) -> str:
    """The S3 key prefix of new training data, with its trailing slash."""
    return settings.prefix(INPUT_FOLDER) + "/"


def new_data_rule_name(settings: Settings) -> str:
    return f"{settings.state_machine_name}-new-data"


#: The endpoint's data-quality monitoring schedule is "<endpoint><suffix>"; the state machine
#: names it from its ${EndpointName} placeholder.
MONITORING_SCHEDULE_SUFFIX = "-data-quality"


def monitoring_schedule_name(settings: Settings) -> str:
    """The endpoint's data-quality monitoring schedule (the workflow creates or updates it)."""
    return f"{settings.endpoint_name}{MONITORING_SCHEDULE_SUFFIX}"


def drift_alarm_name(settings: Settings) -> str:
    return f"{settings.endpoint_name}-data-drift"


def drift_rule_name(settings: Settings) -> str:
    return f"{settings.state_machine_name}-drift"


def registry_rule_name(settings: Settings) -> str:
    """The rule that sends the model registry's decisions to the approval function."""
    return f"{settings.state_machine_name}-registry-decisions"


#: Under the pipeline's folder: where monitoring executions write their reports.
MONITORING_FOLDER = "monitoring"
