"""The AWS path: templates lint clean, schedules parse, IAM is least privilege, and the
buildspec's build commands deploy into the embedded local AWS and run to the approval step.

The deployment goes through plain CloudFormation calls, and every resource of the template is
created: where moto's CloudFormation falls short, the local AWS bridges it
(localaws/cloudformation_seam.py, pinned by tests/test_localaws_cloudformation.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import names
from core.contracts import POLL_SECONDS, execution_input
from core.settings import DEFAULT_DATA, PROJECT_ROOT, Settings
from deploy import ci, iam
from deploy import template as tpl
from deploy.bundle import build_bundle
from deploy.schedule import (
    DEFAULT_SCHEDULE,
    InvalidScheduleExpression,
    validate_schedule_expression,
)
from mlops.follow import failure_line

CI_TEMPLATE = PROJECT_ROOT / "ci" / "codebuild.template.json"
BUILDSPEC = PROJECT_ROOT / "buildspec.yml"
README = PROJECT_ROOT / "README.md"
BIN = Path(sys.executable).parent
SETTINGS = Settings()
STACK = names.stack_name(SETTINGS)
#: Services whose actions must name resources unless AWS authorizes them on none.
SCOPED_SERVICES = {"sagemaker", "states", "lambda", "dynamodb", "sns"}
SCHEDULE_EXPRESSION = re.compile(r"\b(?:rate|cron|at)\([^()\n]*\)")


@pytest.fixture(scope="module")
def app_template() -> dict[str, Any]:
    return tpl.workflow_template(SETTINGS)


@pytest.fixture(scope="module")
def ci_template() -> dict[str, Any]:
    return json.loads(CI_TEMPLATE.read_text())


# -- templates ----------------------------------------------------------------------------


def test_templates_pass_cfn_lint_with_no_findings(app_template, tmp_path):
    app = tmp_path / "workflow.template.json"
    app.write_text(tpl.render(app_template))
    result = subprocess.run(
        [str(BIN / "cfn-lint"), "--include-checks", "I", "--", str(app), str(CI_TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_committed_ci_template_is_what_mlops_template_ci_generates(ci_template):
    generated = tpl.render(ci.build_ci_template(SETTINGS)) + "\n"
    assert CI_TEMPLATE.read_text() == generated, "run: mlops template --ci --out " + str(
        CI_TEMPLATE.relative_to(PROJECT_ROOT)
    )


def test_workflow_template_is_deterministic(app_template):
    assert tpl.render(tpl.workflow_template(SETTINGS)) == tpl.render(app_template)


def test_definition_substitutions_fill_every_placeholder(app_template):
    from workflow import DEFINITION_SUBSTITUTIONS, placeholders_in

    machine = app_template["Resources"][tpl.STATE_MACHINE]["Properties"]
    used = placeholders_in(machine["DefinitionString"])
    assert used, "the ASL should use ${Placeholder}s"
    assert sorted(machine["DefinitionSubstitutions"]) == used
    assert set(tpl.substitutions(SETTINGS)) == set(DEFINITION_SUBSTITUTIONS)


def test_unknown_placeholder_is_refused():
    asl = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    with pytest.raises(ValueError, match="NotAThing"):
        tpl.build_template(SETTINGS, asl, ["NotAThing"], {})


def test_schedule_input_is_the_workflow_input_contract(app_template):
    from workflow.inputs import defaults

    schedule = app_template["Resources"][tpl.SCHEDULE]["Properties"]
    text = schedule["Target"]["Input"]["Fn::Sub"]
    parameters = app_template["Parameters"]
    for name in (
        tpl.POLL_SECONDS_PARAMETER,
        tpl.ROLLOUT_BAKE_SECONDS,
        tpl.SAGEMAKER_PROJECT_NAME,
        tpl.SAGEMAKER_PROJECT_ID,
    ):
        text = text.replace(f"${{{name}}}", parameters[name]["Default"])
    sent = json.loads(text)
    # The defaults, but the reviewer learns the schedule started the run, and the stack's
    # own poll and bake settings (60 s and 300 s unless deployed otherwise) and SageMaker
    # project (none unless deployed in one).
    assert sent == execution_input(
        {},
        Trigger={"Type": "schedule"},
        PollSeconds=60,
        Rollout={"WaitIntervalInSeconds": 300},
        SageMakerProject={"Name": "", "Id": ""},
    )
    assert set(sent) <= set(defaults(SETTINGS))
    assert POLL_SECONDS in defaults(SETTINGS)


def test_function_and_table_match_the_approval_package(app_template):
    from approval.store import KEY, TTL_ATTRIBUTE

    resources = app_template["Resources"]
    function = resources[tpl.FUNCTION]["Properties"]
    assert (function["Runtime"], function["Handler"]) == (
        "python3.12",
        "approval.handler.lambda_handler",
    )
    assert {"APPROVAL_TABLE", "APPROVAL_BASE_URL", "SIGNING_SECRET_ARN"} <= set(
        function["Environment"]["Variables"]
    )
    table = resources[tpl.TABLE]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    permissions = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"
    ]
    assert {p["Action"] for p in permissions} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    # Anyone may invoke the function only through its URL; EventBridge only for the registry
    # rule (a decision taken in the model registry).
    public = [p for p in permissions if p["Principal"] == "*"]
    assert all(
        p.get("FunctionUrlAuthType") == "NONE" or p.get("InvokedViaFunctionUrl") for p in public
    )
    others = [p for p in permissions if p["Principal"] != "*"]
    assert others == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": tpl.FUNCTION},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [tpl.REGISTRY_RULE, "Arn"]},
        }
    ]


# -- schedule expressions -----------------------------------------------------------------

GOOD_SCHEDULES = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
    "cron(0 6 ? * MON *)",
    "cron(0/15 8-17 ? * MON-FRI *)",
    "cron(30 2 1 * ? *)",
    "cron(0 12 L * ? 2030)",
    "cron(0 9 15W * ? *)",
    "cron(0 9 ? * 6L *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 ? JAN,JUL SUN *)",
    "cron(*/10 * ? * * *)",
    "at(2030-01-31T23:59:00)",
]
BAD_SCHEDULES = [
    ("rate(1 minutes)", "must be one of minute"),
    ("rate(2 hour)", "must be one of minutes, hours, days"),
    ("rate(0 days)", "positive whole number"),
    ("rate(1 week)", "must be one of"),
    ("rate(7  days)", "positive whole number"),
    ("cron(0 6 * * MON *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 6 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 6 ? * MON)", "six fields"),
    ("cron(0 6 * * ? * *)", "six fields"),
    ("cron(60 6 ? * MON *)", "minutes value '60'"),
    ("cron(0 24 ? * MON *)", "hours value '24'"),
    ("cron(0 6 32 * ? *)", "day-of-month value '32'"),
    ("cron(0 6 ? * FUNDAY *)", "day-of-week value 'FUNDAY'"),
    ("cron(0 6 ? * 2#6 *)", "1-5"),
    ("cron(0 6 ? * MON 1969)", "year value '1969'"),
    ("cron(0/0 6 ? * MON *)", "positive number"),
    ("at(2030-02-30T00:00:00)", "not a real date"),
    ("at(2030-01-31 23:59:00)", "yyyy-mm-ddThh:mm:ss"),
    ("every monday", "expected at(...)"),
    (" rate(1 day)", "expected at(...)"),
]


@pytest.mark.parametrize("expression", GOOD_SCHEDULES)
def test_valid_schedule_expressions_are_accepted(expression):
    assert validate_schedule_expression(expression) == expression


@pytest.mark.parametrize(("expression", "reason"), BAD_SCHEDULES)
def test_invalid_schedule_expressions_are_refused_with_the_reason(expression, reason):
    with pytest.raises(InvalidScheduleExpression, match=re.escape(reason)):
        validate_schedule_expression(expression)


def test_every_schedule_in_the_project_is_valid(app_template, ci_template):
    parameter = app_template["Parameters"][tpl.SCHEDULE_EXPRESSION]
    assert parameter["Default"] == DEFAULT_SCHEDULE
    sources = {
        "template default": parameter["Default"],
        "template": json.dumps(app_template),
        "CI template": json.dumps(ci_template),
        "README.md": README.read_text(),
        "buildspec.yml": BUILDSPEC.read_text(),
    }
    found = {
        (where, m) for where, text in sources.items() for m in SCHEDULE_EXPRESSION.findall(text)
    }
    assert ("template default", DEFAULT_SCHEDULE) in found
    assert any(where == "README.md" for where, _ in found), "the README shows how to reschedule"
    for where, expression in sorted(found):
        try:
            validate_schedule_expression(expression)
        except InvalidScheduleExpression as exc:
            pytest.fail(f"{where}: {exc}")


# -- least privilege ----------------------------------------------------------------------


@cache
def _iam_reference() -> dict[str, Any]:
    """cfn-lint's copy of the Service Authorization Reference: actions and resource types."""
    import cfnlint.data

    path = Path(cfnlint.data.__file__).parent / "AdditionalSpecs" / "Policies.json"
    return json.loads(path.read_text())


def _authorizes_on_no_resource(action: str) -> bool:
    service, _, name = action.partition(":")
    spec = _iam_reference()[service]["Actions"][name.lower()]
    return not spec.get("Resources")


def _unwrap(value: Any) -> list[Any]:
    """Both branches of Fn::If (minus AWS::NoValue), or the value itself."""
    if isinstance(value, dict) and "Fn::If" in value:
        branches = value["Fn::If"][1:]
        return [b for b in branches if b != {"Ref": "AWS::NoValue"}]
    return [value]


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for item in policy["PolicyDocument"]["Statement"]:
                for statement in _unwrap(item):
                    yield name, statement


def _listed(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return [x for item in items for x in _unwrap(item)]


def _role_actions(template: dict[str, Any], role: str) -> set[str]:
    return {a for name, s in _statements(template) if name == role for a in _listed(s["Action"])}


def test_every_action_exists_and_none_is_a_wildcard(app_template, ci_template):
    for template in (app_template, ci_template):
        for role, statement in _statements(template):
            assert statement["Effect"] == "Allow"
            for action in _listed(statement["Action"]):
                assert "*" not in action, f"{role}: wildcard action {action}"
                service, _, name = action.partition(":")
                assert name.lower() in _iam_reference()[service]["Actions"], f"{role}: {action}"


def test_star_resources_only_where_aws_authorizes_on_no_resource(app_template, ci_template):
    starred = set()
    for template in (app_template, ci_template):
        for role, statement in _statements(template):
            if "*" not in _listed(statement["Resource"]):
                continue
            for action in _listed(statement["Action"]):
                starred.add(action)
                assert _authorizes_on_no_resource(action), f"{role}: {action} on '*'"
                if action.split(":")[0] in SCOPED_SERVICES:
                    assert action in iam.RESOURCELESS_ACTIONS, f"{role}: {action} on '*'"
    assert "states:SendTaskSuccess" in starred  # the check looked at the approval function


def test_pass_role_is_for_named_roles_and_conditioned_on_the_service(app_template, ci_template):
    passes = []
    for template in (app_template, ci_template):
        for role, statement in _statements(template):
            if "iam:PassRole" in _listed(statement["Action"]):
                passes.append(role)
                assert _listed(statement["Action"]) == ["iam:PassRole"], role
                assert "*" not in _listed(statement["Resource"]), role
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"], role
    assert {tpl.STATE_MACHINE_ROLE, ci.BUILD_ROLE, ci.DEPLOY_ROLE} <= set(passes)


def test_state_machine_may_call_exactly_what_its_definition_calls(app_template):
    machine = app_template["Resources"][tpl.STATE_MACHINE]["Properties"]
    called = set(iam.task_actions(json.loads(machine["DefinitionString"])))
    assert "sagemaker:StartPipelineExecution" in called
    # UpdateEndpoint's AutoRollbackConfiguration: SageMaker reads the alarms as the caller.
    extra = {"iam:PassRole", "cloudwatch:DescribeAlarms"}
    assert _role_actions(app_template, tpl.STATE_MACHINE_ROLE) == called | extra


def test_sagemaker_permissions_name_this_deployment(app_template):
    expected = {
        SETTINGS.pipeline_name,
        f"model-package/{SETTINGS.model_package_group}/",
        f"model-package-group/{SETTINGS.model_package_group}",
        f"/{names.endpoint_prefix(SETTINGS)}*",
    }
    for role, statement in _statements(app_template):
        if not any(a.startswith("sagemaker:") for a in _listed(statement["Action"])):
            continue
        for resource in _listed(statement["Resource"]):
            if resource == "*":
                continue
            text = resource["Fn::Sub"]
            assert any(part in text for part in expected), f"{role}: {text}"


def test_schedule_may_only_start_its_state_machine(app_template):
    statements = [s for role, s in _statements(app_template) if role == tpl.SCHEDULE_ROLE]
    assert {(tuple(s["Action"]), json.dumps(s["Resource"])) for s in statements} == {
        (("states:StartExecution",), json.dumps({"Ref": tpl.STATE_MACHINE})),
        (("sqs:SendMessage",), json.dumps({"Fn::GetAtt": [tpl.SCHEDULE_DLQ, "Arn"]})),
    }


def test_service_roles_trust_only_this_account(app_template, ci_template):
    for template in (app_template, ci_template):
        for name, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                (trust,) = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                condition = trust["Condition"]["StringEquals"]["aws:SourceAccount"]
                assert condition == {"Ref": "AWS::AccountId"}, name


#: Handler permissions for features the workflow stack does not use (VPC, EFS, code
#: signing, layers, customer KMS keys, replicas, imports, streams, data protection, ...).
UNUSED_FEATURES = {
    "*": ("ec2:", "elasticfilesystem:", "s3files:", "kms:", "kinesis:", "firehose:"),
    "AWS::Lambda::Function": (
        "lambda:GetCodeSigningConfig",
        "lambda:PutFunctionCodeSigningConfig",
        "lambda:DeleteFunctionCodeSigningConfig",
        "lambda:GetLayerVersion",
        "lambda:PassCapacityProvider",
        "lambda:PutFunctionScalingConfig",
        "lambda:AssociateRuntimeAlias",
    ),
    "AWS::IAM::Role": (
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
    ),
    "AWS::DynamoDB::Table": (
        "dynamodb:AssociateTableReplica",
        "dynamodb:CreateTableReplica",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:ImportTable",
        "dynamodb:DescribeImport",
        "dynamodb:PutResourcePolicy",
        "dynamodb:DeleteResourcePolicy",
        "dynamodb:UpdateContributorInsights",
        "dynamodb:EnableKinesisStreamingDestination",
        "dynamodb:DisableKinesisStreamingDestination",
        "dynamodb:UpdateKinesisStreamingDestination",
        "iam:CreateServiceLinkedRole",
        "logs:",
        "s3:",
    ),
    "AWS::Logs::LogGroup": (
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        "logs:CreateLogDelivery",
        "logs:PutDataProtectionPolicy",
        "logs:DeleteDataProtectionPolicy",
        "logs:PutIndexPolicy",
        "logs:DeleteIndexPolicy",
        "logs:PutResourcePolicy",
        "logs:DeleteResourcePolicy",
        "logs:PutBearerTokenAuthentication",
        "logs:PutLogGroupDeletionProtection",
        "s3:",
    ),
    "AWS::SecretsManager::Secret": (
        "secretsmanager:ReplicateSecretToRegions",
        "secretsmanager:RemoveRegionsFromReplication",
    ),
    "AWS::SNS::Topic": ("iam:GetRole", "sns:PutDataProtectionPolicy"),
    "AWS::StepFunctions::StateMachine": ("s3:",),
}


def _handler_permissions(resource_type: str) -> set[str]:
    import cfnlint.data

    schemas = Path(cfnlint.data.__file__).parent / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    handlers = schema["handlers"]
    return {
        action
        for operation in ("create", "read", "update", "delete")
        for action in handlers.get(operation, {}).get("permissions", [])
    }


def test_deploy_role_covers_what_cloudformation_handlers_call(app_template, ci_template):
    granted = _role_actions(ci_template, ci.DEPLOY_ROLE)
    for resource_type in sorted({r["Type"] for r in app_template["Resources"].values()}):
        unused = UNUSED_FEATURES["*"] + UNUSED_FEATURES.get(resource_type, ())
        needed = {a for a in _handler_permissions(resource_type) if not a.startswith(unused)}
        assert needed <= granted, f"{resource_type}: deploy role lacks {sorted(needed - granted)}"


# -- the function bundle --------------------------------------------------------------------


def test_bundle_is_deterministic_and_holds_only_what_runs_in_lambda():
    first, second = build_bundle(), build_bundle()
    assert first.data == second.data and first.sha256 == second.sha256
    archive = zipfile.ZipFile(BytesIO(first.data))
    entries = archive.infolist()
    paths = [e.filename for e in entries]
    assert paths == sorted(paths)
    assert "approval/handler.py" in paths and "approval/__init__.py" in paths
    assert "smoketest/handler.py" in paths
    functions = {p for p in paths if p.startswith(("approval/", "smoketest/"))}
    shared = {"core/__init__.py", "core/contracts.py", "core/function_clients.py"}
    assert set(paths) - functions == shared
    assert all(p.endswith(".py") for p in paths)
    assert "approval/local_http.py" not in paths  # the local Function URL is localaws's
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert first.key(SETTINGS).endswith(f"-{first.sha256[:20]}.zip")


def test_the_zipped_handler_imports_with_only_the_zip_and_boto3(tmp_path):
    """As in Lambda: the zip's folder and the runtime's boto3, nothing of the checkout."""
    import boto3

    zipfile.ZipFile(BytesIO(build_bundle().data)).extractall(tmp_path / "task")
    runtime = str(Path(boto3.__file__).parent.parent)
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import approval.handler as h; print(h.lambda_handler)"],
        env={"PYTHONPATH": f"{tmp_path / 'task'}{os.pathsep}{runtime}", "PATH": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "function lambda_handler" in result.stdout


def test_follower_names_the_error_and_cause_of_failures():
    import datetime as dt

    at = dt.datetime(2030, 1, 1, 12, 0, 5)
    entered = {
        "type": "TaskStateEntered",
        "timestamp": at,
        "stateEnteredEventDetails": {"name": "HumanApproval"},
    }
    failed = {
        "type": "ExecutionFailed",
        "timestamp": at,
        "executionFailedEventDetails": {"error": "Boom", "cause": "why"},
    }
    assert failure_line(failed) == "ExecutionFailed: Boom why"
    assert failure_line({**failed, "type": "TaskTimedOut"}) == "TaskTimedOut: Boom why"
    assert failure_line(entered) is None


# -- the buildspec against the embedded local AWS -------------------------------------------


def _build_env(aws_endpoint_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env.update(aws_endpoint_env)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env[ci.ENV_STACK_NAME] = STACK
    env[ci.ENV_SAGEMAKER_ROLE_ARN] = SETTINGS.role_arn
    return env


def _bash(command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _wait_for_state(sfn: Any, execution_arn: str, state: str, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        entered = [
            e for e in events if (e.get("stateEnteredEventDetails") or {}).get("name") == state
        ]
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if entered or status != "RUNNING" or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


@pytest.mark.slow
def test_buildspec_build_phase_deploys_and_runs_to_the_approval(tmp_path):
    from localaws import local_aws
    from localaws.executor import LocalPipelineExecutor

    commands = yaml.safe_load(BUILDSPEC.read_text())["phases"]["build"]["commands"]
    assert [c.split()[:2] for c in commands] == [["mlops", "upsert"], ["mlops", "deploy"]]
    executor = LocalPipelineExecutor(workspace=tmp_path / "work", cache_dir=tmp_path / "cache")
    with local_aws(executor) as aws:
        endpoint_env = {
            k: os.environ[k]
            for k in (
                "AWS_ENDPOINT_URL",
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            )
        }
        env = _build_env(endpoint_env)
        outputs = [_bash(command, env) for command in commands]
        assert f"Pipeline {SETTINGS.pipeline_name}: created" in outputs[0]
        assert f"Stack {STACK}: created" in outputs[1]

        cfn = aws.client("cloudformation")
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        outputs_by_key = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert set(outputs_by_key) == {
            tpl.OUT_STATE_MACHINE_ARN,
            tpl.OUT_REVIEW_URL_BASE,
            tpl.OUT_TABLE_NAME,
            tpl.OUT_TOPIC_ARN,
            tpl.OUT_SCHEDULE_NAME,
        }
        resources = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        assert {r["LogicalResourceId"] for r in resources} == set(
            tpl.workflow_template(SETTINGS)["Resources"]
        )
        assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
        # The Function URL is served locally: the review links open in a browser.
        review_base = outputs_by_key[tpl.OUT_REVIEW_URL_BASE]
        assert f"Review URL base: {review_base}" in outputs[1], outputs[1]
        status, content_type = _http_get(f"{review_base}review")
        assert (status, content_type.split(";")[0]) == (400, "text/html")  # no signed link
        secret = aws.client("secretsmanager").get_secret_value(
            SecretId=names.signing_secret_name(SETTINGS)
        )
        assert len(secret["SecretString"]) == tpl.SECRET_LENGTH

        function = aws.client("lambda").get_function_configuration(
            FunctionName=SETTINGS.approval_function_name
        )
        assert function["Handler"] == tpl.LAMBDA_HANDLER
        assert function["Runtime"] == tpl.LAMBDA_RUNTIME
        # The follow-up update gave the function its own URL for the links it sends.
        variables = function["Environment"]["Variables"]
        assert variables["APPROVAL_BASE_URL"] == outputs_by_key[tpl.OUT_REVIEW_URL_BASE]
        sfn = aws.client("stepfunctions")
        machine = sfn.describe_state_machine(
            stateMachineArn=outputs_by_key[tpl.OUT_STATE_MACHINE_ARN]
        )
        assert "${" not in machine["definition"]
        schedule = aws.client("scheduler").get_schedule(Name=names.schedule_name(SETTINGS))
        assert schedule["ScheduleExpression"] == DEFAULT_SCHEDULE
        assert schedule["Target"]["Arn"] == outputs_by_key[tpl.OUT_STATE_MACHINE_ARN]

        # A run: the pipeline's default input, then `mlops start` polling every second.
        bucket = SETTINGS.bucket_for(aws.account_id)
        aws.client("s3").upload_file(
            str(DEFAULT_DATA), bucket, SETTINGS.prefix("input", DEFAULT_DATA.name)
        )
        started = _bash(f"mlops start --stack-name {STACK} --poll-seconds 1", env)
        execution_arn = re.search(r"Execution: (\S+)", started).group(1)
        events = _wait_for_state(sfn, execution_arn, "HumanApproval")
        entered = [(e.get("stateEnteredEventDetails") or {}).get("name") for e in events]
        failures = [failure_line(e) for e in events if e["type"].endswith("Failed")]
        assert "HumanApproval" in entered, f"never reached HumanApproval: {entered} {failures}"
        _wait_for_approval_record(aws, events, failures)
        assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"

        assert _bash(commands[0], env).strip() == f"Pipeline {SETTINGS.pipeline_name}: unchanged"
        again = _bash(commands[1], env)
        assert f"Stack {STACK}: unchanged" in again, again


def _http_get(url: str) -> tuple[int, str]:
    """Status and Content-Type of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", "")


def _wait_for_approval_record(aws: Any, events: list[dict], failures: list[str]) -> None:
    """The in-process approval Lambda opened a PENDING approval for the task."""
    table = aws.client("dynamodb")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = table.scan(TableName=SETTINGS.approval_table_name)["Items"]
        if items:
            assert [i["status"]["S"] for i in items] == ["PENDING"]
            return
        time.sleep(0.5)
    pytest.fail(f"the approval function opened no approval; failures: {failures}")
