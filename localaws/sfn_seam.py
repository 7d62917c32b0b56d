"""Four gaps in moto's Step Functions, filled so state machines behave as on AWS.

1. The aws-sdk integration hands streaming bodies (S3 GetObject's `Body`) to the state data
   as a stream object; AWS gives a string. Streams are read into strings.
2. SendTaskFailure drops its `cause` (only the error reaches the waiting task), so a Catch
   sees no Cause. The cause is passed through.
3. The interpreter calls services (Lambda, aws-sdk integrations) through moto's server with
   fixed dummy keys at localhost:$MOTO_PORT. On AWS a task acts with the execution's role in
   its own account; here it signs with the credentials of the local AWS account that runs the
   execution and calls that account's server, which refuses the dummy keys. The account is
   the execution's, passed on to every thread the interpreter starts for it.
4. StopExecution right after StartExecution fails with an internal error (HTTP 500) while the
   execution's worker thread has not yet made its environment (`ExecutionWorker.env` is
   None); AWS stops any RUNNING execution. The stop waits for the environment, briefly.
5. A Choice rule on a path the state data lacks (`IsPresent` false, the documented way to
   test for a field) makes moto's interpreter log an ERROR ("Exception=NoSuchJsonPathError")
   before the rule answers false as AWS answers; a path that is missing where the definition
   needs it still fails the execution with States.Runtime, in its history, as on AWS. So the
   record says nothing the execution does not, and in a terminal it reads as a failure: it is
   dropped, by a filter on that logger; every other record of the interpreter passes.

1 to 4 are method replacements on moto's own classes, 5 a logging filter; all are installed
once per process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import boto3
from botocore.response import StreamingBody
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_service,
)
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

from localaws import accounts

#: The account whose execution the current interpreter thread runs.
_EXECUTING = threading.local()
_ORIGINAL_LOGIC = ExecutionWorker._execution_logic
_ORIGINAL_STOP = ExecutionWorker.stop
#: How long a stop waits for an execution's worker to make its environment (it takes
#: milliseconds once its thread runs).
STOP_WAIT_SECONDS = 5.0


def _read_streams(self: Any, response: Any, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(response, dict):
        for key, value in list(response.items()):
            if isinstance(value, StreamingBody):
                response[key] = value.read().decode("utf-8")


def _send_task_failure(self: StepFunctionResponse) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


def _execution_logic(self: ExecutionWorker) -> None:
    _EXECUTING.account_id = self._evaluation_details.aws_execution_details.account
    _ORIGINAL_LOGIC(self)


def _stop(self: ExecutionWorker, stop_date: Any, error: str | None, cause: str | None) -> None:
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while self.env is None and time.monotonic() < deadline:
        time.sleep(0.005)
    _ORIGINAL_STOP(self, stop_date=stop_date, error=error, cause=cause)


class _AccountThread(threading.Thread):
    """A thread of moto's interpreter that runs for the account of the thread that made it.

    The interpreter runs task states, branches and iterations in threads of their own; each
    inherits the execution's account, so its service calls reach the right local AWS even
    while another one runs in the process.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_id = getattr(_EXECUTING, "account_id", None)

    def run(self) -> None:
        _EXECUTING.account_id = self._account_id
        super().run()


class _ThreadingWithAccounts:
    """The `threading` module as moto's interpreter modules see it: its Thread inherits."""

    Thread = _AccountThread

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def _threads_inherit_the_account() -> None:
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith("moto.stepfunctions.parser") or module is None:
            continue
        if getattr(module, "Thread", None) is threading.Thread:
            module.Thread = _AccountThread  # type: ignore[attr-defined]
        if getattr(module, "threading", None) is threading:
            module.threading = _ThreadingWithAccounts()  # type: ignore[attr-defined]


class _AccountClients:
    """Stands in for the `boto3` module in moto's interpreter: clients of the running account."""

    @staticmethod
    def client(**kwargs: Any) -> Any:
        account_id = getattr(_EXECUTING, "account_id", None)
        # Branches of Parallel and Map states run in threads of their own: when one local
        # AWS runs (the usual case), it is the account.
        account = accounts.account(account_id) if account_id else accounts.only_account()
        if account is not None:
            kwargs.update(
                aws_access_key_id=account.access_key_id,
                aws_secret_access_key=account.secret_access_key,
                endpoint_url=account.endpoint,
            )
        return boto3.client(**kwargs)


#: The logger of moto's ASL components, which logs what each one's evaluation raised.
INTERPRETER_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


class MissingPathRecords(logging.Filter):
    """Drops the interpreter's ERROR for a path the state data lacks (gap 5)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg % record.args if record.args else record.msg).startswith(
            "Exception=NoSuchJsonPathError"
        )


_MISSING_PATHS = MissingPathRecords()


def install() -> None:
    """Patch moto's Step Functions classes (idempotent)."""
    logger = logging.getLogger(INTERPRETER_LOGGER)
    if _MISSING_PATHS not in logger.filters:
        logger.addFilter(_MISSING_PATHS)
    aws_sdk_service.StateTaskServiceAwsSdk._normalise_response = _read_streams
    StepFunctionResponse.send_task_failure = _send_task_failure
    ExecutionWorker._execution_logic = _execution_logic
    ExecutionWorker.stop = _stop  # type: ignore[method-assign]
    boto_client.boto3 = _AccountClients
    _threads_inherit_the_account()
