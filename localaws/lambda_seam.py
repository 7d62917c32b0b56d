"""Seam 1: Lambda `Invoke` runs the function's real Python handler in this process.

moto's no-Docker Lambda backend echoes the payload back. This subclass looks up the
function's configured `Handler` ("package.module.function"), imports it from the project and
calls it with the decoded event, the function's environment applied, and a context object
shaped like Lambda's. An exception becomes Lambda's `Unhandled` function error, which Step
Functions sees as a failed task, exactly as on AWS.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend, lambda_simple_backends

Handler = Callable[[dict[str, Any], Any], Any]

_ENV_LOCK = threading.Lock()


class LambdaContext:
    """The attributes of Lambda's context object that handlers commonly read."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int, timeout_s: int):
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self._timeout_s = timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_s * 1000


def resolve_handler(spec: str) -> Handler:
    """Import "package.module.function" the way the Lambda Python runtime does."""
    module_name, _, attr = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Lambda handler {spec!r}: expected 'module.function'")
    return getattr(importlib.import_module(module_name), attr)


class InProcessLambdaBackend(LambdaSimpleBackend):
    """moto's no-Docker Lambda backend, but Invoke runs the configured handler."""

    # moto derives URL routing from the backend's module: keep moto's own.
    __module__ = LambdaSimpleBackend.__module__

    def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        fn = self.get_function(function_name, qualifier)
        handler = resolve_handler(fn.handler)
        context = LambdaContext(fn.function_name, fn.function_arn, fn.memory_size, fn.timeout)
        event = json.loads(body) if body else {}
        with _ENV_LOCK:
            os.environ.update(fn.environment_vars or {})
        try:
            result = handler(event, context)
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "stackTrace": traceback.format_exc().splitlines(),
                }
            ).encode()
        return json.dumps(result).encode()


def install() -> None:
    """Make every Lambda backend moto creates from now on the in-process one.

    The local AWS calls this before moto has created any backend of the service, so no
    reset is needed (moto's reset would wipe every other service's state too).
    """
    lambda_simple_backends.backend = InProcessLambdaBackend
