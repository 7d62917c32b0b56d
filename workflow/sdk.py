"""The Step Functions Data Science SDK, imported without side effects on the process.

Every module of this package takes the SDK's names from here, never from `stepfunctions`
directly. The SDK's `__init__` sets the root logger's level to ERROR ("disable
logging.warning() from import packages"), which would silence every warning of every library
and of this project for the rest of the process; importing it through `import_quietly`
restores the level the root logger had. The SDK also imports `pkg_resources`, which recent
setuptools releases deprecate with a UserWarning at import time; that warning is about the
SDK, not about anything a user can change, so it is not shown.

The SDK imports the SageMaker SDK, which `pipelines.sdk` imports quietly first.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from types import ModuleType

import pipelines.sdk  # noqa: F401 - first, so the SageMaker SDK imports quietly


def import_quietly(module: str) -> ModuleType:
    """Import an SDK module, keeping the root logger's level as it was before."""
    root = logging.getLogger()
    level = root.level
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            return importlib.import_module(module)
    finally:
        root.setLevel(level)


import_quietly("stepfunctions")  # its __init__ imports every module named below

from stepfunctions.steps import (  # noqa: E402
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    Graph,
    Pass,
    Retry,
    Succeed,
    Task,
    Wait,
)
from stepfunctions.steps.choice_rule import BaseRule  # noqa: E402
from stepfunctions.steps.states import State  # noqa: E402

__all__ = [
    "BaseRule",
    "Catch",
    "Chain",
    "Choice",
    "ChoiceRule",
    "Fail",
    "Graph",
    "Pass",
    "Retry",
    "State",
    "Succeed",
    "Task",
    "Wait",
    "import_quietly",
]
