"""The approval function's template properties: reserved concurrency and JSON logs.

Its Function URL is public (AuthType NONE), so the function reserves a fixed concurrency: a
flood of requests is throttled at that many running at once (a Function URL answers 429)
instead of using the account's whole Lambda concurrency (Lambda developer guide: "Lambda
function URLs", throttling; "Configuring reserved concurrency"). Its logs are JSON through
Lambda's own logging configuration (LoggingConfig, "Configuring JSON and plain text log
formats"), which the Python runtime honours for records written with `logging`.
"""

from __future__ import annotations

import logging

import pytest

from core import names
from core.settings import Settings
from deploy import template as tpl


@pytest.fixture(scope="module")
def function_and_parameters() -> tuple[dict, dict]:
    template = tpl.workflow_template(Settings())
    return template["Resources"][tpl.FUNCTION]["Properties"], template["Parameters"]


def test_the_function_reserves_a_parameterised_concurrency(function_and_parameters):
    function, parameters = function_and_parameters
    assert function["ReservedConcurrentExecutions"] == {"Ref": tpl.APPROVAL_CONCURRENCY}
    parameter = parameters[tpl.APPROVAL_CONCURRENCY]
    assert parameter["Type"] == "Number"
    assert int(parameter["Default"]) == tpl.DEFAULT_APPROVAL_CONCURRENCY == 10
    assert parameter["MinValue"] == 1  # 0 would throttle every request: the function off


def test_the_function_logs_json_at_info_through_lambdas_logging_config(function_and_parameters):
    function, _ = function_and_parameters
    assert function["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": {"Ref": tpl.FUNCTION_LOGS},
    }
    assert "LOG_LEVEL" not in function["Environment"]["Variables"]
    assert names.function_log_group(Settings())  # the group the stack creates and retains


def test_on_lambda_the_application_log_level_rules(approval_stack, monkeypatch):
    """With LoggingConfig, Lambda sets AWS_LAMBDA_LOG_LEVEL and the root logger's level; the
    package then sets no level of its own that would let lower records through."""
    approval_logger = logging.getLogger("approval")
    monkeypatch.setattr(approval_logger, "level", approval_logger.level)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")
    approval_stack.open()
    assert approval_logger.level == logging.NOTSET
    monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL")
    approval_stack.open()
    assert approval_logger.level == logging.DEBUG  # elsewhere LOG_LEVEL still applies
