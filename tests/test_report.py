"""`runs/<id>/report.html`: one self-contained page per run (mlops/report.py), and
`mlops show RUN --open`.

One real `mlops run` (module fixture) gives the page of a whole run; copies of its folder with
summary.json or the history changed give failed, rejected, pipeline-only and user-pipeline
runs, and pictures the sanitizer must refuse.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import redirect_stdout
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mlops import report
from mlops.cli import main
from mlops.execution_path import Visit, fold, visits
from mlops.pipeline_graph import Edge, pipeline_graph


class Page(HTMLParser):
    """The page's elements (tag and attributes, in order) and its text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def having(self, attribute: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.elements if attribute in attrs]

    def tags(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A whole `mlops run --approve auto`: its folder and what it printed."""
    runs = tmp_path_factory.mktemp("runs")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(["run", "--runs-dir", str(runs), "--param", "NumRound=30", "--approve", "auto"])
    assert code == 0, buffer.getvalue()
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return folder, buffer.getvalue()


def _copy(real_run: tuple[Path, str], tmp_path: Path, **summary: Any) -> Path:
    """A copy of the real run without its report; `summary` replaces fields (None removes)."""
    folder = tmp_path / "runs" / real_run[0].name
    shutil.copytree(real_run[0], folder)
    (folder / "report.html").unlink()
    data = json.loads((folder / "summary.json").read_text())
    for key, value in summary.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (folder / "summary.json").write_text(json.dumps(data))
    return folder


def _render(folder: Path) -> tuple[str, Page]:
    text = report.write_report(folder).read_text(encoding="utf-8")
    return text, Page(text)


# -- the real run ----------------------------------------------------------------------------


def test_a_run_writes_its_report_and_says_where(real_run: tuple[Path, str]) -> None:
    folder, out = real_run
    assert f"Report: {folder / 'report.html'}" in out.splitlines()
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    assert f"Run {folder.name}" in page.text and "Succeeded" in page.text
    assert [s["id"] for s in page.tags("section")] == [
        "pipeline",
        "workflow",
        "timeline",
        "metrics",
        "pictures",
        "decision",
        "deployment",
        "cost",
        "files",
    ]


def test_the_page_loads_nothing_and_runs_nothing(real_run: tuple[Path, str]) -> None:
    folder = real_run[0]
    text = (folder / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"script", "iframe", "object", "embed", "link", "img", "base", "form"}
    assert not page.having("src") and not page.having("srcset") and not page.having("action")
    handlers = [a for _, attrs in page.elements for a in attrs if a.startswith("on")]
    assert not handlers
    (csp,) = [m for m in page.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    # The only URLs are the SVG namespace and relative links to the run's own files.
    assert set(re.findall(r"[a-z]+://[^\"' )]*", text)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert set(re.findall(r"url\(([^)]*)\)", text)) <= {
        m for m in re.findall(r"url\((#[A-Za-z0-9_.:-]+)\)", text)
    }
    links = [a["href"] for a in page.tags("a")]
    assert "summary.json" in links and "execution_history.json" in links
    assert any(link.startswith("logs/") and link.endswith(".log") for link in links)
    for link in links:
        assert not link.startswith(("/", "\\")) and ":" not in link, link
        assert (folder / link).exists(), link


def test_the_dag_has_one_node_per_step_and_the_definitions_edges(
    real_run: tuple[Path, str],
) -> None:
    folder = real_run[0]
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    graph = pipeline_graph(json.loads((folder / "definition.json").read_text()))
    nodes = [a["data-step"] for a in page.having("data-step")]
    assert nodes == [s.name for s in graph.steps]
    assert {"Preprocess", "Train", "Evaluate", "QualityGate", "QualityGateFailed"} <= set(nodes)
    drawn = {
        (a["data-from"], a["data-to"], a["class"].split()[1]) for a in page.having("data-from")
    }
    assert drawn == {(e.source, e.target, e.kind) for e in graph.edges}
    assert {
        ("Preprocess", "Train", "data"),
        ("Train", "Evaluate", "data"),
        ("Evaluate", "QualityGate", "data"),
        ("QualityGate", "Register-RegisterModel", "if"),
        ("QualityGate", "QualityGateFailed", "else"),
    } <= drawn
    status = {a["data-step"]: a["data-status"] for a in page.having("data-step")}
    summary = json.loads((folder / "summary.json").read_text())
    assert status == {
        **{s.name: "not run" for s in graph.steps},
        **{s["name"]: s["status"] for s in summary["steps"]},
    }
    assert status["QualityGateFailed"] == "not run"


def test_the_path_is_the_states_the_execution_entered(real_run: tuple[Path, str]) -> None:
    folder = real_run[0]
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    history = json.loads((folder / "execution_history.json").read_text())
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")
    ]
    stops = page.having("data-state")
    assert stops[0]["data-state"] == entered[0] == "ApplyDefaults"
    assert stops[-1]["data-state"] == entered[-1] == "ModelDeployed"
    assert sum(int(s["data-repeats"]) for s in stops) == len(entered)
    assert any(int(s["data-repeats"]) > 1 for s in stops)  # a polling loop, drawn once
    assert {s["data-outcome"] for s in stops} == {"ok"}
    assert "states of the state machine were not entered" in page.text


def test_the_timeline_metrics_decision_and_deployment(real_run: tuple[Path, str]) -> None:
    folder = real_run[0]
    summary = json.loads((folder / "summary.json").read_text())
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    rows = [a["data-label"] for a in page.having("data-label")]
    assert rows[: len(summary["steps"])] == [s["name"] for s in summary["steps"]]
    assert {"startup", "pipeline", "approval", "deploy", "total"} <= set(rows)
    metrics = [a["data-metric"] for a in page.having("data-metric")]
    assert metrics == list(summary["metrics"]["regression_metrics"])
    mse = summary["metrics"]["regression_metrics"]["mse"]["value"]
    assert f"Quality gate: mse {mse:.4f} must be at most 6" in page.text
    assert "passed" in page.text
    assert "The model was approved ." in page.text
    assert "Decided by mlops run --approve auto" in page.text
    assert f"Smoke test: passed Endpoint {summary['endpoint_name']}" in page.text
    for name in summary.get("pictures") or {}:  # the evaluation's own pictures, when it made them
        assert f'data-picture="{name}"><div class="picture"><svg' in (
            folder / "report.html"
        ).read_text(encoding="utf-8")


def test_rendering_takes_well_under_a_third_of_a_second(real_run: tuple[Path, str]) -> None:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        report.render(real_run[0])
        times.append(time.perf_counter() - start)
    assert min(times) < 0.3, times


# -- runs that did not get everything --------------------------------------------------------


def test_a_failed_run_renders_with_its_failure_where_it_happened(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    folder = _copy(
        real_run,
        tmp_path,
        status="Failed",
        execution_status="FAILED",
        execution_error="States.TaskFailed",
        execution_cause="<script>alert(1)</script> endpoint failed",
        decision=None,
        decided_by=None,
        endpoint_name=None,
        smoke_test=None,
    )
    history = json.loads((folder / "execution_history.json").read_text())
    cut = next(
        i
        for i, e in enumerate(history)
        if e["type"] == "TaskStateEntered"
        and e["stateEnteredEventDetails"]["name"] == "CreateModel"
    )
    failed = {
        "timestamp": history[cut]["timestamp"],
        "type": "ExecutionFailed",
        "id": 9999,
        "executionFailedEventDetails": {"error": "States.TaskFailed", "cause": "boom"},
    }
    (folder / "execution_history.json").write_text(json.dumps([*history[: cut + 1], failed]))

    text, page = _render(folder)
    assert '<header class="failed">' in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    stops = page.having("data-state")
    assert (stops[-1]["data-state"], stops[-1]["data-outcome"]) == ("CreateModel", "failed")
    assert "Execution failed: States.TaskFailed: boom." in page.text
    assert "No decision was taken" in page.text
    assert "Nothing deployed: the execution ended failed." in page.text
    assert "Smoke test: not run." in page.text


def test_a_rejected_run_says_who_rejected_it_and_that_nothing_was_deployed(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    folder = _copy(
        real_run,
        tmp_path,
        decision="rejected",
        decided_by="Ana <ana@example.com>",
        decision_reason="MSE too close to the gate",
        endpoint_name=None,
        endpoint_status=None,
        smoke_test=None,
    )
    text, page = _render(folder)
    assert "The model was rejected ." in page.text
    assert "Decided by Ana <ana@example.com> Reason MSE too close to the gate" in page.text
    assert "Ana &lt;ana@example.com&gt;" in text
    assert "Nothing deployed: the model was rejected." in page.text


def test_a_pipeline_only_run_says_what_it_lacks(real_run: tuple[Path, str], tmp_path: Path) -> None:
    folder = _copy(
        real_run,
        tmp_path,
        execution_status=None,
        execution_arn=None,
        decision=None,
        endpoint_name=None,
        smoke_test=None,
        timings={"total": 4.2},
    )
    for name in ("execution_history.json", "state_machine.asl.json", "template.json"):
        (folder / name).unlink()
    _, page = _render(folder)
    assert "No state machine ran: the pipeline ran alone." in page.text
    assert "No decision: the pipeline ran alone (--pipeline-only)." in page.text
    assert "Nothing deployed: the pipeline ran alone." in page.text
    assert [a["data-label"] for a in page.having("data-label")][-1] == "total"
    assert page.having("data-step")  # the DAG is still drawn


def test_a_user_pipeline_run_renders_its_own_dag_and_metrics(tmp_path: Path) -> None:
    """No quality gate of ours, metrics of another kind, a DAG of its own shape."""
    folder = tmp_path / "20261130-120000-abcdef"
    folder.mkdir()
    definition = {
        "Steps": [
            {"Name": "Fetch", "Type": "Processing", "Arguments": {}},
            {"Name": "Fit", "Type": "Training", "Arguments": {}, "DependsOn": ["Fetch"]},
            {
                "Name": "Register",
                "Type": "RegisterModel",
                "Arguments": {"ModelDataUrl": {"Get": "Steps.Fit.ModelArtifacts.S3ModelArtifacts"}},
            },
        ]
    }
    (folder / "definition.json").write_text(json.dumps(definition))
    summary = {
        "run_id": folder.name,
        "status": "Succeeded",
        "module": "my_pipelines.churn:build",
        "pipeline_name": "churn",
        "steps": [
            {"name": n, "type": t, "status": "Succeeded", "seconds": 1.0, "cache_hit": False}
            for n, t in (("Fetch", "Processing"), ("Fit", "Training"), ("Register", "?"))
        ],
        "metrics": {"binary_classification_metrics": {"auc": {"value": 0.91}}},
        "quality_gate": {"metric": None, "threshold": None},
        "timings": {"build": 0.8, "total": 5.0},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    _, page = _render(folder)
    assert [a["data-step"] for a in page.having("data-step")] == ["Fetch", "Fit", "Register"]
    edges = {(a["data-from"], a["data-to"]) for a in page.having("data-from")}
    assert edges == {("Fetch", "Fit"), ("Fit", "Register")}
    assert "Module my_pipelines.churn:build" in page.text
    assert "No quality gate recorded" in page.text
    assert [a["data-metric"] for a in page.having("data-metric")] == ["auc"]
    assert "Cost: not recorded for this run." in page.text


def test_unreadable_files_are_noted_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "20261130-120000-abcdef"
    folder.mkdir()
    (folder / "summary.json").write_text("[1, 2")
    (folder / "definition.json").write_text("{")
    (folder / "execution_history.json").write_text('{"events": "nope"}')
    _, page = _render(folder)
    assert "definition.json is not readable JSON" in page.text
    assert "summary.json is not readable JSON" in page.text
    assert "unknown" in page.text
    assert not page.having("data-step")


def test_the_champion_the_gate_against_it_and_the_cost(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    champion = {
        "champion": {
            "source": "endpoint",
            "endpoint_name": "abalone-endpoint",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/g/1",
        },
        "metrics": {
            "mse": {
                "challenger": 5.0,
                "champion": 4.9,
                "difference": 0.1,
                "better": "champion",
                "lower_is_better": True,
            },
            "r2": {
                "challenger": 0.5,
                "champion": 0.52,
                "difference": -0.02,
                "better": "champion",
                "lower_is_better": False,
            },
        },
        "test_rows": 836,
    }
    cost = {  # mlops/cost.py's shape
        "total": 0.0123,
        "currency": "USD",
        "region": "us-east-1",
        "prices_read_on": "2026-11-30",
        "items": [
            {
                "what": "Train (training job)",
                "instance_type": "ml.m5.xlarge",
                "count": 1,
                "seconds": 2.1,
                "billed_seconds": 60,
                "quantity": 0.01666667,
                "unit": "instance-hour",
                "rate": 0.23,
                "amount": 0.0038,
                "reason": None,
            },
            {
                "what": "Score (transform job)",
                "count": 1,
                "unit": "instance-hour",
                "amount": None,
                "reason": "transform jobs have no prices",
            },
        ],
        "note": "training bills whole minutes <b>here</b>",
    }
    metrics = {"regression_metrics": {"mse": {"value": 5.0}, "r2": {"value": 0.5}}}
    gate = {"metric": "mse", "threshold": 6.0, "champion_mse_tolerance": 0.05}
    folder = _copy(
        real_run, tmp_path, champion=champion, cost=cost, metrics=metrics, quality_gate=gate
    )
    text, page = _render(folder)
    assert (
        "Quality gate: mse 5 must be at most 6 and at most the champion's + 0.05 = 4.95: failed"
        in page.text
    )
    assert "Champion: the model serving on endpoint abalone-endpoint, scored on the same 836" in (
        page.text
    )
    assert "mse 5 - 4.9 0.1 champion at most 6: passes; at most the champion's + 0.05" in page.text
    assert "Total: 0.0123 USD" in page.text
    assert "Region us-east-1 Prices read 2026-11-30" in page.text
    assert (
        "Train (training job) ml.m5.xlarge 1 2.1 60 0.0167 instance-hour 0.23 per instance-hour "
        "0.0038" in page.text
    )
    assert "Score (transform job) - 1 - - - - not priced: transform jobs have no prices" in (
        page.text
    )
    assert "&lt;b&gt;here&lt;/b&gt;" in text

    gate["champion_mse_tolerance"] = -1.0  # negative: that check is off
    folder = _copy(
        real_run, tmp_path / "off", champion=champion, metrics=metrics, quality_gate=gate, cost=None
    )
    _, page = _render(folder)
    assert "must be at most 6: passed . The check against the champion is off" in page.text
    assert "Cost: not recorded for this run." in page.text


def test_pictures_are_inlined_and_those_that_cannot_be_get_a_note(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    pictures = {
        "good": "pictures/good.svg",
        "scripted": "pictures/scripted.svg",
        "broken": "pictures/broken.svg",
        "missing": "pictures/missing.svg",
        "escaping": "../../../etc/passwd",
        "huge": "pictures/huge.svg",
    }
    folder = _copy(real_run, tmp_path, pictures=pictures)
    (folder / "pictures").mkdir(exist_ok=True)
    good = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><defs><clipPath '
        'id="c1"><rect width="100" height="60"/></clipPath></defs><rect width="120" height="80" '
        'clip-path="url(#c1)" fill="#1a73e8"/></svg>'
    )
    (folder / "pictures/good.svg").write_text(good)
    (folder / "pictures/scripted.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script>'
        '<rect width="10" height="10" onload="alert(2)"/></svg>'
    )
    (folder / "pictures/broken.svg").write_text("<svg")
    (folder / "pictures/huge.svg").write_text("<svg>" + " " * 600_000 + "</svg>")
    text, page = _render(folder)
    figures = {f["data-picture"]: f.get("class", "") for f in page.tags("figure")}
    assert figures == {
        "good": "",
        "scripted": "",
        "broken": "missing",
        "missing": "missing",
        "escaping": "missing",
        "huge": "missing",
    }
    assert 'clip-path="url(#picture1-c1)"' in text  # ids prefixed per picture
    assert "alert" not in text and "<script" not in text
    assert "broken: not shown (not well-formed XML" in page.text
    assert "missing: not shown (pictures/missing.svg is missing)" in page.text
    assert "escaping: not shown (../../../etc/passwd is outside the run folder)" in page.text
    assert "huge: not shown (pictures/huge.svg is larger than 512 KiB)" in page.text


def test_values_from_the_files_are_escaped(real_run: tuple[Path, str], tmp_path: Path) -> None:
    summary = json.loads((real_run[0] / "summary.json").read_text())
    steps = [
        {**s, "name": '<img src=x onerror="alert(1)">'} if i == 0 else s
        for i, s in enumerate(summary["steps"])
    ]
    folder = _copy(real_run, tmp_path, steps=steps, decided_by="<i>me</i>", run_id='"><b>')
    text, page = _render(folder)
    assert "<img" not in text and "<i>me" not in text and '"><b>' not in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert not page.tags("img") and not page.tags("b")


# -- the pieces, on definitions and histories of any shape -----------------------------------


def test_the_graph_of_any_definition() -> None:
    def get(reference: str) -> dict[str, str]:
        return {"Get": reference}

    def equals(left: object) -> list[dict[str, object]]:
        return [{"Type": "Equals", "LeftValue": left, "RightValue": 1}]

    report_file = {"PropertyFileName": "Report", "OutputName": "o", "FilePath": "r.json"}
    deep = {
        "Name": "Deep",
        "Type": "Lambda",
        "Arguments": {
            "x": {"Std:Join": {"On": "/", "Values": [get("Steps.Train.ModelArtifacts.Uri")]}}
        },
    }
    inner = {
        "Name": "Inner",
        "Type": "Condition",
        "Arguments": {
            "Conditions": equals(get("Steps.Train2.FinalMetricDataList['loss'].Value")),
            "IfSteps": [deep],
            "ElseSteps": [],
        },
    }
    stop = {"Name": "Stop", "Type": "Fail", "Arguments": {}, "DependsOn": ["Unknown"]}
    check = {
        "Name": "Check",
        "Type": "Condition",
        "DependsOn": ["Train"],
        "Arguments": {
            # A property file given by its name: the step that declares it.
            "Conditions": equals({"Std:JsonGet": {"PropertyFile": "Report", "Path": "a"}}),
            "IfSteps": [inner],
            "ElseSteps": [stop],
        },
    }
    definition = {
        "Steps": [
            {"Name": "Train", "Type": "Training", "Arguments": {}},
            {"Name": "Train2", "Type": "Training", "Arguments": {}, "PropertyFiles": [report_file]},
            check,
        ]
    }
    graph = pipeline_graph(definition)
    assert [(s.name, s.branch) for s in graph.steps] == [
        ("Train", None),
        ("Train2", None),
        ("Check", None),
        ("Inner", "Check if"),
        ("Deep", "Inner if"),
        ("Stop", "Check else"),
    ]
    assert set(graph.edges) == {
        Edge("Train", "Check", "depends"),
        Edge("Train2", "Check", "data"),  # the property file named in Std:JsonGet
        Edge("Check", "Inner", "if"),
        Edge("Check", "Stop", "else"),
        Edge("Train2", "Inner", "data"),  # Train2, not Train: the longest name that matches
        Edge("Inner", "Deep", "if"),
        Edge("Train", "Deep", "data"),
    }
    assert graph.layers() == {
        "Train": 0,
        "Train2": 0,
        "Check": 1,
        "Inner": 2,
        "Stop": 2,
        "Deep": 3,
    }


def test_a_definition_with_a_cycle_still_gets_layers() -> None:
    graph = pipeline_graph(
        {
            "Steps": [
                {"Name": "A", "Type": "Processing", "DependsOn": ["B"]},
                {"Name": "B", "Type": "Processing", "DependsOn": ["A"]},
            ]
        }
    )
    assert sorted(graph.layers().values()) == [0, 1]


def _event(kind: str, name: str | None = None, at: float = 0.0, **details: Any) -> dict:
    event: dict[str, Any] = {"type": kind, "timestamp": f"2026-11-30 07:00:{at:06.3f}+00:00"}
    if name is not None:
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        event[key] = {"name": name}
    if details:
        event[kind[0].lower() + kind[1:] + "EventDetails"] = details
    return event


def test_the_path_marks_caught_errors_and_the_failed_state() -> None:
    history = [
        _event("ExecutionStarted"),
        _event("TaskStateEntered", "Start", 0.0),
        _event("TaskFailed", error="Boom"),
        _event("TaskStateExited", "Start", 0.5),
        _event("PassStateEntered", "Recover", 0.5),
        _event("PassStateExited", "Recover", 0.6),
        _event("TaskStateEntered", "Deploy", 0.6),
        _event("ExecutionFailed", error="States.TaskFailed"),
    ]
    path = visits(history)
    assert [(v.name, v.type, v.outcome, v.error) for v in path] == [
        ("Start", "Task", "caught", "Boom"),
        ("Recover", "Pass", "ok", None),
        ("Deploy", "Task", "failed", None),
    ]
    assert path[0].seconds == pytest.approx(0.5)


def test_fold_draws_each_polling_loop_once_with_its_count() -> None:
    names = ["A", "Wait", "Check", "Wait", "Check", "Wait", "Check", "B", "C", "C", "D"]
    path = [Visit(n, "Pass", None) for n in names]
    stops = fold(path)
    assert [(s.name, s.repeats, s.loop) for s in stops] == [
        ("A", 1, None),
        ("Wait", 3, 1),
        ("Check", 3, 1),
        ("B", 1, None),
        ("C", 2, 2),
        ("D", 1, None),
    ]


# -- mlops show ------------------------------------------------------------------------------


def _browser(tmp_path: Path, exit_code: int) -> tuple[Path, Path]:
    """A stand-in browser for webbrowser (via BROWSER): it writes the URL it was given."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "fake-browser"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\nexit {exit_code}\n')
    script.chmod(0o755)
    return script, opened


def _show(runs: Path, run_id: str, browser: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`mlops show RUN --open` in a process of its own, with no display and no other browser
    on its PATH, so webbrowser can only use BROWSER."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(BROWSER=str(browser), PATH=str(empty))
    return subprocess.run(
        [sys.executable, "-m", "mlops.cli", "show", run_id, "--runs-dir", str(runs), "--open"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_show_open_renders_a_missing_report_and_opens_it(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    folder = _copy(real_run, tmp_path)  # an old run: no report.html
    browser, opened = _browser(tmp_path, 0)
    result = _show(folder.parent, folder.name[:15], browser, tmp_path)
    assert result.returncode == 0, result.stderr
    uri = (folder / "report.html").resolve().as_uri()
    assert opened.read_text() == uri
    assert f"Opened: {uri}" in result.stdout.splitlines()
    assert "<title>Run " in (folder / "report.html").read_text(encoding="utf-8")


def test_show_open_without_a_browser_says_so_in_one_line(
    real_run: tuple[Path, str], tmp_path: Path
) -> None:
    folder = _copy(real_run, tmp_path)
    browser, _ = _browser(tmp_path, 1)  # every browser webbrowser could use fails
    result = _show(folder.parent, folder.name, browser, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mlops show: error: --open: no browser found to open {folder / 'report.html'} "
        "(set BROWSER to one)"
    ]


def test_show_names_the_report(
    real_run: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = real_run[0]
    assert main(["show", folder.name, "--runs-dir", str(folder.parent)]) == 0
    assert f"Report:         {folder / 'report.html'}" in capsys.readouterr().out.splitlines()
