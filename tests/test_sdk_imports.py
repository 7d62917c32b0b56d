"""Importing the Step Functions Data Science SDK leaves the process's logging as it was.

`stepfunctions/__init__.py` runs `logging.getLogger().setLevel(logging.ERROR)`, which would
hide every warning of the whole process. The project imports the SDK only through
`workflow.sdk`, which restores the root logger's level.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from core.settings import PROJECT_ROOT

#: Every project module that uses the SDK, and the calls that build with it.
_PROBE = """
import json, logging
root = logging.getLogger()
root.setLevel(logging.INFO)
before = root.level

import workflow
import workflow.approval, workflow.definition, workflow.endpoint, workflow.inputs
import workflow.notifications, workflow.package, workflow.pipeline, workflow.segment
import workflow.tasks
from core.settings import Settings
from deploy.template import workflow_template

workflow.asl(Settings())
workflow_template(Settings())
print(json.dumps({"before": before, "after": root.level}))
"""

_PACKAGES = ("core", "clients", "localaws", "deploy", "workflow", "approval", "pipelines", "mlops")


def test_building_the_workflow_keeps_the_root_logger_level():
    """In a fresh interpreter: the SDK is first imported by the project's own modules."""
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", _PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    levels = json.loads(done.stdout.strip().splitlines()[-1])
    assert levels["after"] == levels["before"] == 20  # INFO, not the SDK's ERROR (40)


def test_only_workflow_sdk_imports_the_step_functions_sdk():
    """Every other module takes the SDK's names from workflow.sdk, so the fix covers them."""
    direct = []
    for package in _PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                if any(n == "stepfunctions" or n.startswith("stepfunctions.") for n in names):
                    direct.append(str(path.relative_to(PROJECT_ROOT)))
    assert set(direct) == {"workflow/sdk.py"}
