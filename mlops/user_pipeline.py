"""`mlops run --module-name`: build a user's SageMaker pipeline, in a child interpreter.

As the SageMaker Projects seed code's `run-pipeline --module-name pipelines.x.pipeline
--kwargs '{...}'` does (its `_utils.get_pipeline_driver` imports the module and calls
`get_pipeline(**kwargs)`), the module is imported from the current folder and its function
returns a `sagemaker.workflow.pipeline.Pipeline`. It runs in a child process
(user_pipeline_child.py) because the user's code is not ours: it may print, set up logging,
patch things, or name its package `pipelines` as ours is named; in a fresh `python -I`
(no PYTHONPATH, no user site, no script folder on sys.path) with the user's folder first and
our packages hidden, the user's names win. The local AWS is in the child's standard
environment (AWS_ENDPOINT_URL and the account's credentials), so `boto3.Session()` and
sagemaker sessions in the user's code reach it unchanged; the SDK's defaults file names the
default bucket so `Session().default_bucket()` needs no STS call.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UsageError

#: The SageMaker Projects seed code's convention (`_utils.get_pipeline_driver`).
DEFAULT_FUNCTION = "get_pipeline"
#: Arguments filled in from the local AWS when the function names them and --kwargs does not.
FILLED = ("region", "role", "default_bucket")
#: The environment variable naming the SDK's user defaults file (sagemaker/config/config.py,
#: ENV_VARIABLE_USER_CONFIG_OVERRIDE).
SDK_CONFIG_VARIABLE = "SAGEMAKER_USER_CONFIG_OVERRIDE"
#: The child's log, in the run folder.
BUILD_LOG = "build.log"
_CHILD = Path(__file__).with_name("user_pipeline_child.py")
#: This project's top-level packages (setup.py): hidden from the user's code in the child.
PROJECT_PACKAGES = (
    "approval",
    "clients",
    "core",
    "deploy",
    "localaws",
    "mlops",
    "pipelines",
    "scripts",
    "workflow",
)


@dataclass(frozen=True)
class UserRequest:
    """A user's pipeline to run: where its function is and what to call it with."""

    module: str
    function: str = DEFAULT_FUNCTION
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: The folder the module is imported from (the current folder of `mlops run`).
    folder: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class UserPipeline:
    """What the user's function returned: the pipeline's name and its definition JSON."""

    name: str
    definition: str


def parse_module(text: str) -> tuple[str, str]:
    """`MODULE[:FUNCTION]` as (module, function); dotted Python names or UsageError."""
    module, _, function = text.partition(":")
    function = function or DEFAULT_FUNCTION
    if not all(part.isidentifier() for part in module.split(".")) or not function.isidentifier():
        raise UsageError(
            f"--module-name {text!r}: expected MODULE[:FUNCTION] with dotted Python names, "
            "e.g. pipelines.abalone.pipeline or pipelines.abalone.pipeline:get_pipeline"
        )
    return module, function


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """--kwargs as a dict: a JSON object, or a Python dict literal as the seed code reads it.

    The seed code's `convert_struct` parses with `ast.literal_eval`, which also accepts its
    documented JSON examples (`'{"region":"eu-west-1"}'`) as long as they hold no true, false
    or null; JSON is tried first so those work too.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise UsageError(
                f"--kwargs {_shown(text)}: expected a JSON object, "
                'e.g. \'{"pipeline_name": "MyPipeline"}\''
            ) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UsageError(
            f"--kwargs {_shown(text)}: expected a JSON object of keyword arguments, "
            f"not {type(value).__name__}"
        )
    return value


def sdk_config(bucket: str) -> dict[str, Any]:
    """The SageMaker Python SDK's defaults configuration for a local build.

    `DefaultS3Bucket` names the session's default bucket, so `default_bucket()` makes no
    STS call (which would go to an endpoint the SDK builds itself, ignoring AWS_ENDPOINT_URL);
    `TelemetryOptOut` keeps the SDK from calling home offline. Keys: sagemaker/config/
    config_schema.py (SESSION_DEFAULT_S3_BUCKET_PATH, TELEMETRY_OPT_OUT_PATH); the file:
    https://sagemaker.readthedocs.io/en/stable/overview.html#configuring-and-using-defaults-with-the-sagemaker-python-sdk
    """
    return {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {
                "Modules": {
                    "Session": {"DefaultS3Bucket": bucket},
                    "TelemetryOptOut": True,
                }
            }
        },
    }


def build(request: UserRequest, fill: Mapping[str, str], work: Path, log: Path) -> UserPipeline:
    """Call the user's function in a child interpreter; its output goes to `log`.

    `fill` holds region, role and default_bucket. Every problem in the user's code is a
    UsageError of one line; the traceback is in `log`.
    """
    work.mkdir(parents=True, exist_ok=True)
    config = work / "sagemaker-config.yaml"  # JSON is YAML
    config.write_text(json.dumps(sdk_config(fill["default_bucket"]), indent=1) + "\n")
    request_file = work / "build-request.json"
    request_file.write_text(
        json.dumps(
            {
                "module": request.module,
                "function": request.function,
                "kwargs": request.kwargs,
                "fill": {name: fill[name] for name in FILLED if name in fill},
                "project_packages": PROJECT_PACKAGES,
                "project_root": str(_CHILD.parent.parent),
            }
        )
    )
    environment = {**os.environ, SDK_CONFIG_VARIABLE: str(config)}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as stderr:
        # -I: no PYTHON* variables, no user site-packages, nothing prepended to sys.path.
        completed = subprocess.run(
            [sys.executable, "-I", str(_CHILD), str(request_file)],
            cwd=request.folder,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=False,
        )
    where = f"{request.module}:{request.function}"
    lines = completed.stdout.decode(errors="replace").strip().splitlines()
    try:
        reply = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise UsageError(
            f"--module-name {where}: the build ended without a pipeline (exit code "
            f"{completed.returncode}): {_tail(log)}"
        ) from None
    if "error" in reply:
        raise UsageError(f"--module-name {where}: {reply['error']}")
    return UserPipeline(reply["name"], reply["definition"])


def _tail(log: Path) -> str:
    """The log's last line: what a child that exited (sys.exit, a crash) said last."""
    lines = log.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
