"""The approval function on Lambda's Python (core.contracts.LAMBDA_RUNTIME), not only on 3.11.

The zip that `deploy.bundle` builds is unpacked into a folder, as Lambda does, and run by a
worker process of a Python 3.12 venv that holds boto3 and nothing else of this project (as
Lambda's runtime provides boto3): the worker imports the handler from the zip alone and calls
it once per event, keeping its module state between calls as a warm container does. Each
event carries the environment the caller has at that moment, as the function's environment.

Every test of this module runs with that worker as `approval.handler.lambda_handler`: the
local Function URL, `ApprovalStack.open` and the local Lambda that a state machine invokes
all reach the 3.12 worker. The tests themselves are the approval tests' own (imported below),
so the same requests, reviews, decisions, workflow callbacks and refusals run on both Pythons.

Which 3.12: $LAMBDA_PYTHON if set, else python3.12 on PATH, else pyenv's (the machine image
has one). No package registry this project may use ships a CPython 3.12 for Debian 12 (uv's
and pyenv's downloads come from elsewhere), so without any the tests skip and say why.
"""

from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

# The approval tests that run again here, on the runtime's Python.
from test_approval_http import (  # noqa: F401
    test_a_decision_whose_callback_fails_is_recorded_and_shown,
    test_backend_failure_and_missing_configuration_are_500_pages,
    test_refused_decisions_change_nothing,
    test_review_of_unknown_and_expired_links,
    test_review_page_shows_the_facts_and_signed_forms_and_changes_nothing,
    test_review_refuses_altered_links,
    test_wrong_method_and_unknown_path,
)
from test_approval_refusals import (  # noqa: F401
    test_a_forged_request_is_refused_without_touching_the_table,
    test_a_genuine_link_still_reads_the_table,
    watched,
)
from test_approval_slack import (  # noqa: F401
    slack_secret,
    test_signed_click_decides_and_resumes_the_execution,
    test_unverifiable_clicks_are_refused_and_change_nothing,
)
from test_approval_workflow import (  # noqa: F401
    test_approve_resumes_the_execution_with_the_decision,
    test_second_decision_is_refused_with_who_and_when,
)

from core.contracts import LAMBDA_RUNTIME
from deploy.bundle import build_bundle

VERSION = LAMBDA_RUNTIME.removeprefix("python")  # "3.12"
#: Seconds one invocation may take in the worker (the function's own timeout is 30 s).
INVOKE_TIMEOUT = 60

#: The worker: the handler from the unpacked zip, one JSON event per line in, result out.
_WORKER = """
import json, logging, os, sys, traceback
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
out = sys.stdout
sys.stdout = sys.stderr  # anything the function prints goes to its log, not the protocol
from approval.handler import lambda_handler
import approval.handler
out.write(json.dumps({"ready": sys.version_info[:2], "handler": approval.handler.__file__}))
out.write("\\n")
out.flush()
for line in sys.stdin:
    message = json.loads(line)
    os.environ.clear()
    os.environ.update(message["env"])
    try:
        reply = {"result": lambda_handler(message["event"], None)}
    except Exception as error:
        traceback.print_exc()
        reply = {"errorType": type(error).__name__, "errorMessage": str(error)}
    out.write(json.dumps(reply) + "\\n")
    out.flush()
"""


class FunctionError(Exception):
    """The handler raised in the worker (Lambda's "Unhandled" function error)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


def lambda_python() -> str | None:
    """A CPython of the Lambda runtime's version, or None."""
    candidates = [os.environ.get("LAMBDA_PYTHON", ""), shutil.which(f"python{VERSION}") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{VERSION}*/bin/python{VERSION}"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == VERSION:
            return candidate
    return None


def runtime_venv(python: str) -> Path:
    """A venv of that Python with boto3 (this venv's version), made once and kept in the cache.

    The cache holds it across runs (a fresh machine makes it once, from PyPI).
    """
    boto3 = metadata.version("boto3")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "sagemaker-sfn-mlops" / f"lambda-python{VERSION}-boto3-{boto3}"
    done = venv / ".complete"
    if done.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"boto3=={boto3}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(
            f"installing boto3=={boto3} into the {LAMBDA_RUNTIME} venv failed:\n"
            + install.stdout
            + install.stderr
        )
    done.write_text(boto3)
    return venv


class Worker:
    """A warm `python3.12` container of the approval function, callable as its handler."""

    def __init__(self, python: Path, task: Path, log: Path):
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [str(python), "-c", _WORKER],
            cwd=task,
            env={"PYTHONPATH": str(task), "PATH": os.environ.get("PATH", "")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._lock = threading.Lock()
        self.ready = json.loads(self._next_line(INVOKE_TIMEOUT))

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def _next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer from the {LAMBDA_RUNTIME} worker") from None
        if not line:
            raise RuntimeError(f"the {LAMBDA_RUNTIME} worker exited; see {self._log.name}")
        return line

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        message = json.dumps({"env": dict(os.environ), "event": event})
        with self._lock:  # one invocation at a time, as in one container
            assert self._process.stdin is not None
            self._process.stdin.write(message + "\n")
            self._process.stdin.flush()
            reply = json.loads(self._next_line(INVOKE_TIMEOUT))
        if "errorType" in reply:
            raise FunctionError(reply["errorType"], reply["errorMessage"])
        return reply["result"]

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def runtime_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    python = lambda_python()
    if python is None:
        pytest.skip(
            f"no CPython {VERSION} (Lambda's {LAMBDA_RUNTIME}) on this machine: set "
            f"LAMBDA_PYTHON, or install python{VERSION} (e.g. pyenv's); no package registry "
            "reachable here provides one"
        )
    venv = runtime_venv(python)
    work = tmp_path_factory.mktemp("lambda")
    zipfile.ZipFile(BytesIO(build_bundle().data)).extractall(work / "task")
    worker = Worker(venv / "bin" / "python", work / "task", work / "function.log")
    try:
        yield worker
    finally:
        worker.close()


@pytest.fixture(autouse=True)
def on_the_lambda_runtime(runtime_worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every caller of `approval.handler.lambda_handler` reaches the 3.12 worker."""
    import approval.handler

    monkeypatch.setattr(approval.handler, "lambda_handler", runtime_worker)


def test_the_worker_is_the_runtime_python_running_the_zip(runtime_worker):
    assert runtime_worker.ready["ready"] == [int(part) for part in VERSION.split(".")]
    handler = Path(runtime_worker.ready["handler"])
    assert handler.parts[-3:] == ("task", "approval", "handler.py")  # from the zip, not here
