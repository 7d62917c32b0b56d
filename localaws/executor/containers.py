"""A container stand-in: the job's /opt/ml tree lives in its work folder, the code runs here.

On Linux each job runs in a private mount namespace in which `<work>/opt/ml` is mounted on
`/opt/ml`, so a script that hard-codes `/opt/ml/processing/output/x.csv` or
`/opt/ml/model/m.txt` writes into its own work folder, exactly as inside the SageMaker
container, and never into the host's `/opt`: inside, /opt is a tmpfs that dies with the job,
with the host's /opt folders bound back read-only. It costs a job about 7 ms (`unshare`, a
shell and one `mount`). Where that isolation is unavailable (macOS, a kernel without
unprivileged user namespaces, a container without CAP_SYS_ADMIN) jobs run without it, and
container paths are mapped where they can be seen: every `/opt/ml...` in the command line
becomes the same path under the step's work folder, and the SM_* variables of a training job
name local folders; a job that then fails on a hard-coded /opt/ml path is told why. The
mapping is applied in both cases: inside the namespace both paths name the same files, and a
log's command line stays runnable on the host.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from localaws.executor.errors import StepFailed, fit_reason

CONTAINER_ROOT = "/opt/ml"
#: Lines of the job's output quoted in a FailureReason.
TAIL_LINES = 15
#: A container path at the start of an argument or after '=' / ':' / ',' (e.g. --x=/opt/ml/y).
_CONTAINER_PATH = re.compile(r"(?:^|(?<=[=:,]))/opt/ml(?=/|$)")
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
#: `/opt/ml` with no work folder before it, in a job's output: a path the script hard-codes.
_BARE_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?![\w.-])")
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


# --- the job's own /opt/ml ----------------------------------------------------------------

#: Runs in the job's new mount namespace, then becomes the job: one `mount` process reads the
#: job's fstab (`_fstab`). `cd /opt` keeps the host's /opt reachable as "." once a tmpfs covers
#: it, so its entries (relative sources, hence --no-canonicalize) are bound back read-only and
#: `<work>/opt/ml` is bound on /opt/ml; anything else a job writes under /opt goes to the tmpfs,
#: which dies with the job. util-linux `unshare` makes the namespace's mounts private (its
#: --propagation default), so the host sees none of them.
_SETUP = """set -e
cd /opt
mount --no-canonicalize --all --fstab "$1"
cd "$2"
shift 2
exec "$@"
"""
_SHELL = "/bin/sh"
#: The step whose jobs are starting in this context: their /opt/ml is `<root>/opt/ml`.
_JOB_ROOT: ContextVar[Path | None] = ContextVar("localaws_job_root", default=None)


@dataclass(frozen=True)
class Isolation:
    """How this host gives a job its own /opt/ml: a command prefix, or why it cannot."""

    prefix: tuple[str, ...] = ()
    problem: str = ""
    #: This process's folder for the jobs' fstab files.
    folder: Path | None = None


_isolation: Isolation | None = None
_isolation_lock = threading.Lock()


def isolation() -> Isolation:
    """Whether jobs get a private mount namespace here; probed once per process (~10 ms)."""
    global _isolation
    with _isolation_lock:
        if _isolation is None:
            _isolation = _probe()
        return _isolation


@contextmanager
def job_root(work: Path) -> Iterator[None]:
    """Jobs started inside get `work/opt/ml` as /opt/ml; the executor wraps each step in it,
    so every step runner's jobs are isolated without passing the folder along."""
    token = _JOB_ROOT.set(work)
    try:
        yield
    finally:
        _JOB_ROOT.reset(token)


def _probe() -> Isolation:
    """Try the real setup once: `unshare --mount` as root, else (or if that is refused) an
    unprivileged user namespace, `unshare --user --map-root-user --mount`."""
    if not sys.platform.startswith("linux"):
        return Isolation(problem=f"{sys.platform} has no Linux mount namespaces")
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("mount") is None:
        return Isolation(problem="util-linux `unshare` and `mount` are not installed")
    if not os.path.isdir("/opt"):
        return Isolation(problem="the host has no /opt to mount /opt/ml under")
    candidates: list[tuple[str, ...]] = [(unshare, "--user", "--map-root-user", "--mount")]
    if os.geteuid() == 0:
        candidates.insert(0, (unshare, "--mount"))
    folder = Path(tempfile.mkdtemp(prefix="localaws-mounts-"))
    failures = []
    for command in candidates:
        prefix = (*command, _SHELL, "-c", _SETUP, "sh")
        try:
            if _try(prefix, folder):
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                return Isolation(prefix=prefix, folder=folder)
        except (OSError, subprocess.SubprocessError) as exc:
            failures.append(f"{shlex.join(command[1:])}: {exc}")
    shutil.rmtree(folder, ignore_errors=True)
    return Isolation(problem="; ".join(failures))


def _try(prefix: tuple[str, ...], folder: Path) -> bool:
    """Run the setup with a job that writes /opt/ml/probe; raises OSError saying why not."""
    ml = folder / "probe" / "opt" / "ml"
    ml.mkdir(parents=True)
    fstab = _fstab(folder, ml)
    try:
        done = subprocess.run(
            [*prefix, str(fstab), str(folder), _SHELL, "-c", "echo ok > /opt/ml/probe"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if done.returncode == 0 and (ml / "probe").is_file():
            return True
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(said[-1] if said else f"exit code {done.returncode}")
    finally:
        fstab.unlink(missing_ok=True)
        shutil.rmtree(folder / "probe", ignore_errors=True)


def _fstab(folder: Path, ml: Path) -> Path:
    """The job's mounts, in order: a tmpfs on /opt, each folder of the host's /opt bound back
    read-only (so a job reads what the host installed there but cannot change it), its ml."""
    lines = ["localaws-opt /opt tmpfs mode=0755 0 0"]
    with os.scandir("/opt") as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name != "ml" and entry.is_dir():  # files directly in /opt are left out
                name = _fstab_escape(entry.name)
                lines.append(f"{name} /opt/{name} none rbind,ro,X-mount.mkdir 0 0")
    lines.append(f"{_fstab_escape(str(ml))} /opt/ml none bind,X-mount.mkdir 0 0")
    path = folder / f"{uuid.uuid4().hex}.fstab"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fstab_escape(text: str) -> str:
    """fstab(5) fields: blanks and backslashes as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in text)


def isolation_problem(root: Path) -> str:
    """Why jobs of the step whose work folder is `root` would run without their own /opt/ml
    ("" if they get it), so a runner can choose a path that does not need it."""
    ml = (root / "opt" / "ml").resolve()
    if ml.is_relative_to("/opt"):  # a tmpfs on /opt would hide the work folder itself
        return f"its work folder {ml} is under /opt"
    setup = isolation()
    if not setup.prefix or setup.folder is None:
        return setup.problem or "no private mount namespace"
    return ""


def _launch(command: list[str], root: Path | None, cwd: Path) -> tuple[list[str], str, Path | None]:
    """The command that starts the job, why it runs without its own /opt/ml ("" if it has
    one), and the fstab file to delete once it exits."""
    if root is None:
        return command, "no container folder", None
    ml = (root / "opt" / "ml").resolve()
    ml.mkdir(parents=True, exist_ok=True)
    problem = isolation_problem(root)
    setup = isolation()
    if problem or setup.folder is None:
        return command, problem, None
    fstab = _fstab(setup.folder, ml)
    return [*setup.prefix, str(fstab), str(cwd), *command], "", fstab


def run_logged(
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float,
    what: str,
    root: Path | None = None,
) -> float:
    """Run `command`, appending its stdout+stderr to `log`; returns the seconds it took.

    `root` (default: the step of `job_root`) is the step's work folder: the job sees its
    `opt/ml` as /opt/ml where the host allows. A non-zero exit or a timeout raises StepFailed
    quoting the last lines of the output.
    """
    root = root if root is not None else _JOB_ROOT.get()
    launch, problem, fstab = _launch(command, root, cwd)
    log.parent.mkdir(parents=True, exist_ok=True)
    if root is not None:
        folder = root / "opt" / "ml"
        _append(
            log,
            f"# /opt/ml is {folder} (a private mount namespace)\n"
            if not problem
            else f"# /opt/ml is not mounted ({problem}): container paths are mapped to {folder}"
            " in arguments and SM_* variables only\n",
        )
    started = time.monotonic()
    try:
        with log.open("ab") as out:
            offset = out.tell()
            try:
                process = subprocess.Popen(
                    launch,
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
    finally:
        if fstab is not None:
            fstab.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    output = _output(log, offset) if code != 0 else ""
    status = "timed out" if code is None else f"exit code {code}"
    _append(log, f"\n# {status} after {seconds:.2f} s\n")
    if code == 0:
        return seconds
    if code is None:
        head = f"{what} ran longer than {timeout:.0f} s and was stopped."
    else:
        head = f"{what} exited with code {code}."
    if root is not None and problem and _BARE_CONTAINER_PATH.search(output):
        head += (
            f" It ran without its own /opt/ml ({problem}), so only /opt/ml paths given as "
            "arguments or SM_* variables reach its work folder: pass them that way, or run "
            "on Linux as root or with unprivileged user namespaces allowed."
        )
    where = f"{log.parent.name}/{log.name}"
    raise StepFailed(fit_reason(f"{head} Last lines of {where}:", _tail(output)))


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()


def _output(log: Path, offset: int) -> str:
    with log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode("utf-8", errors="replace")


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(no output)"


def _append(log: Path, text: str) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(text)


def write_header(log: Path, title: str, lines: list[str]) -> None:
    """Start a step's log with what ran and with which resolved values."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"# {title}\n")
        for line in lines:
            out.write(f"# {line}\n")
        out.write("\n")
