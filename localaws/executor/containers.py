"""A container stand-in: the job's /opt/ml tree lives in its work folder, the code runs here.

Container paths are mapped, not special-cased: every `/opt/ml...` in the command line becomes
the same path under the step's work folder, and the SM_* variables of a training job name
local folders. Scripts therefore get every path they touch as an argument or an SM_*
variable, as the project's conventions require, and run unchanged here and on SageMaker.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localaws.executor.errors import StepFailed, fit_reason

CONTAINER_ROOT = "/opt/ml"
#: Lines of the job's output quoted in a FailureReason.
TAIL_LINES = 15
#: A container path at the start of an argument or after '=' / ':' / ',' (e.g. --x=/opt/ml/y).
_CONTAINER_PATH = re.compile(r"(?:^|(?<=[=:,]))/opt/ml(?=/|$)")
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
#: The host's SageMaker variables must never leak into a job.
_HOST_VARIABLES = ("SM_", "SAGEMAKER_")


@dataclass(frozen=True)
class Sandbox:
    """The container's filesystem root for one step: `<work>/opt/ml/...`."""

    work: Path

    def local(self, container_path: str) -> Path:
        """The local folder for an absolute container path under /opt/ml."""
        if not container_path.startswith(CONTAINER_ROOT):
            raise StepFailed(f"container path {container_path!r} is not under {CONTAINER_ROOT}")
        parts = [p for p in container_path.split("/") if p]
        if ".." in parts:
            raise StepFailed(f"container path {container_path!r} climbs out with '..'")
        return self.work.joinpath(*parts)

    def map_argument(self, argument: str) -> str:
        """An argument with every container path in it mapped to the work folder."""
        return _CONTAINER_PATH.sub(lambda _: str(self.work / "opt" / "ml"), argument)


def host_python(executable: str, python: str) -> str:
    """The configured interpreter in place of the image's `python`/`python3`/`python3.x`."""
    return python if _PYTHON.fullmatch(Path(executable).name) else executable


def job_environment(aws: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without host SageMaker variables, then the account's AWS
    variables (as a job's execution role would provide), then the job's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_VARIABLES)}
    env.update(aws)
    env.update({k: str(v) for k, v in extra.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_logged(
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float,
    what: str,
) -> float:
    """Run `command`, appending its stdout+stderr to `log`; returns the seconds it took.

    A non-zero exit or a timeout raises StepFailed quoting the last lines of the output.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("ab") as out:
        offset = out.tell()
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a timeout kills the job's children too
            )
        except OSError as exc:
            raise StepFailed(f"{what}: cannot start {shlex.join(command[:2])}: {exc}") from None
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            code = None
    seconds = time.monotonic() - started
    tail = _tail(log, offset) if code != 0 else ""
    with log.open("a", encoding="utf-8") as out:
        status = "timed out" if code is None else f"exit code {code}"
        out.write(f"\n# {status} after {seconds:.2f} s\n")
    if code == 0:
        return seconds
    if code is None:
        head = f"{what} ran longer than {timeout:.0f} s and was stopped."
    else:
        head = f"{what} exited with code {code}."
    where = f"{log.parent.name}/{log.name}"
    raise StepFailed(fit_reason(f"{head} Last lines of {where}:", tail))


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()


def _tail(log: Path, offset: int, lines: int = TAIL_LINES) -> str:
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(no output)"


def write_header(log: Path, title: str, lines: list[str]) -> None:
    """Start a step's log with what ran and with which resolved values."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"# {title}\n")
        for line in lines:
            out.write(f"# {line}\n")
        out.write("\n")
