"""Independent steps run at the same time, as SageMaker runs them; dependencies still wait.

Assertions read the step start and end times the executor reports, never wall-clock limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes.executions import Finished, processing_step, run_definition

SLEEP = "import time; time.sleep(1)\n"
FAIL = "raise SystemExit('prepare: the input is empty')\n"

pytestmark = pytest.mark.slow


def _pipeline(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2020-12-01", "Parameters": [], "Steps": list(steps)}


def _files(**scripts: str) -> dict[str, bytes]:
    return {f"code/{step}/{step.lower()}.py": text.encode() for step, text in scripts.items()}


def _overlap(run: Finished, first: str, second: str) -> bool:
    a, b = run.step(first), run.step(second)
    return a["StartTime"] < b["EndTime"] and b["StartTime"] < a["EndTime"]


def test_independent_steps_overlap_and_a_dependency_waits(tmp_path: Path) -> None:
    definition = _pipeline(
        processing_step("Left", "left.py"),
        processing_step("Right", "right.py"),
        processing_step("After", "after.py", depends_on=["Left"]),
    )
    run = run_definition(
        tmp_path,
        definition,
        _files(Left=SLEEP, Right=SLEEP, After="print('after')\n"),
        max_parallel=2,
    )
    assert (run.status, run.reason) == ("Succeeded", None)
    assert [s["StepName"] for s in run.steps] == ["Left", "Right", "After"]  # definition order
    assert _overlap(run, "Left", "Right")
    assert run.step("After")["StartTime"] >= run.step("Left")["EndTime"]


def test_max_parallel_execution_steps_one_runs_them_one_after_another(tmp_path: Path) -> None:
    definition = _pipeline(processing_step("Left", "left.py"), processing_step("Right", "right.py"))
    run = run_definition(
        tmp_path, definition, _files(Left=SLEEP, Right=SLEEP), parallelism=1, max_parallel=2
    )
    assert run.status == "Succeeded"
    assert not _overlap(run, "Left", "Right")
    assert run.step("Right")["StartTime"] >= run.step("Left")["EndTime"]


def test_a_failure_lets_running_steps_finish_and_starts_nothing_new(tmp_path: Path) -> None:
    definition = _pipeline(
        processing_step("Broken", "broken.py"),
        processing_step("Slow", "slow.py"),
        processing_step("Later", "later.py", depends_on=["Slow"]),
    )
    run = run_definition(
        tmp_path,
        definition,
        _files(Broken=FAIL, Slow=SLEEP, Later="print('later')\n"),
        max_parallel=2,
    )
    assert run.status == "Failed"
    assert (run.reason or "").startswith("Step Broken: broken.py exited with code 1.")
    assert "prepare: the input is empty" in (run.reason or "")
    assert [(s["StepName"], s["StepStatus"]) for s in run.steps] == [
        ("Broken", "Failed"),
        ("Slow", "Succeeded"),
    ]
    assert _overlap(run, "Broken", "Slow")
