"""Seam 1: Lambda `Invoke` runs the function's real Python handler in this process.

moto's no-Docker Lambda backend echoes the payload back. This subclass looks up the
function's configured `Handler` ("package.module.function"), imports it from the project and
calls it with the decoded event, the function's environment applied, and a context object
shaped like Lambda's. An exception becomes Lambda's `Unhandled` function error, which Step
Functions sees as a failed task, exactly as on AWS.

A function URL config (CreateFunctionUrlConfig, or `AWS::Lambda::Url` through CloudFormation)
is served for real: `localaws.function_urls` starts an HTTP server on 127.0.0.1 that invokes
the function through `invoke` below, and the config's FunctionUrl is that server's address.
Deleting the config or the function, or resetting the backend, stops the server.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import FunctionUrlConfig
from moto.awslambda_simple.models import LambdaSimpleBackend, lambda_simple_backends
from moto.core.exceptions import JsonRESTError

from localaws import accounts, function_urls

Handler = Callable[[dict[str, Any], Any], Any]


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


class _SharedEnvironment:
    """os.environ set to one function's variables while any invocation with them runs.

    A handler reads its configuration from os.environ, as in Lambda, and in one process there
    is one environment. Invocations with the same variables (the same function, as when 50
    people click at once) run concurrently, as Lambda runs them in parallel containers; one
    with other variables waits until those have finished. Afterwards the process's own
    values are back.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._variables: dict[str, str] | None = None
        self._saved: dict[str, str | None] = {}
        self._running = 0
        self._depth = threading.local()

    @contextmanager
    def applied(self, variables: dict[str, str]) -> Iterator[None]:
        nested = getattr(self._depth, "value", 0) > 0
        outer: dict[str, str | None] = {}
        with self._changed:
            # A handler that invokes another function in its own thread cannot wait for
            # itself: the nested invocation lays its variables over the current ones.
            while not nested and self._running and self._variables != variables:
                self._changed.wait()
            if self._running == 0:
                self._saved = {name: os.environ.get(name) for name in variables}
                os.environ.update(variables)
                self._variables = dict(variables)
            elif nested and self._variables != variables:
                outer = {name: os.environ.get(name) for name in variables}
                os.environ.update(variables)
            self._running += 1
        self._depth.value = getattr(self._depth, "value", 0) + 1
        try:
            yield
        finally:
            self._depth.value -= 1
            with self._changed:
                self._running -= 1
                if nested and self._variables != variables:
                    _restore(outer)
                if self._running == 0:
                    _restore(self._saved)
                    self._variables = None
                    self._changed.notify_all()


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_ENVIRONMENT = _SharedEnvironment()
#: Running invocations by function ARN (ARNs name the account, so accounts stay apart).
_IN_FLIGHT: dict[str, int] = {}
_IN_FLIGHT_LOCK = threading.Lock()


class TooManyRequests(JsonRESTError):
    """Lambda's throttle: the function's reserved concurrency is in use (AWS docs, Invoke,
    TooManyRequestsException, HTTP 429, Reason ReservedFunctionConcurrentInvocationLimitExceeded).
    """

    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps(
            {
                "__type": "TooManyRequestsException",
                "message": "Rate Exceeded.",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
            }
        )


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
        with self._in_flight(fn):
            return self._invoke(fn, body, response_headers)

    @contextmanager
    def _in_flight(self, fn: Any) -> Iterator[None]:
        """Count the function's running invocations against its reserved concurrency."""
        limit = int(fn.reserved_concurrency) if fn.reserved_concurrency is not None else None
        with _IN_FLIGHT_LOCK:
            running = _IN_FLIGHT.get(fn.function_arn, 0)
            if limit is not None and running >= limit:
                raise TooManyRequests()
            _IN_FLIGHT[fn.function_arn] = running + 1
        try:
            yield
        finally:
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT[fn.function_arn] -= 1

    def _invoke(self, fn: Any, body: Any, response_headers: Any) -> str | bytes | None:
        if not fn.handler:
            raise LambdaClientError("InvalidParameterValueException", "The function has no handler")
        handler = resolve_handler(fn.handler)
        context = LambdaContext(fn.function_name, fn.function_arn, fn.memory_size, fn.timeout)
        event = json.loads(body) if body else {}
        try:
            with _ENVIRONMENT.applied(self._runtime_environment(fn)):
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

    def _runtime_environment(self, fn: Any) -> dict[str, str]:
        """What Lambda's runtime sets, then the function's own variables.

        Lambda gives a function its region, its name and its execution role's credentials in
        the environment (AWS docs, "Defined runtime environment variables"); here the
        credentials and endpoint are those of the local AWS account the function lives in.
        """
        account = accounts.account(self.account_id)
        runtime = account.environment() if account is not None else {}
        runtime.update(
            {
                "AWS_REGION": self.region_name,
                "AWS_DEFAULT_REGION": self.region_name,
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            }
        )
        return {**runtime, **(fn.environment_vars or {})}

    def create_function_url_config(
        self, name_or_arn: str, config: dict[str, Any]
    ) -> FunctionUrlConfig:
        function = self._lambdas.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        if function.url_config is not None:
            raise LambdaClientError(
                "ResourceConflictException",
                f"Failed to create function url config for [functionArn = "
                f"{function.function_arn}]. Error message:  FunctionUrlConfig exists for this "
                "Lambda function",
            )
        url_config = super().create_function_url_config(name_or_arn, config)
        url_config.url = function_urls.start_function_url(
            function.function_arn, self._url_handler(function.function_name)
        )
        return url_config

    def delete_function_url_config(self, name_or_arn: str) -> None:
        function = self._lambdas.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        super().delete_function_url_config(name_or_arn)
        function_urls.stop_function_url(function.function_arn)

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        before = self._served_urls()
        super().delete_function(function_name, qualifier)
        for arn in before - self._served_urls():
            function_urls.stop_function_url(arn)

    def reset(self) -> None:
        for arn in self._served_urls():
            function_urls.stop_function_url(arn)
        super().reset()

    def _served_urls(self) -> set[str]:
        return {fn.function_arn for fn in self._lambdas.latest() if fn.url_config is not None}

    def _url_handler(self, function_name: str) -> Handler:
        """What the URL's server calls: Invoke on this backend, as Lambda's URL service does."""

        def invoke_through_url(event: dict[str, Any], _context: Any) -> Any:
            response_headers: dict[str, str] = {}
            try:
                payload = self.invoke(
                    function_name, None, json.dumps(event).encode(), {}, response_headers
                )
            except TooManyRequests:
                raise function_urls.Throttled(function_name) from None
            if "x-amz-function-error" in response_headers:
                raise FunctionError(function_name, payload)
            return json.loads(payload) if payload else None

        return invoke_through_url


class FunctionError(RuntimeError):
    """The function behind a URL raised: its Lambda error document is the message."""

    def __init__(self, function_name: str, payload: str | bytes | None):
        text = payload.decode() if isinstance(payload, bytes) else str(payload)
        super().__init__(f"{function_name}: {text}")


def install() -> None:
    """Make every Lambda backend moto creates from now on the in-process one.

    The local AWS calls this before moto has created any backend of the service, so no
    reset is needed (moto's reset would wipe every other service's state too).
    """
    lambda_simple_backends.backend = InProcessLambdaBackend
