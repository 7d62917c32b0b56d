"""`mlops run` against hostile input and a hostile environment.

Bad input is refused before anything starts (no run folder, no local AWS) with one line and
exit 2; a full disk, a closed stdout and SIGTERM end in one line, never a traceback, and leave
no staging folder behind; what a killed run left is removed by the next one.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import mlops.run
from core.errors import EXIT_INTERRUPTED
from core.files import owner_tag
from core.settings import PROJECT_ROOT
from mlops.cli import main

FAST = ["--param", "NumRound=30"]


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the run itself (folders, the local AWS) is ever reached."""

    def started(*args: object, **kwargs: object) -> int:
        raise AssertionError("the run started despite bad input")

    monkeypatch.setattr(mlops.run, "run", started)


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI expecting a usage error; return its only stderr line."""
    try:
        code = main(["run", *args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("Eta=inf", "--param Eta='inf': expected a finite number from 0 to 1"),
        ("Eta=1.5", "--param Eta='1.5': expected a finite number from 0 to 1"),
        ("Eta=-0.1", "expected a finite number from 0 to 1"),
        ("MseThreshold=nan", "--param MseThreshold='nan': expected a finite number at least 0"),
        ("MseThreshold=-1", "expected a finite number at least 0"),
        (
            "ChampionMseTolerance=inf",
            "--param ChampionMseTolerance='inf': expected a finite number of any sign "
            "(negative turns the champion check off)",
        ),
        ("MseThreshold=1e999", "expected a finite number at least 0"),
        ("NumRound=-1", "--param NumRound='-1': expected an integer from 1 to 2147483647"),
        ("NumRound=0", "expected an integer from 1"),
        ("NumRound=1.5", "expected an integer"),
        ("EarlyStoppingRounds=0", "expected an integer from 1"),
        ("TrainingInstanceCount=0", "expected an integer from 1 to 2147483647 (SageMaker"),
        ("ProcessingInstanceCount=0", "expected an integer from 1 to 100 (SageMaker"),
        ("ProcessingInstanceCount=101", "expected an integer from 1 to 100"),
        ("Subsample=0", "--param Subsample='0': expected a finite number in (0, 1]"),
        ("Subsample=1.01", "expected a finite number in (0, 1]"),
        ("MaxDepth=-1", "expected an integer from 0"),
        ("MaxDepth=1_0", "expected an integer"),
        ("Gamma=-inf", "expected a finite number at least 0"),
        ("MinChildWeight=nan", "expected a finite number at least 0"),
    ],
)
def test_out_of_range_params_are_refused_before_anything_starts(
    param: str,
    expected: str,
    tmp_path: Path,
    nothing_starts: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = tmp_path / "runs"
    line = _refused(capsys, "--runs-dir", str(runs), "--param", param)
    assert line.startswith("mlops run: error: --param ")
    assert expected in line
    assert not runs.exists()


def test_model_approval_status_is_no_parameter(
    tmp_path: Path, nothing_starts: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the human decision approves: the parameter that pre-approved is gone."""
    runs = tmp_path / "runs"
    line = _refused(capsys, "--runs-dir", str(runs), "--param", "ModelApprovalStatus=Approved")
    assert "--param ModelApprovalStatus: unknown pipeline parameter; expected one of " in line
    assert "Eta, Gamma, InputDataUrl" in line and "ModelApprovalStatus," not in line
    assert not runs.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "99999999999",
            "--approval-timeout 99999999999: expected whole seconds from 1 to 31536000",
        ),
        ("99999999", "expected whole seconds from 1 to 31536000"),
        ("0", "--approval-timeout 0: expected whole seconds from 1"),
        ("inf", "argument --approval-timeout: invalid int value: 'inf'"),
    ],
)
def test_approval_timeout_beyond_step_functions_is_refused(
    value: str,
    expected: str,
    tmp_path: Path,
    nothing_starts: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = tmp_path / "runs"
    assert expected in _refused(capsys, "--runs-dir", str(runs), "--approval-timeout", value)
    assert not runs.exists()


def test_poll_seconds_of_start_are_checked_before_aws_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["start", "--local", "--poll-seconds", "0"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "mlops start: error: --poll-seconds 0: expected whole seconds from 1 to 31536000"


def test_runs_dir_that_is_a_file_is_refused(
    tmp_path: Path, nothing_starts: None, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "runs"
    afile.write_text("not a folder")
    line = _refused(capsys, "--runs-dir", str(afile))
    assert line == f"mlops run: error: --runs-dir {afile}: expected a folder, found a file"
    line = _refused(capsys, "--runs-dir", str(afile / "inside"))
    assert f"--runs-dir {afile / 'inside'}: expected a folder, found a file ({afile}" in line


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write: a read-only tmpfs as root, else permissions."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with _tmpfs(folder, "ro,size=64k"):
        yield folder


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[None]:
    """A tmpfs mounted on `folder` for the block (root only; skips where mounting fails)."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {mounted.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("below", ["", "runs"], ids=["itself", "its-parent"])
def test_unwritable_runs_dir_is_refused(
    below: str,
    read_only_dir: Path,
    nothing_starts: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = read_only_dir / below if below else read_only_dir
    line = _refused(capsys, "--runs-dir", str(runs))
    assert f"mlops run: error: --runs-dir {runs}: expected a writable folder" in line


def test_full_disk_is_one_line_and_leaves_no_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC mid-run (here while the build is stored): exit 1, one line, nothing half-written."""
    runs = tmp_path / "runs"

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(runs / "definition.json"))

    monkeypatch.setattr(mlops.run, "cached_build", disk_full)
    code = main(["run", "--pipeline-only", "--runs-dir", str(runs)])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"mlops run: error: No space left on device: {runs / 'definition.json'}"
    )
    assert sorted(p.name for p in runs.iterdir()) == []


def _mlops(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlops", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_real_full_disk_is_one_line(tmp_path: Path) -> None:
    """The runs folder on a 64 KiB tmpfs (root only): the run fails with one line, exit 1."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    runs = tmp_path / "runs"
    runs.mkdir()
    with _tmpfs(runs, "size=64k"):
        process = _mlops("run", "--pipeline-only", "--runs-dir", str(runs), *FAST)
        _, err = process.communicate(timeout=300)
        assert process.returncode == 1
        assert "Traceback" not in err
        assert (
            err.strip().splitlines()[-1].startswith("mlops run: error: No space left on device: ")
        )
        assert list(runs.iterdir()) == []


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    probe = subprocess.Popen(["true"])
    probe.wait()
    return probe.pid


def test_sigterm_ends_a_run_like_ctrl_c_and_the_next_run_cleans_leftovers(
    tmp_path: Path,
) -> None:
    """Leftovers of dead runs go, those of live ones stay; SIGTERM cleans up as Ctrl-C does."""
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    builds = cache / "mlops" / "definitions"
    dead, alive = _dead_pid(), os.getpid()  # this test's process outlives the run
    stale = [
        runs / f".20200101-000000-aaaaaa.pid{dead}.partial",
        runs / f".work-pid{dead}-x1y2z3",
        builds / f"{'0' * 32}.pid{dead}.partial",
    ]
    live = [
        runs / f".20200101-000000-bbbbbb.{owner_tag()}.partial",
        runs / f".work-pid{alive}-a1b2c3",
        builds / f"{'1' * 32}.pid{alive}.partial",
    ]
    for folder in stale + live:
        folder.mkdir(parents=True)
        (folder / "half-written").write_text("x")

    process = _mlops(
        "run", "--pipeline-only", "--runs-dir", str(runs), *FAST, env={"XDG_CACHE_HOME": str(cache)}
    )
    own = f"pid{process.pid}"
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(f".work-{own}-") for p in runs.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    assert [p.exists() for p in stale] == [False] * 3  # removed before the run began
    assert [p.exists() for p in live] == [True] * 3
    time.sleep(1.0)  # into the run: the local AWS is up, the build under way
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)

    assert process.returncode == EXIT_INTERRUPTED == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "mlops run: interrupted"
    leftovers = [p for p in [*runs.iterdir(), *builds.glob("*")] if own in p.name]
    assert leftovers == []
    assert [p.name for p in runs.iterdir() if not p.name.startswith(".")] == []


def test_closed_stdout_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """`mlops run | head -1`: the reader is gone before the summary is written."""
    runs = tmp_path / "runs"
    process = _mlops(
        "run", "--pipeline-only", "--runs-dir", str(runs), *FAST, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.close()  # as `head` does once it has what it wants
    err = process.stderr.read() if process.stderr else ""
    process.wait(timeout=300)
    assert process.returncode == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert err.strip().splitlines()[-1] == (
        "mlops run: error: stdout was closed before all output was written"
    )
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    assert (folder / "summary.json").is_file()  # the run itself completed and was published


@pytest.mark.parametrize("value", ["-1", "0", "0.25", "-1e-3"])
def test_any_finite_champion_tolerance_is_taken(value: str) -> None:
    from mlops.params import parse_params

    assert parse_params([f"ChampionMseTolerance={value}"]) == {"ChampionMseTolerance": value}
