"""`mlops run`: the whole job through the local AWS, on Abalone, as a user runs it."""

from __future__ import annotations

import email
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from clients.session import Target
from core import contracts
from mlops import run as run_module
from mlops.cli import main

FAST = ["--param", "NumRound=30"]


def _run(runs_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    """Run `mlops run` in-process: exit code, summary.json and stdout."""
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    code = main(["run", "--runs-dir", str(runs_dir), *FAST, *args])
    out = capsys.readouterr().out
    (folder,) = [p for p in runs_dir.iterdir() if p not in before and not p.name.startswith(".")]
    return code, json.loads((folder / "summary.json").read_text()), out


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the module, so later runs reuse the step cache and stay fast."""
    return tmp_path_factory.mktemp("runs")


#: Pipeline executions `mlops run` started before the stack was deployed, in order.
EARLY_STARTS: list[str] = []


@pytest.fixture(scope="module")
def approved(runs_dir: Path) -> tuple[int, dict, str]:
    buffer = io.StringIO()
    before = set(runs_dir.iterdir())
    start_early = run_module._start_pipeline_early

    def recorded(*args: object) -> str:
        EARLY_STARTS.append(start_early(*args))
        return EARLY_STARTS[-1]

    with pytest.MonkeyPatch.context() as patch, redirect_stdout(buffer):
        patch.setattr(run_module, "_start_pipeline_early", recorded)
        code = main(["run", "--runs-dir", str(runs_dir), *FAST, "--approve", "auto"])
    (folder,) = [p for p in runs_dir.iterdir() if p not in before and not p.name.startswith(".")]
    return code, json.loads((folder / "summary.json").read_text()), buffer.getvalue()


def test_the_early_pipeline_start_is_the_one_the_workflow_runs(
    approved: tuple[int, dict, str],
) -> None:
    """The run starts the pipeline while the stack deploys; the state machine's own start,
    with the same token, must find that execution rather than start a second one."""
    summary = approved[1]
    assert [summary["pipeline_execution_arn"]] == EARLY_STARTS


def test_approved_run_deploys_the_model(approved: tuple[int, dict, str]) -> None:
    code, summary, out = approved
    assert code == 0
    assert summary["status"] == "Succeeded"
    assert summary["execution_status"] == "SUCCEEDED"
    assert summary["decision"] == "approved"
    assert summary["decided_by"] == "mlops run --approve auto"
    assert summary["model_approval_status"] == "Approved"
    assert summary["endpoint_status"] == "InService"
    assert summary["endpoint_name"]
    assert set(summary["timings"]) >= {"startup", "pipeline", "approval", "deploy", "total"}
    # The deployed endpoint answered the evaluation's sample as the evaluation predicted.
    smoke = summary["smoke_test"]
    assert (smoke["status"], smoke["rows"], smoke["endpoint"]) == (
        "passed",
        100,
        summary["endpoint_name"],
    )
    assert smoke["max_abs_diff"] == 0.0

    assert 0 < summary["timings"]["smoke_test"] < summary["timings"]["deploy"]
    assert f"Smoke test: passed, {smoke['reason']}" in out
    assert re.search(r"^Review: http://127\.0\.0\.1:\d+/review\?id=", out, re.MULTILINE)


def test_the_second_run_compares_with_the_first_runs_model(
    approved: tuple[int, dict, str], runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each run starts a fresh local AWS; the runs folder carries the deployed model over, so
    the pipeline's FindChampion finds it and Evaluate scores it on the same test rows."""
    first = approved[1]
    assert first["champion"]["champion"] is None
    assert "Champion: none (nothing deployed or approved before this run)" in approved[2]

    code, second, out = _run(runs_dir, capsys, "--approve", "auto", "--param", "MaxDepth=2")
    assert code == 0 and second["endpoint_status"] == "InService"
    assert second["champion_run"] == first["run_id"]
    comparison = second["champion"]
    assert comparison["champion"]["source"] == "approved-package"
    assert comparison["champion"]["model_package_arn"].endswith("/abalone-models/1")
    assert second["model_package_arn"].endswith("/abalone-models/2")
    assert comparison["comparable"] is True
    for name, row in comparison["metrics"].items():
        # The champion's numbers are the first run's own evaluation, exactly: same model, same
        # test rows, same bootstrap.
        assert row["champion"] == first["metrics"]["regression_metrics"][name]["value"]
        assert row["challenger"] == second["metrics"]["regression_metrics"][name]["value"]
        assert row["difference"] == pytest.approx(row["challenger"] - row["champion"])
    assert row["challenger"] != row["champion"]  # MaxDepth=2 trained another model
    champion_mse = comparison["metrics"]["mse"]["champion"]
    assert f"Champion: run {first['run_id']}'s model, test MSE {champion_mse:.4f}" in out
    assert main(["show", second["run_id"], "--runs-dir", str(runs_dir)]) == 0
    shown = capsys.readouterr().out
    assert f"Champion:       run {first['run_id']}'s model, test MSE {champion_mse:.4f}" in shown

    folder = runs_dir / second["run_id"]
    assert second["pictures"] == {
        name: f"pictures/{file}" for name, file in contracts.PICTURES.items()
    }
    scatter = (folder / second["pictures"]["predicted_vs_actual"]).read_text()
    assert scatter.count("data:image/png;base64,") == 2  # the challenger's and the champion's
    # The reviewer was shown both models, side by side.
    slack = (folder / "notifications" / "slack-1.json").read_text()
    assert "Against the champion, the latest approved package abalone-models v1" in slack
    mail = email.message_from_bytes((folder / "notifications" / "email-1.eml").read_bytes())
    plain = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    text = plain.get_payload(decode=True).decode()
    assert "Against the champion, the latest approved package abalone-models v1" in text
    mse = comparison["metrics"]["mse"]
    assert f"  mse    {mse['challenger']:>10.4g} against {mse['champion']:>10.4g} (" in text


def test_the_champion_gate_stops_a_worse_model_when_asked_to(
    approved: tuple[int, dict, str], runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ChampionMseTolerance=0: a model worse than the one deployed (`approved`'s, or a later
    run's) is not registered, even though it passes the MSE threshold."""
    code, summary, _ = _run(
        runs_dir,
        capsys,
        *("--param", "MaxDepth=1", "--param", "MseThreshold=100"),
        *("--param", "ChampionMseTolerance=0"),
    )
    assert code == 1 and summary["execution_error"] == "PipelineFailed"
    increase = summary["champion"]["mse_increase"]
    assert increase > 0  # one level deep: worse than the deployed model
    assert "ChampionMseTolerance = 0.0" in summary["execution_cause"]
    assert f"(it is {increase} above" in summary["execution_cause"]
    assert summary["model_package_arn"] is None
    assert summary["quality_gate"]["champion_mse_tolerance"] == 0.0
    assert main(["show", summary["run_id"], "--runs-dir", str(runs_dir)]) == 0
    assert "mse at most 100.0, and at most 0.0 above the champion's" in capsys.readouterr().out


def test_the_data_quality_baseline_is_computed_and_registered_with_the_model(
    approved: tuple[int, dict, str], runs_dir: Path, abalone_splits: Path
) -> None:
    """Model Monitor's statistics and constraints of the training features, in the run folder
    and as the package's drift-check baselines (what monitoring compares traffic with)."""
    summary = approved[1]
    folder = runs_dir / summary["run_id"] / "baseline"
    statistics = json.loads((folder / "statistics.json").read_text())
    constraints = json.loads((folder / "constraints.json").read_text())
    train = (abalone_splits / "baseline" / "baseline.csv").read_text().splitlines()
    assert statistics["dataset"]["item_count"] == len(train) - 1  # the header
    names = train[0].split(",")
    assert [f["name"] for f in statistics["features"]] == names
    assert [f["name"] for f in constraints["features"]] == names
    length = statistics["features"][0]["numerical_statistics"]
    assert (
        length["min"] > 0
        and length["max"] <= 1
        and len(length["distribution"]["kll"]["buckets"]) == 10
    )
    history = json.loads((runs_dir / summary["run_id"] / "execution_history.json").read_text())
    [package] = [
        json.loads(e["stateExitedEventDetails"]["output"])["package"]
        for e in history
        if e.get("stateExitedEventDetails", {}).get("name") == "DescribeModelPackage"
    ]
    drift = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"].endswith("/DataQualityBaseline/statistics.json")
    assert drift["Constraints"]["S3Uri"].endswith("/DataQualityBaseline/constraints.json")


def test_run_folder_keeps_what_was_sent(approved: tuple[int, dict, str], runs_dir: Path) -> None:
    from core.settings import Settings
    from deploy.template import render, workflow_template

    summary = approved[1]
    folder = runs_dir / summary["run_id"]
    # The stack the run deployed is the one `mlops template` prints, byte for byte.
    assert (folder / "template.json").read_text() == render(workflow_template(Settings())) + "\n"
    asl = json.loads((folder / "state_machine.asl.json").read_text())
    assert "HumanApproval" in json.dumps(asl) and "${" not in json.dumps(asl)
    history = json.loads((folder / "execution_history.json").read_text())
    assert history[0]["type"] == "ExecutionStarted"
    # The endpoint is monitored against the deployed model's baseline from now on.
    [created] = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in history
        if e.get("taskScheduledEventDetails", {}).get("resource") == "createMonitoringSchedule"
    ]
    assert created["MonitoringScheduleName"] == "abalone-endpoint-data-quality"
    config = created["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    baseline = config["MonitoringJobDefinition"]["BaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"].endswith("DataQualityBaseline/statistics.json")
    assert history[-1]["type"] == "ExecutionSucceeded"
    slack = json.loads((folder / "notifications" / "slack-1.json").read_text())
    message = email.message_from_bytes((folder / "notifications" / "email-1.eml").read_bytes())
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    review_link = re.search(r"http://127\.0\.0\.1:\d+/review\?[^\s\"<]+", parts["text/plain"])
    assert review_link and review_link.group(0).replace("&amp;", "&") in json.dumps(slack)
    sns = json.loads((folder / "notifications" / "sns.json").read_text())
    assert json.loads(sns[-1]["Message"])["decision"] == "approved"


def test_task_token_is_in_no_artifact(approved: tuple[int, dict, str], runs_dir: Path) -> None:
    folder = runs_dir / approved[1]["run_id"]
    history = json.loads((folder / "execution_history.json").read_text())
    tokens = [
        json.loads(e["taskScheduledEventDetails"]["parameters"]).get("Payload", {}).get("taskToken")
        for e in history
        if e["type"] == "TaskScheduled"
    ]
    assert [t for t in tokens if t] == ["<task token redacted>"]
    texts = [
        p.read_text(errors="replace")
        for p in folder.rglob("*")
        if p.suffix != ".gz" and p.is_file()
    ]
    assert not any(re.search(r"taskToken\W+[0-9a-f]{8}-", text) for text in texts)


def test_rejected_run_registers_rejection_and_deploys_nothing(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = _run(runs_dir, capsys, "--approve", "reject")
    assert code == 0
    assert summary["execution_status"] == "SUCCEEDED"
    assert summary["decision"] == "rejected"
    assert summary["model_approval_status"] == "Rejected"
    assert summary["endpoint_name"] is None


def test_approval_timeout_rejects_with_the_reason(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, out = _run(runs_dir, capsys, "--approve", "wait", "--approval-timeout", "1")
    assert code == 0
    assert "Review: http://127.0.0.1:" in out
    assert summary["decision"] == "rejected"
    assert "No decision within 1 seconds" in summary["decision_reason"]
    assert summary["model_approval_status"] == "Rejected"
    assert summary["endpoint_name"] is None


def test_unmet_quality_gate_fails_and_notifies(
    runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = _run(runs_dir, capsys, "--param", "MseThreshold=0.1")
    assert code == 1
    assert summary["status"] == "Failed"
    assert summary["execution_status"] == "FAILED"
    assert summary["execution_error"] == "PipelineFailed"
    assert "Test MSE" in summary["execution_cause"]
    assert "MseThreshold = 0.1" in summary["execution_cause"]
    assert summary["model_package_arn"] is None
    sns = json.loads((runs_dir / summary["run_id"] / "notifications" / "sns.json").read_text())
    assert any("MseThreshold = 0.1" in message["Message"] for message in sns)


def test_throttled_start_is_retried(
    runs_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state machine retries a throttled StartPipelineExecution (its own, after the run's
    early start: the fault is injected between the two)."""
    start_early = run_module._start_pipeline_early

    def then_throttle(target: Target, *args: object) -> str:
        arn = start_early(target, *args)
        target.local.inject_fault("start_pipeline_execution", "ThrottlingException")
        return arn

    monkeypatch.setattr(run_module, "_start_pipeline_early", then_throttle)
    code, summary, _ = _run(runs_dir, capsys, "--approve", "auto")
    assert code == 0
    assert summary["endpoint_status"] == "InService"
    history = json.loads((runs_dir / summary["run_id"] / "execution_history.json").read_text())
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed, "the injected throttle never reached the state machine"


def test_bad_approve_mode_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--runs-dir", str(tmp_path), "--approve", "maybe"])
    assert exit_info.value.code == 2


def test_mlops_runs_and_show_read_a_real_run(
    approved: tuple[int, dict, str], runs_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = approved[1]
    mse = summary["metrics"]["regression_metrics"]["mse"]["value"]
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    (line,) = [li for li in capsys.readouterr().out.splitlines() if summary["run_id"] in li]
    assert line.split()[3:7] == ["Succeeded", "approved", "mse", f"{mse:.4f}"]
    assert main(["show", summary["run_id"], "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert f"Model package:  {summary['model_package_arn']}" in out
    assert f"Endpoint:       {summary['endpoint_name']} (InService)" in out
