"""The approval function's role grants exactly the AWS calls the approval code makes.

The calls are read from the code itself (ast): the methods called on the clients it asks
`approval.aws.client` for (directly, through a local name, or as the store's `self._db`), by
boto3's method names (botocore's model maps them to API operations, and its signing name to
the IAM prefix, e.g. stepfunctions -> states). Lambda's runtime writes the function's logs
with the role, so the two log actions are the only ones granted for something other than the
code.
"""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name

from core.settings import PROJECT_ROOT, Settings
from deploy import template as tpl

#: What the Lambda runtime itself does with the function's role (to its own log group).
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


@cache
def _operations(service: str) -> tuple[str, dict[str, str]]:
    """The IAM prefix of a boto3 service and its operations by boto3 method name."""
    model = botocore.session.get_session().get_service_model(service)
    return model.signing_name, {xform_name(op): op for op in model.operation_names}


#: Receivers that are a client of a known service: the stores' DynamoDB client.
CLIENT_ATTRIBUTES = {"self._db": "dynamodb"}


def _client_service(node: ast.expr) -> str | None:
    """The service of `client("x")` or `aws.client("x")`, else None."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    callee = node.func
    name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
    first = node.args[0]
    if name == "client" and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def _called_by_approval_code() -> set[str]:
    """Every operation called on a client: `aws.client("x").op()`, `c = aws.client("x")` then
    `c.op()` in the same function, or `self._db.op()` (the store's DynamoDB client)."""
    calls: set[tuple[str, str]] = set()
    for path in sorted((PROJECT_ROOT / "approval").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            clients = {
                target.id: service
                for node in ast.walk(function)
                if isinstance(node, ast.Assign) and (service := _client_service(node.value))
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                receiver = node.func.value
                service = (
                    _client_service(receiver)
                    or (clients.get(receiver.id) if isinstance(receiver, ast.Name) else None)
                    or CLIENT_ATTRIBUTES.get(ast.unparse(receiver))
                )
                if service:
                    calls.add((service, node.func.attr))
    actions = set()
    for service, method in calls:
        prefix, operations = _operations(service)
        assert method in operations, f"{service} has no operation {method}"
        actions.add(f"{prefix}:{operations[method]}")
    return actions


def _granted(template: dict[str, Any], role: str) -> set[str]:
    def branches(value: Any) -> list[Any]:  # both sides of an Fn::If, less AWS::NoValue
        if isinstance(value, dict) and "Fn::If" in value:
            return [v for v in value["Fn::If"][1:] if v != {"Ref": "AWS::NoValue"}]
        return [value]

    granted = set()
    for policy in template["Resources"][role]["Properties"]["Policies"]:
        for item in policy["PolicyDocument"]["Statement"]:
            for statement in branches(item):
                listed = statement["Action"]
                granted |= {listed} if isinstance(listed, str) else set(listed)
    return granted


def test_the_code_reading_finds_the_calls_it_should():
    called = _called_by_approval_code()
    assert {"dynamodb:GetItem", "states:SendTaskSuccess", "ses:SendRawEmail"} <= called
    assert "dynamodb:CreateTable" not in called  # local-only helper, not run in Lambda
    assert "sagemaker:Search" not in called  # re.search is no client's method
    assert {"dynamodb:Query", "sagemaker:DescribeModelPackage"} <= called  # registry decisions


def test_the_approval_role_grants_exactly_what_the_approval_code_calls():
    template = tpl.workflow_template(Settings())
    granted = _granted(template, tpl.FUNCTION_ROLE)
    called = _called_by_approval_code()
    assert granted - RUNTIME_ACTIONS - called == set(), "granted but never called"
    assert called - granted == set(), "called but not granted"
    assert granted >= RUNTIME_ACTIONS
