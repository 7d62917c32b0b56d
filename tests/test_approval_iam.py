"""The approval function's role grants exactly the AWS calls the approval code makes.

The calls are read from the code itself (ast): the services it asks `approval.aws.client` for,
and the operations of those services it calls, by boto3's method names (botocore's model maps
them to API operations, and its signing name to the IAM prefix, e.g. stepfunctions ->
states). Lambda's runtime writes the function's logs with the role, so the two log actions
are the only ones granted for something other than the code.
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


def _called_by_approval_code() -> set[str]:
    services: set[str] = set()
    methods: set[str] = set()
    own: set[str] = set()  # the package's own functions and methods, e.g. Request.query
    for path in sorted((PROJECT_ROOT / "approval").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name == "client" and node.args and isinstance(node.args[0], ast.Constant):
                services.add(node.args[0].value)
            elif isinstance(callee, ast.Attribute):
                methods.add(callee.attr)
    actions = set()
    for service in services:
        prefix, operations = _operations(service)
        actions |= {f"{prefix}:{operations[m]}" for m in methods - own if m in operations}
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
    assert "dynamodb:Query" not in called  # request.query() is the package's own method


def test_the_approval_role_grants_exactly_what_the_approval_code_calls():
    template = tpl.workflow_template(Settings())
    granted = _granted(template, tpl.FUNCTION_ROLE)
    called = _called_by_approval_code()
    assert granted - RUNTIME_ACTIONS - called == set(), "granted but never called"
    assert called - granted == set(), "called but not granted"
    assert granted >= RUNTIME_ACTIONS
