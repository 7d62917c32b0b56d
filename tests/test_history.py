"""`mlops runs` and `mlops show`: past runs read back from their folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.cli import main


def _summary(runs: Path, run_id: str, **fields: object) -> Path:
    folder = runs / run_id
    folder.mkdir(parents=True)
    summary = {
        "run_id": run_id,
        "status": "Succeeded",
        "metrics": {"regression_metrics": {"mse": {"value": 4.25}}},
        "quality_gate": {"metric": "mse", "threshold": 6.0},
        "decision": "approved",
        "decided_by": "alice",
        "endpoint_name": "abalone-endpoint",
        "endpoint_status": "InService",
        "timings": {"total": 9.5},
        "steps": [{"name": "Train", "status": "Succeeded", "seconds": 3.25}],
        **fields,
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_runs_lists_published_runs_oldest_first_and_skips_unfinished_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    _summary(runs, "20261130-101500-bbbbbb", status="Failed", decision=None, metrics=None)
    _summary(runs, "20261129-090000-aaaaaa")
    (runs / ".20261130-120000-cccccc.pid1.partial").mkdir()  # being written or killed
    broken = runs / "20261130-110000-dddddd"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")

    assert main(["runs", "--runs-dir", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "RUN",
        "STARTED",
        "(UTC)",
        "STATUS",
        "DECISION",
        "METRIC",
        "DURATION",
    ]
    assert lines[1].split() == [
        "20261129-090000-aaaaaa", "2026-11-29", "09:00:00", "Succeeded", "approved", "mse",
        "4.2500", "9.5", "s",
    ]  # fmt: skip
    assert lines[2].split()[:5] == [
        "20261130-101500-bbbbbb",
        "2026-11-30",
        "10:15:00",
        "Failed",
        "-",
    ]
    assert lines[3].split()[3] == "unreadable"
    assert len(lines) == 4


def test_show_prints_one_run_by_a_unique_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    folder = _summary(runs, "20261129-090000-aaaaaa")
    assert main(["show", "20261129", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "Decision:       approved by alice" in out
    assert "Endpoint:       abalone-endpoint (InService)" in out
    assert "Quality gate:   mse at most 6.0" in out
    assert f"Folder:         {folder}" in out
    assert "Train" in out and "3.2 s" in out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026", "2 runs start with it"),
        ("nope", "no run in"),
    ],
)
def test_show_names_what_is_wrong_with_the_run_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str
) -> None:
    runs = tmp_path / "runs"
    _summary(runs, "20261129-090000-aaaaaa")
    _summary(runs, "20261130-090000-bbbbbb")
    assert main(["show", name, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and err[0].startswith("mlops show: error: RUN ")


def test_runs_in_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--runs-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0]
