"""The cost of a run (mlops/cost.py): billing rules on known durations, totals worked out by
hand from core/prices.json's own figures, the local AWS's job records, and a real run."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT, Settings
from mlops import cost
from mlops.cli import main
from mlops.cost import Hosting, Invocation, Job, Usage

#: The prices file as a document: the tests take every figure from it.
DOCUMENT = json.loads((PROJECT_ROOT / "core" / "prices.json").read_text(encoding="utf-8"))
SAGEMAKER = DOCUMENT["sagemaker"]
PRICES = cost.Prices.from_document(DOCUMENT)
MINIMUM = SAGEMAKER["job_billing"]["minimum_seconds"]


def _rate(category: str, instance_type: str) -> float:
    return SAGEMAKER[f"{category}_per_hour"][instance_type]


# --- the billing rules ------------------------------------------------------------------------


def test_a_job_shorter_than_a_minute_is_billed_a_minute() -> None:
    assert MINIMUM == 60
    assert cost.billed_seconds(10, MINIMUM) == 60
    assert cost.billed_seconds(60.0, MINIMUM) == 60

    charge = cost.job_charge(Job("Preprocess", "Processing", "ml.m5.xlarge", 1, 10.0), PRICES)
    assert (charge.seconds, charge.billed_seconds) == (10.0, 60)
    assert charge.amount == pytest.approx(60 / 3600 * _rate("processing", "ml.m5.xlarge"))


def test_a_job_is_billed_per_second_rounded_up() -> None:
    assert cost.billed_seconds(60.2, MINIMUM) == 61
    assert cost.billed_seconds(61.0004, MINIMUM) == 61  # below a millisecond: clock noise

    charge = cost.job_charge(Job("Evaluate", "Processing", "ml.m5.xlarge", 1, 60.2), PRICES)
    assert charge.billed_seconds == 61
    assert charge.amount == pytest.approx(61 / 3600 * _rate("processing", "ml.m5.xlarge"))


def test_every_instance_of_a_job_is_billed() -> None:
    one = cost.job_charge(Job("Train", "Training", "ml.m5.xlarge", 1, 125.4), PRICES)
    two = cost.job_charge(Job("Train", "Training", "ml.m5.xlarge", 2, 125.4), PRICES)
    assert one.billed_seconds == two.billed_seconds == 126  # per instance
    assert two.quantity == pytest.approx(2 * one.quantity)
    assert two.amount == pytest.approx(2 * one.amount)
    assert two.amount == pytest.approx(2 * 126 / 3600 * _rate("training", "ml.m5.xlarge"))


def test_a_training_job_is_billed_for_sagemakers_billable_seconds() -> None:
    """BillableTimeInSeconds, when SageMaker gives it, rather than end minus start (they
    differ for managed spot training)."""
    charge = cost.job_charge(
        Job("Train", "Training", "ml.m5.xlarge", 1, seconds=500.0, billable_seconds=100), PRICES
    )
    assert (charge.seconds, charge.billed_seconds) == (500.0, 100)
    assert charge.amount == pytest.approx(100 / 3600 * _rate("training", "ml.m5.xlarge"))


def test_a_cache_hit_costs_nothing() -> None:
    earlier = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/earlier"
    charge = cost.job_charge(Job("Train", "Training", reused_from=earlier), PRICES)
    assert (charge.billed_seconds, charge.amount) == (0, 0)
    assert earlier in charge.reason


def test_the_endpoint_costs_its_hours_pro_rata() -> None:
    rate = _rate("hosting", "ml.m5.large")
    half_hour = cost.hosting_charge(Hosting("e", "AllTraffic", 1800.0, "ml.m5.large", 1), PRICES)
    assert half_hour.amount == pytest.approx(rate / 2)
    four_minutes_on_three = cost.hosting_charge(
        Hosting("e", "AllTraffic", 240.0, "ml.m5.large", 3), PRICES
    )
    assert four_minutes_on_three.amount == pytest.approx(3 * 240 / 3600 * rate)
    # no minimum for hosting: a second is a second
    second = cost.hosting_charge(Hosting("e", "AllTraffic", 1.0, "ml.m5.large", 1), PRICES)
    assert second.amount == pytest.approx(rate / 3600, abs=1e-8)


def test_an_unknown_instance_type_is_an_item_without_an_amount() -> None:
    usage = Usage(
        "us-east-1",
        jobs=(
            Job("Train", "Training", "ml.zz.colossal", 1, 30.0),
            Job("Evaluate", "Processing", "ml.m5.xlarge", 1, 30.0),
        ),
    )
    estimate = cost.estimate(usage, PRICES)
    unknown, known = estimate["items"]
    assert unknown["amount"] is None
    assert "ml.zz.colossal" in unknown["reason"] and "training" in unknown["reason"]
    assert estimate["total"] == pytest.approx(known["amount"])


def test_a_serverless_endpoint_shows_its_rate_but_no_amount() -> None:
    charge = cost.hosting_charge(
        Hosting("e", "AllTraffic", 600.0, serverless_memory_mb=2048), PRICES
    )
    assert charge.rate == SAGEMAKER["serverless_per_second_by_memory_mb"]["2048"]
    assert charge.amount is None and "serverless" in charge.reason


def test_a_whole_run_totals_as_worked_out_by_hand() -> None:
    usage = Usage(
        "us-east-1",
        jobs=(
            Job("Preprocess", "Processing", "ml.m5.xlarge", 1, 12.5),
            Job("Train", "Training", "ml.m5.xlarge", 2, 125.0, billable_seconds=125),
            Job("Baseline", "Processing", reused_from="arn:...:execution/earlier"),
        ),
        hosting=(Hosting("abalone-endpoint", "AllTraffic", 90.0, "ml.m5.large", 1),),
        state_transitions=40,
        invocations=(
            Invocation("abalone-approval", 256, "arm64", 0.5),
            Invocation("abalone-smoke-test", 256, "arm64", 0.0804),
        ),
    )
    estimate = cost.estimate(usage, PRICES)

    processing = 60 / 3600 * SAGEMAKER["processing_per_hour"]["ml.m5.xlarge"]
    training = 2 * 125 / 3600 * SAGEMAKER["training_per_hour"]["ml.m5.xlarge"]
    hosting = 90 / 3600 * SAGEMAKER["hosting_per_hour"]["ml.m5.large"]
    transitions = 40 * DOCUMENT["step_functions"]["standard_per_1000_state_transitions"] / 1000
    requests = 2 * DOCUMENT["lambda"]["per_million_requests"] / 1_000_000
    arm = DOCUMENT["lambda"]["per_gb_second"]["arm64"]
    approval, smoke = 0.5 * 0.25 * arm, 0.081 * 0.25 * arm  # whole milliseconds, 256 MB
    by_hand = processing + training + hosting + transitions + requests + approval + smoke

    assert estimate["total"] == pytest.approx(by_hand, abs=1e-8)
    assert [i["amount"] for i in estimate["items"]] == pytest.approx(
        [processing, training, 0, hosting, transitions, requests, approval, smoke], abs=1e-8
    )
    assert (estimate["currency"], estimate["region"], estimate["prices_read_on"]) == (
        DOCUMENT["currency"],
        DOCUMENT["region"],
        DOCUMENT["read_on"],
    )
    assert "estimate" in estimate["note"] and "\n" not in estimate["note"]
    json.dumps(estimate)  # summary.json takes it as it is


def test_a_run_in_another_region_says_its_prices_may_differ() -> None:
    note = cost.estimate(Usage("eu-west-1"), PRICES)["note"]
    assert "eu-west-1" in note and DOCUMENT["region"] in note


# --- the execution history ------------------------------------------------------------------


def _event(id_: int, kind: str, second: float, **details: Any) -> dict[str, Any]:
    moment = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=second)
    return {"id": id_, "previousEventId": id_ - 1, "type": kind, "timestamp": moment, **details}


def _lambda_scheduled(id_: int, second: float, function: str, resource: str) -> dict[str, Any]:
    parameters = json.dumps({"FunctionName": f"arn:aws:lambda:us-east-1:1:function:{function}"})
    details = {"resourceType": "lambda", "resource": resource, "parameters": parameters}
    return _event(id_, "TaskScheduled", second, taskScheduledEventDetails=details)


HISTORY = [
    _event(1, "ExecutionStarted", 0),
    _event(2, "PassStateEntered", 0.1),
    _event(3, "PassStateExited", 0.1),
    _event(4, "TaskStateEntered", 0.2),
    _lambda_scheduled(5, 0.2, "abalone-approval", "invoke.waitForTaskToken"),
    _event(6, "TaskStarted", 0.25),
    _event(7, "TaskSubmitted", 0.5),  # the function answered; the task waits for a person
    _event(8, "TaskSucceeded", 30.0),
    _event(9, "TaskStateExited", 30.0),
    _event(10, "TaskStateEntered", 30.1),
    _lambda_scheduled(11, 30.1, "abalone-smoke-test", "invoke"),
    _event(12, "TaskStarted", 30.1),
    _event(13, "TaskFailed", 30.2),
    _lambda_scheduled(14, 31.2, "abalone-smoke-test", "invoke"),  # the task's retry
    _event(15, "TaskStarted", 31.2),
    _event(16, "TaskSucceeded", 31.5),
    _event(17, "TaskStateExited", 31.5),
    _event(18, "ChoiceStateEntered", 31.6),
    _event(19, "ChoiceStateExited", 31.6),
    _event(20, "SucceedStateEntered", 31.7),
    _event(21, "SucceedStateExited", 31.7),
    _event(22, "ExecutionSucceeded", 31.8),
]


def test_state_transitions_are_the_states_entered_and_the_retries() -> None:
    assert cost.state_transitions(HISTORY) == 5 + 1


def test_lambda_invocations_last_until_the_function_answers() -> None:
    assert [(t.function, t.seconds) for t in cost.lambda_tasks(HISTORY)] == [
        ("abalone-approval", pytest.approx(0.25)),
        ("abalone-smoke-test", pytest.approx(0.1)),
        ("abalone-smoke-test", pytest.approx(0.3)),
    ]
    started, ended = cost.execution_times(HISTORY)
    assert (ended - started).total_seconds() == pytest.approx(31.8)


def test_a_saved_history_reads_as_the_api_history() -> None:
    """The run folder's execution_history.json has its timestamps as text."""
    saved = json.loads(json.dumps(HISTORY, default=str))
    assert cost.lambda_tasks(saved) == cost.lambda_tasks(HISTORY)
    assert cost.execution_times(saved) == cost.execution_times(HISTORY)


# --- the prices file --------------------------------------------------------------------------


def test_the_prices_file_prices_the_project_defaults_and_cites_its_sources() -> None:
    settings = Settings()
    assert settings.training_instance_type in SAGEMAKER["training_per_hour"]
    assert settings.processing_instance_type in SAGEMAKER["processing_per_hour"]
    assert settings.inference_instance_type in SAGEMAKER["hosting_per_hour"]
    assert dt.date.fromisoformat(DOCUMENT["read_on"])
    for section in (SAGEMAKER, SAGEMAKER["job_billing"], DOCUMENT["step_functions"]):
        sources = section["source"] if isinstance(section["source"], list) else [section["source"]]
        assert sources and all(s.startswith("https://") for s in sources)
        assert "verified" in section
    assert cost.load_prices() == PRICES  # what mlops run reads, from the installed package


# --- the local AWS records job times as SageMaker does ---------------------------------------


def test_local_jobs_record_their_resources_and_run_time() -> None:
    from localaws import local_aws
    from localaws.sagemaker_jobs import end_job

    role = "arn:aws:iam::123456789012:role/r"
    cluster = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30}
    with local_aws() as aws:
        sagemaker = aws.client("sagemaker")
        sagemaker.create_processing_job(
            ProcessingJobName="p",
            ProcessingResources={"ClusterConfig": cluster},
            AppSpecification={"ImageUri": "image"},
            Environment={"A": "1"},
            RoleArn=role,
        )
        sagemaker.create_training_job(
            TrainingJobName="t",
            AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "File"},
            RoleArn=role,
            OutputDataConfig={"S3OutputPath": "s3://b/o"},
            ResourceConfig={**cluster, "InstanceCount": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        end_job(aws.account, "Processing", "p", "Step Evaluate: evaluate.py exited 1")
        end_job(aws.account, "Training", "t")
        end_job(aws.account, "Training", "never-created")  # its step failed before: no-op
        processing = sagemaker.describe_processing_job(ProcessingJobName="p")
        training = sagemaker.describe_training_job(TrainingJobName="t")

    assert processing["ProcessingResources"] == {"ClusterConfig": cluster}
    assert processing["Environment"] == {"A": "1"}
    assert processing["ProcessingJobStatus"] == "Failed"
    assert processing["FailureReason"] == "Step Evaluate: evaluate.py exited 1"
    assert processing["ProcessingStartTime"] <= processing["ProcessingEndTime"]
    assert training["TrainingJobStatus"] == "Completed"
    assert training["TrainingStartTime"] < training["TrainingEndTime"]
    run_time = (training["TrainingEndTime"] - training["TrainingStartTime"]).total_seconds()
    assert training["BillableTimeInSeconds"] == max(1, math.ceil(run_time))


# --- a real run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One `mlops run --approve auto` in a runs folder of its own (no step cache yet, so every
    job runs). No test module shares a completed run at session scope to reuse."""
    runs = tmp_path_factory.mktemp("runs")
    with redirect_stdout(io.StringIO()):
        code = main(["run", "--runs-dir", str(runs), "--param", "NumRound=30", "--approve", "auto"])
    assert code == 0
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return folder, json.loads((folder / "summary.json").read_text())


@pytest.mark.slow
def test_a_run_records_what_each_job_and_the_endpoint_cost(
    run: tuple[Path, dict[str, Any]],
) -> None:
    folder, summary = run
    estimate = summary["cost"]
    items = {item["what"]: item for item in estimate["items"]}
    settings = Settings()

    ran = [s for s in summary["steps"] if s["type"] in {"Processing", "Training", "QualityCheck"}]
    jobs = [i for i in estimate["items"] if i["category"] in {"processing", "training"}]
    assert [i["what"].split(" (")[0] for i in jobs] == [s["name"] for s in ran]
    for job in jobs:
        assert not job["reason"], job
        assert job["instance_type"] == getattr(settings, f"{job['category']}_instance_type")
        assert job["seconds"] > 0 and job["billed_seconds"] == max(60, math.ceil(job["seconds"]))
        assert job["amount"] == pytest.approx(
            job["billed_seconds"] / 3600 * _rate(job["category"], job["instance_type"]), abs=1e-8
        )

    endpoint = items[f"{summary['endpoint_name']} endpoint (AllTraffic)"]
    assert endpoint["instance_type"] == settings.inference_instance_type
    assert 0 < endpoint["seconds"] < summary["timings"]["total"]

    history = json.loads((folder / "execution_history.json").read_text())
    entered = sum(e["type"].endswith("StateEntered") for e in history)
    assert items["Step Functions state transitions"]["count"] == entered
    assert items["Lambda requests"]["count"] == 2  # the approval and the smoke test
    smoke = items[f"Lambda duration ({settings.project}-smoke-test)"]
    assert smoke["rate"] == DOCUMENT["lambda"]["per_gb_second"]["arm64"]  # the stack's arch

    assert estimate["total"] == pytest.approx(sum(i["amount"] for i in estimate["items"]))


@pytest.mark.slow
def test_mlops_show_prints_the_cost(
    run: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, summary = run
    assert main(["show", str(folder)]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Cost:")]
    largest = max(summary["cost"]["items"], key=lambda i: i["amount"] or 0)
    assert f"${summary['cost']['total']:.4f} estimated at list prices" in line
    assert f"{largest['what']} ${largest['amount']:.4f}" in line
