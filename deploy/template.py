"""The workflow's CloudFormation template, generated from Python and Settings.

One stack holds everything a run needs besides the SageMaker Pipeline (which CodeBuild
upserts): the state machine, the approval Lambda with its public Function URL, the approvals
table, the notification topic, the link-signing secret and the schedule.

The Function URL and the function's environment: the URL exists only once the function does,
so the function cannot receive its own URL through `Fn::GetAtt` (a circular dependency).
`APPROVAL_BASE_URL` therefore comes from the `ApprovalBaseUrl` parameter, which `mlops deploy`
fills with the stack's own `ReviewUrlBase` output (a follow-up update on the very first
deployment, the same value ever after) unless an operator set a base of their own, such as
a custom domain in front of the URL. The handler needs nothing beyond the variable.

The output is deterministic (no timestamps, stable key order), so an unchanged project
produces an unchanged template and CloudFormation reports "no changes".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from approval import registry
from approval.store import KEY as APPROVAL_KEY
from approval.store import (
    PACKAGE_INDEX,
    PACKAGE_INDEX_ATTRIBUTES,
    PACKAGE_KEY,
    TTL_ATTRIBUTE,
)
from core import names
from core.contracts import (
    LAMBDA_HANDLER,
    LAMBDA_RUNTIME,
    PIPELINE_PARAMETERS,
    POLL_SECONDS,
    ROLLOUT,
    SAGEMAKER_PROJECT,
    SMOKE_TEST_HANDLER,
    TRIGGER,
    execution_input,
)
from core.settings import Settings
from deploy import iam
from deploy.iam import Json, arn, get_att, ref, sub
from deploy.schedule import DEFAULT_SCHEDULE, DEFAULT_TIMEZONE, validate_schedule_expression

TEMPLATE_FORMAT = "2010-09-09"
LOG_RETENTION_DAYS = 90
#: The schedule may start a run up to this late, letting Scheduler spread load.
SCHEDULE_WINDOW_MINUTES = 60
SCHEDULE_RETRIES = 3
SCHEDULE_MAX_EVENT_AGE_SECONDS = 6 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
SECRET_LENGTH = 64
#: Approval function invocations that may run at once (reserved concurrency). Its URL is
#: public: a flood of requests is throttled (HTTP 429 from the Function URL) at this many
#: rather than taking the account's whole Lambda concurrency. A reviewer's request takes well
#: under a second, so 10 serves many reviewers at once.
DEFAULT_APPROVAL_CONCURRENCY = 10
#: Rollback alarms (RollbackErrorRate, RollbackModelLatencyMicroseconds): 1% of a minute's
#: requests failing, or the model averaging over half a second for two minutes.
DEFAULT_ROLLBACK_ERROR_RATE = 0.01
DEFAULT_ROLLBACK_MODEL_LATENCY_US = 500_000
#: Lambda writes the function's logs as JSON (one object per record; the approval package
#: logs its fields, e.g. reason and approvalId, as keys). Application records from INFO; of
#: Lambda's own platform records only warnings and errors, so a flood of refused requests
#: does not add START/END/REPORT lines. See "Configuring JSON and plain text log formats" and
#: "Log-level filtering" in the Lambda developer guide (monitoring-cloudwatchlogs-logformat,
#: monitoring-cloudwatchlogs-log-level).
FUNCTION_LOG_FORMAT = "JSON"
FUNCTION_APPLICATION_LOG_LEVEL = "INFO"
FUNCTION_SYSTEM_LOG_LEVEL = "WARN"

# Parameters.
SAGEMAKER_ROLE_ARN = "SageMakerRoleArn"
CODE_BUCKET = "CodeBucket"
CODE_KEY = "CodeKey"
SCHEDULE_EXPRESSION = "ScheduleExpression"
SCHEDULE_TIMEZONE = "ScheduleTimezone"
SCHEDULE_STATE = "ScheduleState"
NOTIFICATION_EMAIL = "NotificationEmail"
APPROVERS = "Approvers"
APPROVAL_EMAIL = "ApprovalEmail"
APPROVAL_EMAIL_SENDER = "ApprovalEmailSender"
SLACK_WEBHOOK_SECRET_ARN = "SlackWebhookSecretArn"
SLACK_SIGNING_SECRET_ARN = "SlackSigningSecretArn"
APPROVAL_BASE_URL = "ApprovalBaseUrl"
APPROVAL_CONCURRENCY = "ApprovalReservedConcurrency"
POLL_SECONDS_PARAMETER = "PollSeconds"
ROLLOUT_BAKE_SECONDS = "RolloutBakeSeconds"
#: The SageMaker project the stack belongs to, named as SageMaker's project templates name
#: these parameters; every run the stack starts names it (workflow/project.py tags).
SAGEMAKER_PROJECT_NAME = "SageMakerProjectName"
SAGEMAKER_PROJECT_ID = "SageMakerProjectId"
ROLLBACK_ERROR_RATE = "RollbackErrorRate"
ROLLBACK_MODEL_LATENCY = "RollbackModelLatencyMicroseconds"

# Conditions.
HAS_NOTIFICATION_EMAIL = "HasNotificationEmail"
HAS_APPROVAL_EMAIL = "HasApprovalEmail"
HAS_SLACK_WEBHOOK = "HasSlackWebhook"
HAS_SLACK_SIGNING = "HasSlackSigning"

# Resources.
STATE_MACHINE = "StateMachine"
STATE_MACHINE_ROLE = "StateMachineRole"
FUNCTION = "ApprovalFunction"
FUNCTION_ROLE = "ApprovalFunctionRole"
FUNCTION_LOGS = "ApprovalFunctionLogGroup"
FUNCTION_URL = "ApprovalFunctionUrl"
URL_PERMISSION = "ApprovalFunctionUrlPermission"
URL_INVOKE_PERMISSION = "ApprovalFunctionUrlInvokePermission"
SMOKE_TEST_FUNCTION = "SmokeTestFunction"
SMOKE_TEST_ROLE = "SmokeTestFunctionRole"
SMOKE_TEST_LOGS = "SmokeTestFunctionLogGroup"
ERRORS_ALARM = "EndpointErrorsAlarm"
LATENCY_ALARM = "EndpointLatencyAlarm"
TABLE = "ApprovalTable"
TOPIC = "NotificationTopic"
SECRET = "LinkSigningSecret"
SCHEDULE = "Schedule"
NEW_DATA_RULE = "NewDataRule"
DRIFT_ALARM = "DataDriftAlarm"
DRIFT_RULE = "DataDriftRule"
REGISTRY_RULE = "RegistryDecisionRule"
REGISTRY_PERMISSION = "RegistryDecisionPermission"
DRIFT_THRESHOLD = "DriftThreshold"
MODEL_MONITOR_IMAGES = "ModelMonitorImages"
EVENTS_ROLE = "EventsRole"
SCHEDULE_ROLE = "ScheduleRole"
SCHEDULE_DLQ = "ScheduleDeadLetterQueue"

# Outputs (the CLI reads these).
OUT_STATE_MACHINE_ARN = "StateMachineArn"
OUT_REVIEW_URL_BASE = "ReviewUrlBase"
OUT_TABLE_NAME = "ApprovalTableName"
OUT_TOPIC_ARN = "TopicArn"
OUT_SCHEDULE_NAME = "ScheduleName"

_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"


def substitutions(settings: Settings) -> dict[str, Any]:
    """Values for the ASL's `${Placeholder}` names (DefinitionSubstitutions)."""
    from workflow import substitutions as names_in_asl

    return {
        names_in_asl.PIPELINE_NAME: settings.pipeline_name,
        names_in_asl.MODEL_PACKAGE_GROUP_NAME: settings.model_package_group,
        names_in_asl.APPROVAL_FUNCTION_ARN: get_att(FUNCTION, "Arn"),
        names_in_asl.SMOKE_TEST_FUNCTION_ARN: get_att(SMOKE_TEST_FUNCTION, "Arn"),
        names_in_asl.NOTIFICATION_TOPIC_ARN: ref(TOPIC),
        names_in_asl.SAGEMAKER_ROLE_ARN: ref(SAGEMAKER_ROLE_ARN),
        names_in_asl.ENDPOINT_NAME: settings.endpoint_name,
        names_in_asl.MODEL_MONITOR_IMAGE_URI: sub(
            f"${{Registry}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{MODEL_MONITOR_REPOSITORY}",
            Registry={"Fn::FindInMap": [MODEL_MONITOR_IMAGES, ref("AWS::Region"), "Registry"]},
        ),
    }


def workflow_template(settings: Settings) -> Json:
    """The template for the workflow that `workflow.asl` builds from these settings."""
    import pipelines.sdk  # noqa: F401 - quiets the SageMaker SDK before workflow imports it
    from workflow import asl
    from workflow.substitutions import placeholders_in

    text = asl(settings)
    return build_template(settings, text, placeholders_in(text), schedule_input())


def schedule_input() -> dict[str, Any]:
    """What the schedule starts the workflow with: the defaults, and the schedule as trigger."""
    return execution_input({}, **{TRIGGER: {"Type": "schedule"}})


def build_template(
    settings: Settings,
    asl: str,
    placeholders: Iterable[str],
    execution_input: Mapping[str, Any],
) -> Json:
    """The template as a dict; `asl` is the state machine JSON with `${Placeholder}` names."""
    validate_schedule_expression(DEFAULT_SCHEDULE)
    known = substitutions(settings)
    unknown = sorted(set(placeholders) - set(known))
    if unknown:
        raise ValueError(
            "the state machine uses placeholders the template cannot fill: "
            + ", ".join(unknown)
            + "; add them to deploy.template.substitutions"
        )
    definition = json.loads(asl)
    return {
        "AWSTemplateFormatVersion": TEMPLATE_FORMAT,
        "Description": (
            f"{settings.project}: Step Functions workflow around the SageMaker pipeline "
            f"{settings.pipeline_name}, with human approval and a schedule"
        ),
        "Parameters": _parameters(),
        "Mappings": {MODEL_MONITOR_IMAGES: _model_monitor_registries()},
        "Conditions": _conditions(),
        "Resources": {
            **_state_machine(settings, asl, sorted(set(placeholders)), definition),
            **_approval(settings),
            **_smoke_test(settings),
            **_rollback_alarms(settings),
            **_notifications(settings),
            **_schedule(settings, execution_input),
            **_event_rules(settings),
            **_drift(settings),
            **_registry_decisions(settings),
        },
        "Outputs": _outputs(),
    }


def render(template: Mapping[str, Any]) -> str:
    """Stable JSON text: the same template always renders to the same bytes."""
    return json.dumps(template, indent=2, ensure_ascii=False)


def _parameters() -> Json:
    def text(description: str, default: str | None = None, **extra: Any) -> Json:
        result: Json = {"Type": "String", "Description": description, **extra}
        if default is not None:
            result["Default"] = default
        return result

    secret_arn = {"AllowedPattern": f"^$|{_ARN_PATTERN[1:]}"}
    return {
        SAGEMAKER_ROLE_ARN: text(
            "SageMaker execution role: the pipeline's jobs and the deployed model run as it",
            AllowedPattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        ),
        CODE_BUCKET: text("S3 bucket holding the functions' zip and the pipeline's artifacts"),
        CODE_KEY: text("S3 key of the functions' zip (mlops deploy sets it)"),
        SCHEDULE_EXPRESSION: text(
            "EventBridge Scheduler expression of the regular run, e.g. rate(7 days)",
            DEFAULT_SCHEDULE,
        ),
        SCHEDULE_TIMEZONE: text("IANA time zone of the schedule expression", DEFAULT_TIMEZONE),
        SCHEDULE_STATE: text(
            "ENABLED runs on the schedule; DISABLED keeps it for manual runs only",
            "ENABLED",
            AllowedValues=["ENABLED", "DISABLED"],
        ),
        NOTIFICATION_EMAIL: text(
            "Email subscribed to the run notifications topic (empty: no subscription)", ""
        ),
        APPROVERS: text("Who is asked to approve, as shown in the request", ""),
        APPROVAL_EMAIL: text("Comma-separated approver addresses for SES (empty: no email)", ""),
        APPROVAL_EMAIL_SENDER: text("SES-verified sender of the approval email", ""),
        SLACK_WEBHOOK_SECRET_ARN: text(
            "Secrets Manager ARN of the Slack incoming-webhook URL (empty: no Slack)",
            "",
            **secret_arn,
        ),
        SLACK_SIGNING_SECRET_ARN: text(
            "Secrets Manager ARN of the Slack app's signing secret, for its buttons",
            "",
            **secret_arn,
        ),
        APPROVAL_BASE_URL: text(
            "Base URL of the review links; mlops deploy sets the Function URL unless you set "
            "another base here, e.g. a custom domain",
            "",
        ),
        APPROVAL_CONCURRENCY: {
            "Type": "Number",
            "Description": (
                "Reserved concurrency of the approval function: at most this many run at once, "
                "so requests to its public URL cannot use up the account's Lambda concurrency "
                "(Lambda keeps 100 of the account's quota unreserved)"
            ),
            "Default": str(DEFAULT_APPROVAL_CONCURRENCY),
            "MinValue": 1,
        },
        # CreateProject's ProjectName pattern; project ids are "p-" and 12 characters.
        SAGEMAKER_PROJECT_NAME: text(
            "SageMaker project the stack belongs to (empty: none); its runs tag the pipeline "
            "and the model package group with sagemaker:project-name",
            "",
            AllowedPattern=r"^$|^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$",
        ),
        SAGEMAKER_PROJECT_ID: text(
            "Id of that SageMaker project (sagemaker:project-id)",
            "",
            AllowedPattern=r"^$|^[a-zA-Z0-9-]{1,20}$",
        ),
        POLL_SECONDS_PARAMETER: {
            "Type": "Number",
            "Description": "Seconds between the workflow's status checks in the runs the stack "
            "starts (the schedule, new data, drift)",
            "Default": "60",
            "MinValue": 1,
        },
        ROLLOUT_BAKE_SECONDS: {
            "Type": "Number",
            "Description": "Baking period after each traffic shift of an endpoint update in the "
            "runs the stack starts, alarms watched",
            "Default": "300",
            "MinValue": 0,
            "MaxValue": 3600,
        },
        DRIFT_THRESHOLD: {
            "Type": "Number",
            "Description": (
                "Retraining starts when a feature's drift distance from the baseline (0 to 1, "
                "Model Monitor's feature_baseline_drift) exceeds this"
            ),
            "Default": str(DEFAULT_DRIFT_THRESHOLD),
            "MinValue": 0,
            "MaxValue": 1,
        },
        ROLLBACK_ERROR_RATE: {
            "Type": "Number",
            "Description": (
                "A deployment rolls back when more than this share of a minute's requests end "
                "in a 5XX from the model (0.01 is 1%)"
            ),
            "Default": str(DEFAULT_ROLLBACK_ERROR_RATE),
            "MinValue": 0,
            "MaxValue": 1,
        },
        ROLLBACK_MODEL_LATENCY: {
            "Type": "Number",
            "Description": (
                "A deployment rolls back when the model's average latency stays above this "
                "many microseconds for two minutes"
            ),
            "Default": str(DEFAULT_ROLLBACK_MODEL_LATENCY_US),
            "MinValue": 1,
        },
    }


def _conditions() -> Json:
    def present(parameter: str) -> Json:
        return {"Fn::Not": [{"Fn::Equals": [ref(parameter), ""]}]}

    return {
        HAS_NOTIFICATION_EMAIL: present(NOTIFICATION_EMAIL),
        HAS_APPROVAL_EMAIL: {"Fn::And": [present(APPROVAL_EMAIL), present(APPROVAL_EMAIL_SENDER)]},
        HAS_SLACK_WEBHOOK: present(SLACK_WEBHOOK_SECRET_ARN),
        HAS_SLACK_SIGNING: present(SLACK_SIGNING_SECRET_ARN),
    }


def _state_machine(settings: Settings, asl: str, placeholders: list[str], definition: Json) -> Json:
    statements = iam.state_machine_statements(
        definition,
        settings,
        names.endpoint_prefix(settings),
        {
            "lambda:InvokeFunction": [
                get_att(function, "Arn") for function in (FUNCTION, SMOKE_TEST_FUNCTION)
            ]
            + [sub(f"${{{function}.Arn}}:*") for function in (FUNCTION, SMOKE_TEST_FUNCTION)],
            "sns:Publish": [ref(TOPIC)],
            # The evaluation report the pipeline wrote, shown to the approvers.
            "s3:GetObject": [
                sub(f"arn:${{AWS::Partition}}:s3:::${{{CODE_BUCKET}}}/{settings.prefix('*')}")
            ],
        },
        ref(SAGEMAKER_ROLE_ARN),
    )
    # UpdateEndpoint with AutoRollbackConfiguration: SageMaker reads the named alarms with the
    # caller's permission (developer guide, "Auto-Rollback Configuration and Monitoring").
    statements.append(
        iam.statement(
            ["cloudwatch:DescribeAlarms"],
            [arn("cloudwatch", f"alarm:{name}") for name in names.rollback_alarm_names(settings)],
        )
    )
    known = substitutions(settings)
    return {
        STATE_MACHINE_ROLE: iam.role(
            "Runs the workflow: the pipeline, the approval request, the model deployment",
            "states",
            "workflow",
            statements,
        ),
        STATE_MACHINE: {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": settings.state_machine_name,
                "StateMachineType": "STANDARD",
                "RoleArn": get_att(STATE_MACHINE_ROLE, "Arn"),
                "DefinitionString": asl,
                "DefinitionSubstitutions": {name: known[name] for name in placeholders},
            },
        },
    }


def _approval(settings: Settings) -> Json:
    statements = [
        iam.log_writing(get_att(FUNCTION_LOGS, "Arn")),
        iam.statement(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            get_att(TABLE, "Arn"),
        ),
        # A decision taken in the model registry (approval/registry.py): the package's
        # approval, by the index; whether its execution still waits (this workflow's
        # executions only); who decided (this project's packages only).
        iam.statement(["dynamodb:Query"], sub(f"${{{TABLE}.Arn}}/index/{PACKAGE_INDEX}")),
        iam.statement(
            ["states:GetExecutionHistory"],
            arn("states", f"execution:{settings.state_machine_name}:*"),
        ),
        iam.statement(
            ["sagemaker:DescribeModelPackage"],
            iam.sagemaker_resources(settings, names.endpoint_prefix(settings))["model-package"],
        ),
        # The comparison with the champion and the pictures the package names, read when an
        # approval opens (approval/review_files.py): the pipeline's own objects only.
        iam.statement(
            ["s3:GetObject"],
            sub(f"arn:${{AWS::Partition}}:s3:::${{{CODE_BUCKET}}}/{settings.prefix('*')}"),
        ),
        iam.statement(
            ["secretsmanager:GetSecretValue"],
            [
                ref(SECRET),
                _if(HAS_SLACK_WEBHOOK, ref(SLACK_WEBHOOK_SECRET_ARN)),
                _if(HAS_SLACK_SIGNING, ref(SLACK_SIGNING_SECRET_ARN)),
            ],
        ),
        # Task tokens are not resources IAM can name: AWS requires "*" for these two. (Only
        # these: the function calls nothing else that is authorized on no resource.)
        iam.statement(iam.TASK_CALLBACK_ACTIONS, "*"),
        _if(
            HAS_APPROVAL_EMAIL,
            iam.statement(
                ["ses:SendRawEmail"],
                arn("ses", "identity/*"),
                {"StringEquals": {"ses:FromAddress": ref(APPROVAL_EMAIL_SENDER)}},
            ),
        ),
    ]
    return {
        TABLE: {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "TableName": settings.approval_table_name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": APPROVAL_KEY, "AttributeType": "S"},
                    {"AttributeName": PACKAGE_KEY, "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": APPROVAL_KEY, "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": PACKAGE_INDEX,
                        "KeySchema": [{"AttributeName": PACKAGE_KEY, "KeyType": "HASH"}],
                        "Projection": {
                            "ProjectionType": "INCLUDE",
                            "NonKeyAttributes": list(PACKAGE_INDEX_ATTRIBUTES),
                        },
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        SECRET: {
            "Type": "AWS::SecretsManager::Secret",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "Name": names.signing_secret_name(settings),
                "Description": "HMAC key that signs the approval links",
                "GenerateSecretString": {
                    "PasswordLength": SECRET_LENGTH,
                    "ExcludePunctuation": True,
                },
            },
        },
        FUNCTION_LOGS: _log_group(names.function_log_group(settings)),
        FUNCTION_ROLE: iam.role(
            "The approval function: its table, its secrets, its own URL, task callbacks",
            "lambda",
            "approval",
            statements,
        ),
        FUNCTION: _python_function(
            settings.approval_function_name,
            "Human approval of model packages: request, review page, decision",
            LAMBDA_HANDLER,
            role=FUNCTION_ROLE,
            logs=FUNCTION_LOGS,
            timeout=30,
            reserved_concurrency=ref(APPROVAL_CONCURRENCY),
            environment={
                "APPROVAL_TABLE": ref(TABLE),
                "APPROVAL_BASE_URL": ref(APPROVAL_BASE_URL),
                "SIGNING_SECRET_ARN": ref(SECRET),
                "APPROVERS": ref(APPROVERS),
                "EMAIL_FROM": ref(APPROVAL_EMAIL_SENDER),
                "EMAIL_TO": ref(APPROVAL_EMAIL),
                "SLACK_WEBHOOK_SECRET_ARN": ref(SLACK_WEBHOOK_SECRET_ARN),
                "SLACK_SIGNING_SECRET_ARN": ref(SLACK_SIGNING_SECRET_ARN),
            },
        ),
        FUNCTION_URL: {
            "Type": "AWS::Lambda::Url",
            "Properties": {"AuthType": "NONE", "TargetFunctionArn": get_att(FUNCTION, "Arn")},
        },
        # A public URL needs both permissions (since October 2025); the links are signed.
        URL_PERMISSION: {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunctionUrl",
                "FunctionName": ref(FUNCTION),
                "Principal": "*",
                "FunctionUrlAuthType": "NONE",
            },
        },
        URL_INVOKE_PERMISSION: {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref(FUNCTION),
                "Principal": "*",
                "InvokedViaFunctionUrl": True,
            },
        },
    }


def _log_group(name: str) -> Json:
    """A function's log group, kept LOG_RETENTION_DAYS and deleted with the stack."""
    return {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {"LogGroupName": name, "RetentionInDays": LOG_RETENTION_DAYS},
    }


def _python_function(
    name: str,
    description: str,
    handler: str,
    *,
    role: str,
    logs: str,
    timeout: int,
    reserved_concurrency: Json | None = None,
    environment: Mapping[str, Any] | None = None,
) -> Json:
    """One of the stack's functions: the functions' zip on Lambda's Python runtime (arm64,
    256 MB), its own role and log group, JSON logs at the project's levels."""
    properties: Json = {
        "FunctionName": name,
        "Description": description,
        "Runtime": LAMBDA_RUNTIME,
        "Handler": handler,
        "Architectures": ["arm64"],
        "MemorySize": 256,
        "Timeout": timeout,
        "Code": {"S3Bucket": ref(CODE_BUCKET), "S3Key": ref(CODE_KEY)},
        "Role": get_att(role, "Arn"),
    }
    if reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = reserved_concurrency
    properties["LoggingConfig"] = {
        "LogFormat": FUNCTION_LOG_FORMAT,
        "ApplicationLogLevel": FUNCTION_APPLICATION_LOG_LEVEL,
        "SystemLogLevel": FUNCTION_SYSTEM_LOG_LEVEL,
        "LogGroup": ref(logs),
    }
    if environment is not None:
        properties["Environment"] = {"Variables": dict(environment)}
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def _smoke_test(settings: Settings) -> Json:
    """The smoke-test function: reads the evaluation's sample, invokes the endpoint it is given
    (only this deployment's, by name prefix), and compares; it changes nothing."""
    endpoint = names.endpoint_prefix(settings).lower()
    statements = [
        iam.log_writing(get_att(SMOKE_TEST_LOGS, "Arn")),
        iam.statement(
            ["s3:GetObject"],
            sub(f"arn:${{AWS::Partition}}:s3:::${{{CODE_BUCKET}}}/{settings.prefix('*')}"),
        ),
        iam.statement(["sagemaker:InvokeEndpoint"], arn("sagemaker", f"endpoint/{endpoint}*")),
    ]
    return {
        SMOKE_TEST_LOGS: _log_group(names.smoke_test_log_group(settings)),
        SMOKE_TEST_ROLE: iam.role(
            "The smoke-test function: the evaluation's sample and this deployment's endpoints",
            "lambda",
            "smoke-test",
            statements,
        ),
        SMOKE_TEST_FUNCTION: _python_function(
            names.smoke_test_function_name(settings),
            "Before traffic: the endpoint answers as the evaluated model did",
            SMOKE_TEST_HANDLER,
            role=SMOKE_TEST_ROLE,
            logs=SMOKE_TEST_LOGS,
            timeout=60,
        ),
    }


def _rollback_alarms(settings: Settings) -> Json:
    """The endpoint's alarms that roll a deployment back (the UpdateEndpoint's
    AutoRollbackConfiguration names them): the share of requests ending in a 5XX from the
    model, and the model's latency, each per minute over the live variant (AWS/SageMaker
    endpoint invocation metrics; Invocation5XXErrors is 0 or 1 per request, so its average is
    the error rate). No data is not breaching: an endpoint without traffic is healthy."""
    from workflow.endpoint import VARIANT_NAME

    errors_name, latency_name = names.rollback_alarm_names(settings)
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]

    def alarm(name: str, description: str, metric: str, threshold: str, periods: int) -> Json:
        return {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description,
                "Namespace": "AWS/SageMaker",
                "MetricName": metric,
                "Dimensions": dimensions,
                "Statistic": "Average",
                "Period": 60,
                "EvaluationPeriods": periods,
                "Threshold": ref(threshold),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        }

    return {
        ERRORS_ALARM: alarm(
            errors_name,
            f"{settings.endpoint_name}: model 5XX error rate; rolls a deployment back",
            "Invocation5XXErrors",
            ROLLBACK_ERROR_RATE,
            1,
        ),
        LATENCY_ALARM: alarm(
            latency_name,
            f"{settings.endpoint_name}: model latency; rolls a deployment back",
            "ModelLatency",
            ROLLBACK_MODEL_LATENCY,
            2,
        ),
    }


def _notifications(settings: Settings) -> Json:
    return {
        TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": settings.notification_topic_name,
                "KmsMasterKeyId": "alias/aws/sns",
                "Subscription": _if(
                    HAS_NOTIFICATION_EMAIL,
                    [{"Protocol": "email", "Endpoint": ref(NOTIFICATION_EMAIL)}],
                ),
            },
        },
    }


#: Markers for the stack's own settings in a run's input, replaced by Fn::Sub references.
_STACK_SETTINGS = {POLL_SECONDS_PARAMETER: "@poll@", ROLLOUT_BAKE_SECONDS: "@bake@"}
#: Stack parameters that go into the run input as strings (their quotes stay).
_STACK_TEXT = {SAGEMAKER_PROJECT_NAME: "@project-name@", SAGEMAKER_PROJECT_ID: "@project-id@"}


def run_input(payload: Mapping[str, Any]) -> Json:
    """The input text with which the stack starts a run (the schedule, the rules): `payload`
    plus the stack's PollSeconds and RolloutBakeSeconds, as numbers, and its SageMaker project
    (empty name: none) (Fn::Sub).

    Those two depend on where the stack runs (60 s and a 300 s bake on AWS; `mlops up` deploys
    with 1 s and a short bake), so they are stack parameters, not defaults of the workflow.
    """
    settings = {
        **payload,
        SAGEMAKER_PROJECT: {
            "Name": _STACK_TEXT[SAGEMAKER_PROJECT_NAME],
            "Id": _STACK_TEXT[SAGEMAKER_PROJECT_ID],
        },
        POLL_SECONDS: _STACK_SETTINGS[POLL_SECONDS_PARAMETER],
        ROLLOUT: {
            **dict(payload.get(ROLLOUT) or {}),
            "WaitIntervalInSeconds": _STACK_SETTINGS[ROLLOUT_BAKE_SECONDS],
        },
    }
    text = json.dumps(settings, sort_keys=True)
    for name, marker in _STACK_SETTINGS.items():
        text = text.replace(f'"{marker}"', f"${{{name}}}")
    for name, marker in _STACK_TEXT.items():
        text = text.replace(marker, f"${{{name}}}")
    return sub(text)


def _schedule(settings: Settings, execution_input: Mapping[str, Any]) -> Json:
    return {
        SCHEDULE_DLQ: {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": names.schedule_dlq_name(settings),
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
            },
        },
        SCHEDULE_ROLE: iam.role(
            "Lets the schedule start the workflow and nothing else",
            "scheduler",
            "start-workflow",
            [
                iam.statement(["states:StartExecution"], ref(STATE_MACHINE)),
                iam.statement(["sqs:SendMessage"], get_att(SCHEDULE_DLQ, "Arn")),
            ],
        ),
        SCHEDULE: {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Name": names.schedule_name(settings),
                "Description": f"Regular run of the {settings.pipeline_name} workflow",
                "ScheduleExpression": ref(SCHEDULE_EXPRESSION),
                "ScheduleExpressionTimezone": ref(SCHEDULE_TIMEZONE),
                "State": ref(SCHEDULE_STATE),
                "FlexibleTimeWindow": {
                    "Mode": "FLEXIBLE",
                    "MaximumWindowInMinutes": SCHEDULE_WINDOW_MINUTES,
                },
                "Target": {
                    "Arn": ref(STATE_MACHINE),
                    "RoleArn": get_att(SCHEDULE_ROLE, "Arn"),
                    "Input": run_input(execution_input),
                    "RetryPolicy": {
                        "MaximumRetryAttempts": SCHEDULE_RETRIES,
                        "MaximumEventAgeInSeconds": SCHEDULE_MAX_EVENT_AGE_SECONDS,
                    },
                    "DeadLetterConfig": {"Arn": get_att(SCHEDULE_DLQ, "Arn")},
                },
            },
        },
    }


def _workflow_target(paths: Mapping[str, str], template: Mapping[str, Any]) -> Json:
    """An EventBridge rule's target: the workflow, started through the events role with the
    event's `paths` filled into `template` (placeholders inside quotes are inserted as text:
    EventBridge user guide, "Input transformation"), plus the stack's run settings."""
    return {
        "Id": "workflow",
        "Arn": ref(STATE_MACHINE),
        "RoleArn": get_att(EVENTS_ROLE, "Arn"),
        "InputTransformer": {"InputPathsMap": dict(paths), "InputTemplate": run_input(template)},
    }


def _event_rules(settings: Settings) -> Json:
    """EventBridge rules that start the workflow: new training data under the input prefix.

    The bucket sends its object events to EventBridge once its notifications have
    EventBridgeConfiguration on (`mlops deploy` turns it on; S3 user guide, "Using
    EventBridge"). Every upload under the prefix starts one execution, in the order EventBridge
    delivers them; the upload is the run's input data and its trigger.
    """
    uri = "s3://<bucket>/<key>"
    return {
        EVENTS_ROLE: iam.role(
            "Lets EventBridge start the workflow and nothing else",
            "events",
            "start-workflow",
            [iam.statement(["states:StartExecution"], ref(STATE_MACHINE))],
        ),
        NEW_DATA_RULE: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.new_data_rule_name(settings),
                "Description": f"New training data under {names.input_prefix(settings)} "
                "starts a run",
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [ref(CODE_BUCKET)]},
                        "object": {"key": [{"prefix": names.input_prefix(settings)}]},
                    },
                },
                "Targets": [
                    _workflow_target(
                        {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
                        {
                            PIPELINE_PARAMETERS: [{"Name": "InputDataUrl", "Value": uri}],
                            TRIGGER: {"Type": "new-data", "Object": uri},
                        },
                    )
                ],
            },
        },
    }


#: The Model Monitor analyzer's repository; its registry account differs per region.
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"


def _model_monitor_registries() -> Json:
    """Region -> the account of the Model Monitor analyzer image, from the SageMaker SDK's
    own table (sagemaker/image_uri_config/model-monitor.json), so the stack works in any
    region SageMaker serves."""
    import pipelines.sdk  # noqa: F401 - quiets the SDK

    config = sagemaker_image_config("model-monitor")
    registries = next(iter(config["versions"].values()))["registries"]
    return {region: {"Registry": account} for region, account in sorted(registries.items())}


def sagemaker_image_config(framework: str) -> Json:
    """The SageMaker SDK's image table of `framework` (image_uri_config/<framework>.json)."""
    from pathlib import Path

    from sagemaker import image_uris

    path = Path(image_uris.__file__).parent / "image_uri_config" / f"{framework}.json"
    loaded: Json = json.loads(path.read_text())
    return loaded


def _drift(settings: Settings) -> Json:
    """Drift starts retraining: an alarm on the endpoint's data-quality monitoring metrics,
    and a rule on its going into ALARM that starts the workflow with a drift trigger.

    Model Monitor publishes `feature_baseline_drift_<feature>` (the distance between the
    feature's distribution in the traffic and in the baseline) per monitoring execution, in
    `aws/sagemaker/Endpoints/data-metrics` with the Endpoint and MonitoringSchedule dimensions
    (developer guide, "CloudWatch Metrics for Model Monitor"). One alarm watches the largest
    of them (metric math MAX; an alarm takes at most 10 metrics), so a drift in several
    features starts one run, not one per feature.
    """
    from pipelines.names import MODEL_FEATURES

    if len(MODEL_FEATURES) > MAX_ALARM_METRICS:
        raise ValueError(
            f"the drift alarm watches every feature, and CloudWatch allows {MAX_ALARM_METRICS} "
            f"metrics per alarm; the model has {len(MODEL_FEATURES)} (pipelines/names.py)"
        )
    dimensions = [
        {"Name": "Endpoint", "Value": settings.endpoint_name},
        {"Name": "MonitoringSchedule", "Value": names.monitoring_schedule_name(settings)},
    ]
    metrics: list[Json] = [
        {
            "Id": f"m{index}",
            "Label": feature,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": MODEL_MONITOR_NAMESPACE,
                    "MetricName": f"feature_baseline_drift_{feature}",
                    "Dimensions": dimensions,
                },
                "Period": DRIFT_PERIOD_SECONDS,
                "Stat": "Maximum",
            },
        }
        for index, feature in enumerate(MODEL_FEATURES)
    ]
    ids = ",".join(m["Id"] for m in metrics)
    metrics.append(
        {
            "Id": "drift",
            "Label": "largest feature drift",
            "Expression": f"MAX([{ids}])",
            "ReturnData": True,
        }
    )
    alarm = names.drift_alarm_name(settings)
    return {
        DRIFT_ALARM: {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": alarm,
                "AlarmDescription": (
                    f"{settings.endpoint_name}: a feature of the traffic drifted from the "
                    "model's training data; starts retraining"
                ),
                "Metrics": metrics,
                "EvaluationPeriods": 1,
                "Threshold": ref(DRIFT_THRESHOLD),
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            },
        },
        DRIFT_RULE: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.drift_rule_name(settings),
                "Description": f"Drift alarm {alarm} in ALARM starts a run",
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.cloudwatch"],
                    "detail-type": ["CloudWatch Alarm State Change"],
                    "resources": [get_att(DRIFT_ALARM, "Arn")],
                    "detail": {"state": {"value": ["ALARM"]}},
                },
                "Targets": [
                    _workflow_target(
                        {
                            "alarm": "$.detail.alarmName",
                            "reason": "$.detail.state.reason",
                            "time": "$.time",
                        },
                        {
                            TRIGGER: {
                                "Type": "drift",
                                "Alarm": "<alarm>",
                                "Reason": "<reason>",
                                "At": "<time>",
                            }
                        },
                    )
                ],
            },
        },
    }


def _registry_decisions(settings: Settings) -> Json:
    """A decision taken in the SageMaker model registry ends the pending approval: a rule on
    SageMaker's model package state changes of this project's group to Approved or Rejected,
    sending them to the approval function (approval/registry.py), and the function's
    permission for EventBridge to invoke it for this rule only.

    The event: source aws.sagemaker, detail-type "SageMaker Model Package State Change", a
    detail with ModelPackageGroupName and ModelApprovalStatus among DescribeModelPackage's
    fields (SageMaker developer guide, "Events that Amazon SageMaker sends to Amazon
    EventBridge", model package state change: https://docs.aws.amazon.com/sagemaker/latest/dg/
    automating-sagemaker-with-eventbridge.html#eventbridge-model-package). A Lambda target
    needs the function's resource-based policy to allow events.amazonaws.com with the rule as
    SourceArn (EventBridge User Guide, "Using resource-based policies for Amazon EventBridge",
    AWS Lambda permissions: https://docs.aws.amazon.com/eventbridge/latest/userguide/
    eb-use-resource-based.html).
    """
    return {
        REGISTRY_RULE: {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names.registry_rule_name(settings),
                "Description": f"Approvals and rejections of {settings.model_package_group} "
                "packages in the model registry decide their pending approval",
                "State": "ENABLED",
                "EventPattern": {
                    "source": [registry.SOURCE],
                    "detail-type": [registry.DETAIL_TYPE],
                    "detail": {
                        "ModelPackageGroupName": [settings.model_package_group],
                        "ModelApprovalStatus": sorted(registry.ACTIONS),
                    },
                },
                "Targets": [{"Id": "approval-function", "Arn": get_att(FUNCTION, "Arn")}],
            },
        },
        REGISTRY_PERMISSION: {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref(FUNCTION),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att(REGISTRY_RULE, "Arn"),
            },
        },
    }


#: Model Monitor's data-quality metrics (developer guide, "CloudWatch Metrics for Model
#: Monitor") and the period of an hourly schedule's datapoints.
MODEL_MONITOR_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
DRIFT_PERIOD_SECONDS = 3600
MAX_ALARM_METRICS = 10
DEFAULT_DRIFT_THRESHOLD = 0.1


def _outputs() -> Json:
    def output(description: str, value: Any) -> Json:
        return {"Description": description, "Value": value}

    return {
        OUT_STATE_MACHINE_ARN: output("The workflow; `mlops start` runs it", ref(STATE_MACHINE)),
        OUT_REVIEW_URL_BASE: output(
            "Base of the review links (the approval function's URL)",
            get_att(FUNCTION_URL, "FunctionUrl"),
        ),
        OUT_TABLE_NAME: output("Approval records", ref(TABLE)),
        OUT_TOPIC_ARN: output("Run notifications", ref(TOPIC)),
        OUT_SCHEDULE_NAME: output("The regular run", ref(SCHEDULE)),
    }


def _if(condition: str, value: Any) -> Json:
    return {"Fn::If": [condition, value, ref("AWS::NoValue")]}
