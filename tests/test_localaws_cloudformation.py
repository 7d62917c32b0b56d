"""The local AWS's CloudFormation: the workflow's real template deploys through plain change
sets with every resource created, and the bridged resources update and delete with their stack.

The pin tests (`test_moto_still_...`) check moto alone, without localaws/cloudformation_seam.py:
each fails when moto closes the gap it names. Then the seam's bridge for that gap can go.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from clients.cloudformation import UPDATED, DeployResult, TemplateSource, deploy_stack
from core import names
from core.settings import Settings
from deploy import template as tpl
from deploy.bundle import build_bundle
from deploy.schedule import DEFAULT_SCHEDULE
from localaws import cloudformation_seam
from localaws.cloudformation_seam import BRIDGED_TYPES, secret_value

SETTINGS = Settings()
STACK = "workflow"
CODE_BUCKET = "local-code"
#: In-process pins create resources straight in moto's backends, in an account of their own.
PIN_ACCOUNT = "111122223333"
PIN_REGION = "eu-west-1"
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+/")


@contextmanager
def seam(installed: bool) -> Iterator[None]:
    """The CloudFormation seam in (or out), and back as it was after."""
    was = cloudformation_seam.installed()
    (cloudformation_seam.install if installed else cloudformation_seam.uninstall)()
    try:
        yield
    finally:
        (cloudformation_seam.install if was else cloudformation_seam.uninstall)()


# -- pins: what moto alone still gets wrong --------------------------------------------------


def test_moto_still_cannot_create_the_bridged_resource_types():
    """In a fresh interpreter (no seam), moto's CloudFormation knows none of the bridged types."""
    probe = textwrap.dedent(
        f"""
        import json
        import moto.awslambda.models, moto.scheduler.models, moto.secretsmanager.models
        from moto.cloudformation.parsing import resource_class_from_type
        types = {sorted(BRIDGED_TYPES)!r}
        print(json.dumps([t for t in types if resource_class_from_type(t) is None]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    missing = json.loads(done.stdout.strip().splitlines()[-1])
    assert missing == sorted(BRIDGED_TYPES), f"moto now creates {set(BRIDGED_TYPES) - {*missing}}"


def test_moto_still_creates_no_cloudwatch_alarm_for_a_stack():
    """Gap 6: in a fresh interpreter (no seam), a stack with an AWS::CloudWatch::Alarm is
    created without the alarm (moto warns and skips the type), so no rollback alarm exists."""
    probe = textwrap.dedent(
        """
        import json, warnings
        import boto3
        from moto import mock_aws
        warnings.simplefilter("ignore")
        properties = {
            "AlarmName": "pin-alarm", "Namespace": "Pin", "MetricName": "Errors",
            "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        template = {"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm",
                                            "Properties": properties}}}
        with mock_aws():
            boto3.client("cloudformation", region_name="us-east-1").create_stack(
                StackName="pin", TemplateBody=json.dumps(template)
            )
            alarms = boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()
            print(json.dumps([a["AlarmName"] for a in alarms["MetricAlarms"]]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], "moto now creates the alarm"


def test_every_type_of_the_template_is_modelled_by_moto_or_the_seam():
    from moto.cloudformation.parsing import resource_class_from_type

    types = {r["Type"] for r in tpl.workflow_template(SETTINGS)["Resources"].values()}
    assert types >= BRIDGED_TYPES
    with seam(installed=True):
        classes = {t: resource_class_from_type(t) for t in types}
    assert all(classes.values()), [t for t, c in classes.items() if c is None]
    assert {t for t, c in classes.items() if c.__module__ == cloudformation_seam.__name__} == (
        BRIDGED_TYPES
    )


def test_moto_still_ignores_definition_substitutions_and_the_backend_the_api_serves():
    from moto.stepfunctions.models import StateMachine, stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    with seam(installed=False):
        machine = StateMachine.create_from_cloudformation_json(
            "pin-machine", _machine_json("hello"), PIN_ACCOUNT, PIN_REGION
        )
    plain = stepfunctions_backends[PIN_ACCOUNT][PIN_REGION]
    try:
        assert "${Greeting}" in machine.definition
        assert machine in plain.state_machines
        assert machine not in stepfunctions_parser_backends[PIN_ACCOUNT][PIN_REGION].state_machines
    finally:
        plain.delete_state_machine(machine.arn)


def test_moto_still_resolves_a_number_parameter_to_text_or_a_number_by_origin():
    """Its default resolves to text, a given value to a number: the same value, unequal."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[PIN_ACCOUNT][PIN_REGION]
    template = json.dumps(
        {
            "Parameters": {"Count": {"Type": "Number", "Default": "3"}},
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "pin-number"}}
            },
        }
    )
    resolved = []
    with seam(installed=False):
        for kind, parameters in (("CREATE", {}), ("UPDATE", {"Count": "3"})):
            change_set_id, stack_id = backend.create_change_set(
                stack_name="pin-number",
                change_set_name=kind.lower(),
                template=template,
                parameters=parameters,
                description="",
                change_set_type=kind,
            )
            backend.execute_change_set(change_set_id)
            resolved.append(backend.get_stack(stack_id).stack_parameters["Count"])
        stack = backend.get_stack(stack_id)
        stack.parameters = {"Count": "3"}
        unequal = not stack.has_parameters({"Count": 3})
    backend.delete_stack(stack_id)
    assert resolved == ["3", 3]
    assert unequal


def test_parameters_are_compared_as_text():
    from moto.cloudformation.models import Stack

    stack = Stack.__new__(Stack)  # has_parameters reads nothing but the recorded values
    stack.parameters = {"Count": "3", "Names": "a,b", "Text": "x"}
    with seam(installed=True):
        assert stack.has_parameters({"Count": 3, "Names": ["a", "b"], "Text": "x"})
        assert not stack.has_parameters({"Count": 4, "Names": ["a", "b"], "Text": "x"})


def test_moto_still_ignores_a_functions_logging_config_and_concurrency_updates():
    with seam(installed=False):
        function, updated = _function_round("pin-plain-fn")
    assert function == (None, 5)  # no LoggingConfig in GetFunctionConfiguration
    assert updated == (None, 5)  # the update's ReservedConcurrentExecutions: 7, ignored


def test_functions_keep_their_logging_config_and_concurrency_updates():
    with seam(installed=True):
        function, updated = _function_round("pin-bridged-fn")
    logging_config = {"LogFormat": "JSON", "LogGroup": "/aws/lambda/pin-bridged-fn"}
    assert function == (logging_config, 5)
    assert updated == (logging_config, 7)


def _function_round(name: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(LoggingConfig, reserved concurrency) of a function created through CloudFormation, then
    after an update that raises its ReservedConcurrentExecutions from 5 to 7."""
    import base64
    import io
    import zipfile

    from moto.awslambda.models import LambdaFunction
    from moto.awslambda.utils import get_backend
    from moto.iam.models import iam_backends

    iam = iam_backends[PIN_ACCOUNT]["global"]
    role = iam.create_role(f"{name}-role", "{}", "/", None, "", [], None)
    source = "def handler(event, context):\n    return event\n"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.py", source)

    def function_json(code: str, concurrency: int) -> dict[str, Any]:
        properties = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Role": role.arn,
            "Code": {"ZipFile": code},
            "ReservedConcurrentExecutions": concurrency,
            "LoggingConfig": {"LogFormat": "JSON"},
        }
        return {"Type": "AWS::Lambda::Function", "Properties": properties}

    def state(function: Any) -> tuple[Any, Any]:
        stored = get_backend(PIN_ACCOUNT, PIN_REGION).get_function(name)
        return function.get_configuration().get("LoggingConfig"), stored.reserved_concurrency

    try:
        function = LambdaFunction.create_from_cloudformation_json(
            name, function_json(source, 5), PIN_ACCOUNT, PIN_REGION
        )
        created = state(function)
        # An update's inline code arrives base64-encoded (moto decodes it as the API's).
        update = function_json(base64.b64encode(archive.getvalue()).decode(), 7)
        function = LambdaFunction.update_from_cloudformation_json(
            function, name, update, PIN_ACCOUNT, PIN_REGION
        )
        return created, state(function)
    finally:
        get_backend(PIN_ACCOUNT, PIN_REGION).delete_function(name)
        iam.delete_role(f"{name}-role")


def test_moto_still_ignores_a_tables_time_to_live():
    with seam(installed=False):
        assert _table_ttl("pin-plain-table") == {"TimeToLiveStatus": "DISABLED"}


def test_tables_get_the_time_to_live_they_declare():
    with seam(installed=True):
        ttl = _table_ttl("pin-bridged-table")
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "purge_at"}


def _table_ttl(name: str) -> dict[str, Any]:
    """DescribeTimeToLive of a table created through CloudFormation with TTL on `purge_at`."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    properties = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        # "true" as text: how a Boolean arrives through a template parameter.
        "TimeToLiveSpecification": {"Enabled": "true", "AttributeName": "purge_at"},
    }
    backend = dynamodb_backends[PIN_ACCOUNT][PIN_REGION]
    try:
        Table.create_from_cloudformation_json(
            name,
            {"Type": "AWS::DynamoDB::Table", "Properties": properties},
            PIN_ACCOUNT,
            PIN_REGION,
        )
        return backend.describe_time_to_live(name)
    finally:
        backend.delete_table(name)


def test_moto_still_leaves_a_change_set_stack_without_outputs_or_new_parameters():
    with seam(installed=False):
        created, updated = _change_set_round("pin-stale")
    assert created == (None, {"Name": "first"})
    assert updated == (None, {"Name": "first"})


# -- the seam, in moto's own terms -------------------------------------------------------------


def test_executed_change_sets_record_outputs_and_parameters():
    with seam(installed=True):
        created, updated = _change_set_round("pin-fresh")
    assert created == ([{"OutputKey": "Name", "OutputValue": "first"}], {"Name": "first"})
    assert updated == ([{"OutputKey": "Name", "OutputValue": "second"}], {"Name": "second"})


def test_state_machines_are_substituted_in_the_backend_the_api_serves(monkeypatch):
    from moto.core.models import default_user_config
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    served = stepfunctions_parser_backends[PIN_ACCOUNT][PIN_REGION]
    with seam(installed=True):
        machine = StateMachine.create_from_cloudformation_json(
            "pin-machine", _machine_json("hello"), PIN_ACCOUNT, PIN_REGION
        )
        assert machine in served.state_machines
        assert json.loads(machine.definition)["States"]["Say"]["Result"] == "hello"
        updated = StateMachine.update_from_cloudformation_json(
            machine, "ignored", _machine_json("bye"), PIN_ACCOUNT, PIN_REGION
        )
        assert updated.arn == machine.arn
        assert json.loads(updated.definition)["States"]["Say"]["Result"] == "bye"
        StateMachine.delete_from_cloudformation_json(
            machine.arn, _machine_json("bye"), PIN_ACCOUNT, PIN_REGION
        )
    assert machine not in served.state_machines


def test_generated_secret_values_follow_generate_secret_string():
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[PIN_ACCOUNT][PIN_REGION]
    spec = {"PasswordLength": 64, "ExcludePunctuation": True}
    first = secret_value(backend, {"GenerateSecretString": spec})
    second = secret_value(backend, {"GenerateSecretString": spec})
    assert len(first) == len(second) == 64 and first.isalnum() and first != second
    document = json.loads(
        secret_value(
            backend,
            {
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"user": "reviewer"}',
                    "GenerateStringKey": "password",
                    "ExcludeCharacters": "abc",
                }
            },
        )
    )
    assert document["user"] == "reviewer"
    assert len(document["password"]) == 32 and not set("abc") & set(document["password"])
    assert secret_value(backend, {"SecretString": "given"}) == "given"
    assert secret_value(backend, {}) is None


def _machine_json(greeting: str) -> dict[str, Any]:
    definition = {"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": "${Greeting}"}}}
    definition["States"]["Say"]["End"] = True
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": "pin-machine",
            "RoleArn": f"arn:aws:iam::{PIN_ACCOUNT}:role/pin",
            "DefinitionString": json.dumps(definition),
            "DefinitionSubstitutions": {"Greeting": greeting},
        },
    }


def _change_set_round(stack_name: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """(outputs, recorded parameters) after a CREATE change set, then after an UPDATE one."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[PIN_ACCOUNT][PIN_REGION]
    template = json.dumps(
        {
            "Parameters": {"Name": {"Type": "String"}},
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": stack_name}}
            },
            "Outputs": {"Name": {"Value": {"Ref": "Name"}}},
        }
    )
    seen = []
    for kind, value in (("CREATE", "first"), ("UPDATE", "second")):
        change_set_id, stack_id = backend.create_change_set(
            stack_name=stack_name,
            change_set_name=f"{kind.lower()}-{value}",
            template=template,
            parameters={"Name": value},
            description="",
            change_set_type=kind,
        )
        backend.execute_change_set(change_set_id)
        stack = backend.get_stack(stack_id)
        outputs = stack.outputs and [
            {k: o[k] for k in ("OutputKey", "OutputValue")} for o in stack.outputs
        ]
        seen.append((outputs, dict(stack.parameters)))
    backend.delete_stack(stack_id)
    return seen[0], seen[1]


# -- the workflow's template, deployed -------------------------------------------------------


@dataclass
class Deployed:
    aws: Any
    result: DeployResult

    @property
    def outputs(self) -> dict[str, str]:
        return self.result.outputs

    def stack(self, name: str = STACK) -> dict[str, Any]:
        return self.aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]

    def parameters(self, name: str = STACK) -> dict[str, str]:
        return {p["ParameterKey"]: p["ParameterValue"] for p in self.stack(name)["Parameters"]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return tpl.workflow_template(SETTINGS)


@pytest.fixture(scope="module")
def deployed(template: dict[str, Any]) -> Iterator[Deployed]:
    """The workflow stack deployed into a local AWS, as `mlops deploy` would (one change set)."""
    from localaws import local_aws

    saved = dict(os.environ)  # the Lambda seam applies the function's environment
    try:
        with local_aws() as aws:
            s3 = aws.client("s3")
            s3.create_bucket(Bucket=CODE_BUCKET)
            bundle = build_bundle()
            key = bundle.key(SETTINGS)
            s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=bundle.data)
            result = _deploy(
                aws,
                template,
                STACK,
                {
                    tpl.CODE_BUCKET: CODE_BUCKET,
                    tpl.CODE_KEY: key,
                    tpl.SAGEMAKER_ROLE_ARN: SETTINGS.role_arn,
                },
            )
            yield Deployed(aws, result)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _deploy(
    aws: Any, template: dict[str, Any], stack: str, parameters: dict[str, str]
) -> DeployResult:
    s3 = aws.client("s3")

    def upload(text: str) -> str:  # the template is over CloudFormation's inline limit
        s3.put_object(Bucket=CODE_BUCKET, Key=f"{stack}.template.json", Body=text.encode())
        return f"https://{CODE_BUCKET}.s3.{aws.region}.amazonaws.com/{stack}.template.json"

    body = json.dumps(template, separators=(",", ":"))
    return deploy_stack(
        aws.client("cloudformation"), stack, TemplateSource(body, upload), parameters
    )


def test_every_resource_of_the_template_is_created(deployed, template):
    listed = deployed.aws.client("cloudformation").list_stack_resources(StackName=STACK)
    resources = {r["LogicalResourceId"]: r for r in listed["StackResourceSummaries"]}
    assert set(resources) == set(template["Resources"])
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}
    for logical_id in (tpl.SECRET, tpl.FUNCTION_URL, tpl.SCHEDULE, tpl.STATE_MACHINE):
        resource = resources[logical_id]
        assert resource["ResourceType"] == template["Resources"][logical_id]["Type"]
        assert resource["PhysicalResourceId"], logical_id


def test_outputs_and_parameters_are_those_of_the_executed_change_set(deployed):
    stack = deployed.stack()
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == deployed.outputs
    assert set(outputs) == {
        tpl.OUT_STATE_MACHINE_ARN,
        tpl.OUT_REVIEW_URL_BASE,
        tpl.OUT_TABLE_NAME,
        tpl.OUT_TOPIC_ARN,
        tpl.OUT_SCHEDULE_NAME,
    }
    assert outputs[tpl.OUT_SCHEDULE_NAME] == names.schedule_name(SETTINGS)
    assert deployed.parameters()[tpl.CODE_BUCKET] == CODE_BUCKET


def test_the_state_machine_is_substituted_and_served_by_the_api(deployed):
    machine = deployed.aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployed.outputs[tpl.OUT_STATE_MACHINE_ARN]
    )
    assert "${" not in machine["definition"]
    function_arn = deployed.aws.client("lambda").get_function(
        FunctionName=SETTINGS.approval_function_name
    )["Configuration"]["FunctionArn"]
    assert function_arn in machine["definition"]
    assert SETTINGS.pipeline_name in machine["definition"]


def test_the_link_signing_secret_has_a_generated_value(deployed):
    secrets = deployed.aws.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=names.signing_secret_name(SETTINGS))["SecretString"]
    assert len(value) == tpl.SECRET_LENGTH and value.isalnum()  # ExcludePunctuation
    variables = deployed.aws.client("lambda").get_function_configuration(
        FunctionName=SETTINGS.approval_function_name
    )["Environment"]["Variables"]
    arn = secrets.describe_secret(SecretId=names.signing_secret_name(SETTINGS))["ARN"]
    assert variables["SIGNING_SECRET_ARN"] == arn
    # No secret's value in the environment (GetFunction shows it to anyone allowed to read
    # the function): every secret the function uses arrives as an ARN.
    for listed in secrets.list_secrets()["SecretList"]:
        secret = secrets.get_secret_value(SecretId=listed["ARN"])["SecretString"]
        assert all(secret not in value for value in variables.values()), listed["Name"]
    assert not {"SIGNING_SECRET", "SLACK_WEBHOOK_URL", "SLACK_SIGNING_SECRET"} & set(variables)


def test_the_schedule_starts_the_state_machine(deployed):
    schedule = deployed.aws.client("scheduler").get_schedule(Name=names.schedule_name(SETTINGS))
    assert schedule["ScheduleExpression"] == deployed.parameters()[tpl.SCHEDULE_EXPRESSION]
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == deployed.outputs[tpl.OUT_STATE_MACHINE_ARN]
    assert schedule["FlexibleTimeWindow"]["Mode"] == "FLEXIBLE"


def test_the_review_url_base_is_answered_by_the_approval_function(deployed):
    base = deployed.outputs[tpl.OUT_REVIEW_URL_BASE]
    assert LOCAL_URL.fullmatch(base), base
    config = deployed.aws.client("lambda").get_function_url_config(
        FunctionName=SETTINGS.approval_function_name
    )
    assert (config["FunctionUrl"], config["AuthType"]) == (base, "NONE")
    status, content_type, body = _get(base)
    assert (status, content_type) == (404, "text/html")  # the handler's page, no route at /
    assert b"<!doctype html>" in body.lower()
    status, content_type, _ = _get(f"{base}review")
    assert 400 <= status < 500 and content_type == "text/html"  # unsigned: refused


def test_the_approval_function_has_reserved_concurrency_and_json_logs(deployed):
    function = deployed.aws.client("lambda").get_function(
        FunctionName=SETTINGS.approval_function_name
    )
    assert function["Concurrency"] == {
        "ReservedConcurrentExecutions": tpl.DEFAULT_APPROVAL_CONCURRENCY
    }
    assert function["Configuration"]["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": names.function_log_group(SETTINGS),
    }


def test_a_second_change_set_updates_resources_parameters_and_outputs(deployed):
    base = deployed.outputs[tpl.OUT_REVIEW_URL_BASE]
    lambda_client = deployed.aws.client("lambda")
    scheduler = deployed.aws.client("scheduler")
    try:
        result = _deploy(
            deployed.aws,
            tpl.workflow_template(SETTINGS),
            STACK,
            {
                tpl.SCHEDULE_EXPRESSION: "rate(1 day)",
                tpl.APPROVAL_BASE_URL: base,
                tpl.APPROVAL_CONCURRENCY: "3",
            },
        )
        assert result.outcome == UPDATED
        assert deployed.stack()["StackStatus"] == "UPDATE_COMPLETE"
        parameters = deployed.parameters()
        assert parameters[tpl.SCHEDULE_EXPRESSION] == "rate(1 day)"
        assert parameters[tpl.APPROVAL_BASE_URL] == base
        assert parameters[tpl.CODE_BUCKET] == CODE_BUCKET  # kept: UsePreviousValue
        assert result.outputs == deployed.outputs
        schedule = scheduler.get_schedule(Name=names.schedule_name(SETTINGS))
        assert schedule["ScheduleExpression"] == "rate(1 day)"
        variables = lambda_client.get_function_configuration(
            FunctionName=SETTINGS.approval_function_name
        )["Environment"]["Variables"]
        assert variables["APPROVAL_BASE_URL"] == base
        concurrency = lambda_client.get_function_concurrency(
            FunctionName=SETTINGS.approval_function_name
        )
        assert concurrency["ReservedConcurrentExecutions"] == 3
        assert _get(base)[0] == 404  # the URL outlives the function's update
    finally:
        _deploy(
            deployed.aws,
            tpl.workflow_template(SETTINGS),
            STACK,
            {
                tpl.SCHEDULE_EXPRESSION: DEFAULT_SCHEDULE,
                tpl.APPROVAL_CONCURRENCY: str(tpl.DEFAULT_APPROVAL_CONCURRENCY),
            },
        )
    schedule = scheduler.get_schedule(Name=names.schedule_name(SETTINGS))
    assert schedule["ScheduleExpression"] == DEFAULT_SCHEDULE


# -- the bridged resources through a stack's life ----------------------------------------------

LIFE = "lifecycle"


def _life_template(secret_name: str) -> dict[str, Any]:
    role = {"Fn::GetAtt": ["Role", "Arn"]}
    definition = {"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": "${Greeting}"}}}
    definition["States"]["Say"]["End"] = True
    return {
        "Parameters": {
            "Expression": {"Type": "String", "Default": "rate(1 hour)"},
            "AuthType": {"Type": "String", "Default": "NONE"},
            "SecretDescription": {"Type": "String", "Default": "first"},
            "Greeting": {"Type": "String", "Default": "hello"},
        },
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": f"{LIFE}-role",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": f"{LIFE}-function",
                    "Runtime": tpl.LAMBDA_RUNTIME,
                    "Handler": tpl.LAMBDA_HANDLER,
                    "Role": role,
                    "Code": {"ZipFile": "# the seam runs the project's own handler"},
                },
            },
            "Url": {
                "Type": "AWS::Lambda::Url",
                "Properties": {
                    "AuthType": {"Ref": "AuthType"},
                    "TargetFunctionArn": {"Fn::GetAtt": ["Function", "Arn"]},
                },
            },
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "Name": secret_name,
                    "Description": {"Ref": "SecretDescription"},
                    "GenerateSecretString": {"PasswordLength": 20},
                },
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": f"{LIFE}-machine",
                    "RoleArn": role,
                    "DefinitionString": json.dumps(definition),
                    "DefinitionSubstitutions": {"Greeting": {"Ref": "Greeting"}},
                },
            },
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": f"{LIFE}-schedule",
                    "ScheduleExpression": {"Ref": "Expression"},
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": {"Ref": "Machine"}, "RoleArn": role},
                },
            },
        },
        "Outputs": {
            "Url": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}},
            "Secret": {"Value": {"Ref": "Secret"}},
            "Schedule": {"Value": {"Fn::GetAtt": ["Schedule", "Arn"]}},
        },
    }


def test_bridged_resources_update_and_delete_with_their_stack(deployed):
    aws = deployed.aws
    lambda_client, secrets = aws.client("lambda"), aws.client("secretsmanager")
    scheduler, sfn = aws.client("scheduler"), aws.client("stepfunctions")
    machine_arn = f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:{LIFE}-machine"

    created = _deploy(aws, _life_template(f"{LIFE}/one"), LIFE, {})
    url, secret_arn = created.outputs["Url"], created.outputs["Secret"]
    assert LOCAL_URL.fullmatch(url) and _get(url)[0] == 404
    value = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    assert len(value) == 20
    assert (
        json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"])["States"][
            "Say"
        ]["Result"]
        == "hello"
    )

    # Changed properties update the resources in place.
    changed = {
        "Expression": "rate(2 hours)",
        "AuthType": "AWS_IAM",
        "SecretDescription": "second",
        "Greeting": "bye",
    }
    updated = _deploy(aws, _life_template(f"{LIFE}/one"), LIFE, changed)
    assert updated.outputs == created.outputs
    config = lambda_client.get_function_url_config(FunctionName=f"{LIFE}-function")
    assert (config["FunctionUrl"], config["AuthType"]) == (url, "AWS_IAM")
    secret = secrets.describe_secret(SecretId=secret_arn)
    assert secret["Description"] == "second"
    assert secrets.get_secret_value(SecretId=secret_arn)["SecretString"] == value
    schedule = scheduler.get_schedule(Name=f"{LIFE}-schedule")
    assert schedule["ScheduleExpression"] == "rate(2 hours)"
    assert (
        json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"])["States"][
            "Say"
        ]["Result"]
        == "bye"
    )

    # A new name replaces the secret, and the output follows.
    renamed = _deploy(aws, _life_template(f"{LIFE}/two"), LIFE, {})
    assert renamed.outputs["Secret"] != secret_arn
    assert secrets.describe_secret(SecretId=f"{LIFE}/two")["ARN"] == renamed.outputs["Secret"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        secrets.describe_secret(SecretId=f"{LIFE}/one")

    # Deleting the stack deletes them all, and the URL stops answering.
    aws.client("cloudformation").delete_stack(StackName=LIFE)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        secrets.describe_secret(SecretId=f"{LIFE}/two")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        scheduler.get_schedule(Name=f"{LIFE}-schedule")
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=machine_arn)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        lambda_client.get_function(FunctionName=f"{LIFE}-function")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
    # ... and the workflow stack's URL still does.
    assert _get(deployed.outputs[tpl.OUT_REVIEW_URL_BASE])[0] == 404


def _get(url: str) -> tuple[int, str, bytes]:
    """Status, media type and body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()
