"""`mlops run --pipeline-only` end to end through the local AWS, on Abalone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import DEFAULT_DATA
from mlops.cli import main

FAST = ["--param", "NumRound=30"]


def _run(runs_dir: Path, *args: str) -> tuple[int, dict | None]:
    """Run the CLI in-process; returns the exit code and the run's summary.json, if any."""
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    code = main(["run", "--pipeline-only", "--runs-dir", str(runs_dir), *args])
    new = [p for p in runs_dir.iterdir() if p not in before and not p.name.startswith(".")]
    assert len(new) <= 1
    return code, json.loads((new[0] / "summary.json").read_text()) if new else None


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def first_run(runs_dir: Path) -> tuple[int, dict]:
    code, summary = _run(runs_dir, *FAST)
    assert summary is not None
    return code, summary


def test_success_registers_a_pending_package(first_run: tuple[int, dict], runs_dir: Path) -> None:
    code, summary = first_run
    assert code == 0
    assert summary["status"] == "Succeeded"
    assert summary["failure_reason"] is None
    assert summary["model_approval_status"] == "PendingManualApproval"
    assert summary["model_package_arn"].startswith("arn:aws:sagemaker:")
    assert summary["metrics"]["regression_metrics"]["mse"]["value"] < 6.0
    assert [s["name"] for s in summary["steps"]] == [
        "Preprocess",
        "FindChampion",
        "Train",
        "DataQualityBaseline",
        "Evaluate",
        "QualityGate",
        "Register-RegisterModel",
    ]
    assert all(s["status"] == "Succeeded" and s["seconds"] is not None for s in summary["steps"])


def test_run_folder_holds_every_artifact(first_run: tuple[int, dict], runs_dir: Path) -> None:
    folder = runs_dir / first_run[1]["run_id"]
    for name in ("definition.json", "evaluation.json", "model.tar.gz", "summary.json"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "evaluation.json").read_text()) == first_run[1]["metrics"]
    logs = {p.name for p in (folder / "logs").iterdir()}
    assert {"Preprocess.log", "Train.log", "Evaluate.log"} <= logs
    assert "train" in (folder / "logs" / "Preprocess.log").read_text()
    assert json.loads((folder / "definition.json").read_text())["Steps"][0]["Name"] == "Preprocess"


def test_second_identical_run_hits_the_cache(first_run: tuple[int, dict], runs_dir: Path) -> None:
    code, summary = _run(runs_dir, *FAST)
    assert code == 0
    hits = {s["name"]: s["cache_hit"] for s in summary["steps"]}
    assert hits["Preprocess"] and hits["Train"]
    assert summary["metrics"] == first_run[1]["metrics"]
    assert summary["model_package_arn"]  # registration itself is never cached


def test_impossible_gate_fails_and_registers_nothing(runs_dir: Path) -> None:
    code, summary = _run(runs_dir, *FAST, "--param", "MseThreshold=0.1")
    assert code == 1
    assert summary["status"] == "Failed"
    mse = summary["metrics"]["regression_metrics"]["mse"]["value"]
    assert str(mse) in summary["failure_reason"]
    assert "MseThreshold = 0.1" in summary["failure_reason"]
    assert summary["model_package_arn"] is None
    assert [s["name"] for s in summary["steps"]][-1] == "QualityGateFailed"


def test_malformed_csv_fails_at_preprocess_with_the_scripts_message(
    runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = DEFAULT_DATA.read_text().splitlines()
    fields = lines[5].split(",")
    fields[2] = "abc"
    lines[5] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(runs_dir.parent)  # relative paths work as absolute ones do
    code, summary = _run(Path(runs_dir.name), "--data", str(bad.relative_to(runs_dir.parent)))
    assert code == 1
    assert "column 'diameter'" in summary["failure_reason"]
    assert "bad.csv" in summary["failure_reason"] or "input" in summary["failure_reason"]
    # Only FindChampion, which needs nothing, may have run beside the failed Preprocess.
    steps = {s["name"]: s["status"] for s in summary["steps"]}
    assert steps.pop("Preprocess") == "Failed"
    assert steps in ({}, {"FindChampion": "Succeeded"})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--param", "NoSuchKnob=1"], "--param NoSuchKnob: unknown pipeline parameter"),
        (["--param", "MaxDepth=deep"], "--param MaxDepth='deep': expected an integer"),
        (["--param", "MseThreshold"], "expected Name=Value"),
        (["--data", "/nonexistent/abalone.csv"], "--data /nonexistent/abalone.csv: no such file"),
    ],
)
def test_bad_input_is_rejected_before_starting(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--pipeline-only", "--runs-dir", str(tmp_path), *args])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
    assert list(tmp_path.iterdir()) == []  # no run folder, not even a partial one
