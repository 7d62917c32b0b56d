"""The local pipeline executor: expressions, conditions, and whole executions of the real pipeline.

Whole executions go through the embedded local AWS exactly as `mlops run` does: the definition
built by pipelines/, the real scripts, the bundled Abalone data in the emulated S3.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.settings import DEFAULT_DATA, Settings
from localaws import PipelineFailed, PipelineRun, local_aws
from localaws.accounts import Account
from localaws.executor import LocalPipelineExecutor
from localaws.executor.archives import extract
from localaws.executor.cache import StepCache, parse_duration
from localaws.executor.conditions import all_hold, evaluate
from localaws.executor.errors import DefinitionError, StepFailed, fit_reason
from localaws.executor.expressions import (
    ExpressionError,
    Scope,
    resolve,
    resolve_parameters,
    step_references,
)
from localaws.executor.jobs import Artifact, StepOutcome, job_name
from localaws.executor.plan import plan
from localaws.executor.s3files import relative_key

FAST = {"NumRound": "20"}
GATE = Settings().mse_threshold
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123def456"

# --- expressions and parameters ---------------------------------------------------------

DECLARED = [
    {"Name": "Count", "Type": "Integer", "DefaultValue": 5},
    {"Name": "Rate", "Type": "Float", "DefaultValue": 6},
    {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
    {"Name": "Mode", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
]


def test_parameters_take_defaults_and_typed_overrides() -> None:
    assert resolve_parameters(DECLARED, {}) == {"Count": 5, "Rate": 6.0, "Flag": False, "Mode": "a"}
    values = resolve_parameters(DECLARED, {"Count": "20", "Rate": "0.1", "Flag": "TRUE"})
    assert values == {"Count": 20, "Rate": 0.1, "Flag": True, "Mode": "a"}
    assert type(values["Rate"]) is float and type(values["Count"]) is int


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"Bogus": "1", "Other": "2"}, "unknown pipeline parameter(s) Bogus, Other"),
        ({"Count": "2.5"}, "parameter Count (Integer): given value '2.5' is not an integer"),
        ({"Rate": "fast"}, "parameter Rate (Float): given value 'fast' is not a number"),
        ({"Flag": "yes"}, "parameter Flag (Boolean): given value 'yes' is not true or false"),
        ({"Mode": "c"}, "parameter Mode: 'c' is not one of a, b"),
    ],
)
def test_bad_parameters_are_named(given: dict[str, str], message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        resolve_parameters(DECLARED, given)
    assert message in str(error.value)


@pytest.fixture
def scope() -> Scope:
    return Scope(
        parameters={"Threshold": 6.0, "Count": 20, "Url": "s3://b/in.csv"},
        execution={"PipelineExecutionId": "abc123def456", "PipelineName": "p"},
        steps={
            "Prep": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/x/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/x/test"}},
                    ]
                }
            },
            "Eval": {"PropertyFiles": {"Report": {"metrics": {"mse": {"value": 4.43}}, "l": [7]}}},
        },
    )


def test_get_join_and_step_properties(scope: Scope) -> None:
    fragment = {
        "A": {"Get": "Parameters.Count"},
        "B": {
            "Std:Join": {
                "On": "/",
                "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}],
            }
        },
        "C": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "D": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"},
        "E": [{"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Threshold"}]}}, True],
    }
    assert resolve(fragment, scope) == {
        "A": 20,
        "B": "s3://b/abc123def456",
        "C": "s3://b/x/test",
        "D": "s3://b/x/train",
        "E": ["6.0", True],
    }
    assert set(step_references(fragment)) == {"Prep"}


def test_json_get_reads_a_property_file(scope: Scope) -> None:
    def json_get(path: str) -> dict[str, Any]:
        source = {"Get": "Steps.Eval.PropertyFiles.Report"}
        return {"Std:JsonGet": {"PropertyFile": source, "Path": path}}

    assert resolve(json_get("metrics.mse.value"), scope) == 4.43
    assert resolve(json_get("l[0]"), scope) == 7
    message = {
        "Std:Join": {
            "On": " ",
            "Values": ["MSE", json_get("metrics.mse.value"), "vs", {"Get": "Parameters.Threshold"}],
        }
    }
    assert resolve(message, scope) == "MSE 4.43 vs 6.0"
    with pytest.raises(ExpressionError, match=r"mse\.nope: not found \(available: value\)"):
        resolve(json_get("metrics.mse.nope"), scope)


@pytest.mark.parametrize(
    "path",
    ["Parameters.Nope", "Execution.Nope", "Steps.Later.Foo", "Steps.Prep.Missing", "Other.X"],
)
def test_unresolvable_gets_fail_with_the_path(scope: Scope, path: str) -> None:
    with pytest.raises(ExpressionError, match=path.split(".")[1] if "." in path else path):
        resolve({"Get": path}, scope)


# --- conditions --------------------------------------------------------------------------

JSON_MSE = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
        "Path": "metrics.mse.value",
    }
}


def _compare(kind: str, left: Any, right: Any) -> dict[str, Any]:
    return {"Type": kind, "LeftValue": left, "RightValue": right}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (_compare("LessThanOrEqualTo", JSON_MSE, {"Get": "Parameters.Threshold"}), True),
        (_compare("LessThanOrEqualTo", JSON_MSE, 4.43), True),
        (_compare("LessThanOrEqualTo", JSON_MSE, 4.42), False),
        (_compare("LessThan", JSON_MSE, 4.43), False),
        (_compare("LessThan", 3, 4.43), True),
        (_compare("GreaterThan", JSON_MSE, 4), True),
        (_compare("GreaterThan", 10, 9.5), True),  # numbers, not text: "10" < "9.5"
        (_compare("GreaterThan", JSON_MSE, 4.43), False),
        (_compare("GreaterThanOrEqualTo", JSON_MSE, 4.43), True),
        (_compare("GreaterThanOrEqualTo", {"Get": "Parameters.Count"}, 21), False),
        (_compare("Equals", {"Get": "Parameters.Count"}, 20.0), True),
        (_compare("Equals", {"Get": "Parameters.Url"}, "s3://b/in.csv"), True),
        (_compare("Equals", True, "true"), False),
        (_compare("Equals", "a", "b"), False),
        ({"Type": "In", "QueryValue": {"Get": "Parameters.Count"}, "Values": [1, 20]}, True),
        ({"Type": "In", "QueryValue": "x", "Values": ["a", "b"]}, False),
        ({"Type": "Not", "Condition": _compare("Equals", 1, 2)}, True),
        ({"Type": "Not", "Condition": _compare("Equals", 2, 2)}, False),
        (
            {"Type": "Or", "Conditions": [_compare("Equals", 1, 2), _compare("LessThan", 1, 2)]},
            True,
        ),
        (
            {"Type": "Or", "Conditions": [_compare("Equals", 1, 2), _compare("LessThan", 3, 2)]},
            False,
        ),
    ],
)
def test_every_condition_type(scope: Scope, condition: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, lambda value: resolve(value, scope)) is expected


def test_conditions_must_all_hold_and_mismatches_are_errors(scope: Scope) -> None:
    def resolver(value: Any) -> Any:
        return resolve(value, scope)

    assert all_hold([_compare("LessThan", 1, 2), _compare("LessThan", 1, 3)], resolver)
    assert not all_hold([_compare("LessThan", 1, 2), _compare("LessThan", 4, 3)], resolver)
    with pytest.raises(ExpressionError, match="cannot compare"):
        evaluate(_compare("LessThan", JSON_MSE, "abc"), resolver)
    with pytest.raises(ExpressionError, match="unknown condition type 'Between'"):
        evaluate({"Type": "Between"}, resolver)


# --- plan, cache, small pieces -------------------------------------------------------------


def _step(name: str, kind: str = "Fail", **arguments: Any) -> dict[str, Any]:
    return {"Name": name, "Type": kind, "Arguments": arguments}


def test_plan_orders_by_dependencies_and_rejects_bad_graphs() -> None:
    late = _step("Late", ErrorMessage={"Get": "Steps.Early.Outcome"})
    early = _step("Early", "Condition", Conditions=[], IfSteps=[_step("Inner")], ElseSteps=[])
    ordered = plan({"Steps": [late, early]})
    assert [s.name for s in ordered] == ["Early", "Late", "Inner"]
    assert ordered[2].branch == ("Early", True)
    cycle = [
        _step("A", ErrorMessage={"Get": "Steps.B.X"}),
        _step("B", ErrorMessage={"Get": "Steps.A.X"}),
    ]
    with pytest.raises(DefinitionError, match="cycle: A, B"):
        plan({"Steps": cycle})
    with pytest.raises(DefinitionError, match="step A refers to unknown step"):
        plan({"Steps": [_step("A", ErrorMessage={"Get": "Steps.Gone.X"})]})
    with pytest.raises(DefinitionError, match=r"Tune \(type Tuning\), Emr \(type EMR\)"):
        plan({"Steps": [_step("A"), _step("Tune", "Tuning"), _step("Emr", "EMR")]})


def test_durations_and_cache_expiry(tmp_path: Path) -> None:
    assert parse_duration("P30D") == dt.timedelta(days=30)
    assert parse_duration("PT1H30M") == dt.timedelta(hours=1, minutes=30)
    assert parse_duration("P1WT2S") == dt.timedelta(days=7, seconds=2)
    for bad in ("30D", "P", "PT", "P1H"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    cache = StepCache(tmp_path)
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cache.store("k", "S", "Processing", StepOutcome(properties={"a": 1}), ARN, now)
    hour = dt.timedelta(hours=1)
    assert cache.lookup("k", hour, now + hour).outcome().properties == {"a": 1}
    assert cache.lookup("k", hour, now + 2 * hour) is None
    assert cache.lookup("k", None, now + 1000 * hour) is not None
    assert cache.lookup("other", None, now) is None


def test_cache_entries_link_the_job_files_and_outlive_the_job_folder(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / "train").mkdir(parents=True)
    (job / "train" / "train.csv").write_text("1,2\n")
    (job / "model.tar.gz").write_bytes(b"model")
    outcome = StepOutcome(
        artifacts=[
            Artifact("s3://b/out/train", job / "train"),
            Artifact("s3://b/models/model.tar.gz", job / "model.tar.gz"),
        ]
    )
    cache = StepCache(tmp_path / "cache")
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cache.store("k", "Train", "Training", outcome, ARN, now)
    entry = cache.lookup("k", None, now)
    stored = {a["Uri"]: entry.folder / a["Path"] for a in entry.record["Artifacts"]}
    folder, model = stored["s3://b/out/train"], stored["s3://b/models/model.tar.gz"]
    # Same file system: the entry shares the job's files instead of copying their bytes.
    assert (folder / "train.csv").stat().st_ino == (job / "train" / "train.csv").stat().st_ino
    assert model.stat().st_ino == (job / "model.tar.gz").stat().st_ino
    shutil.rmtree(job)
    assert (folder / "train.csv").read_text() == "1,2\n"
    assert model.read_bytes() == b"model"
    assert cache.lookup("k", None, now) is not None


def test_failure_reason_keeps_the_end_of_the_log() -> None:
    tail = "\n".join(f"line {n}" for n in range(500)) + "\nscript.py: error: the real problem"
    reason = fit_reason("Step X: script.py exited with code 1.", tail)
    assert len(reason) <= 1024
    assert reason.startswith("Step X: script.py exited with code 1.")
    assert reason.endswith("script.py: error: the real problem")


def test_unsafe_archives_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(StepFailed, match=r"unsafe member '\.\./escape\.py'"):
        extract(archive, tmp_path / "code")
    assert not (tmp_path / "escape.py").exists()


def test_job_names_and_s3_prefix_layout() -> None:
    name = job_name("abc123def456", "A_very_long_step_name_" * 3, ARN)
    assert len(name) <= 63 and name.startswith("pipelines-abc123def456-A-very-long")
    assert all(c.isalnum() or c == "-" for c in name) and "--" not in name
    assert relative_key("p/in/abalone.csv", "p/in/abalone.csv") == "abalone.csv"
    assert relative_key("p/out/train/train.csv", "p/out/train") == "train.csv"
    assert relative_key("p/out/train2/x.csv", "p/out/train") == "train2/x.csv"


def test_unknown_parameters_fail_before_anything_runs(tmp_path: Path) -> None:
    nowhere = Account("123456789012", "us-east-1", "http://127.0.0.1:9")  # never reached
    definition = {"Parameters": [], "Steps": [_step("Stop")]}
    run = PipelineRun(ARN, "p", definition, {"Bogus": "1"}, nowhere)
    with pytest.raises(PipelineFailed, match=r"unknown pipeline parameter.*Bogus"):
        LocalPipelineExecutor(tmp_path, None)(run)
    assert run.steps == []


# --- whole executions through the local AWS ------------------------------------------------


@dataclass
class Execution:
    """One finished execution, as the SageMaker API reports it, read while the AWS was up."""

    arn: str
    status: str
    reason: str | None
    steps: list[dict[str, Any]]
    folder: Path
    packages: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] | None = None
    evaluation_uri: str | None = None
    model_members: list[str] = field(default_factory=list)
    model_uri: str | None = None

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["StepName"] == name)

    @property
    def names(self) -> list[str]:
        return [s["StepName"] for s in self.steps]


def execute(
    workspace: Path,
    cache_dir: Path | None,
    settings: Settings | None = None,
    params: dict[str, str] | None = None,
    data: bytes | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Execution:
    """Build the definition in a new local AWS, start it, wait, and collect what it left."""
    from pipelines import build_pipeline
    from pipelines.pipeline import default_input_url
    from pipelines.session import pipeline_session

    settings = settings or Settings()
    params = dict(FAST if params is None else params)
    executor = LocalPipelineExecutor(workspace, cache_dir)
    with local_aws(executor) as aws:
        sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
        session = pipeline_session(settings, aws.session, aws.account_id)
        definition = json.loads(build_pipeline(settings, session).definition())
        if edit:
            edit(definition)
        bucket = settings.bucket_for(aws.account_id)
        url = default_input_url(settings, bucket)
        if data is not None:
            url = f"s3://{bucket}/{settings.prefix('input', 'custom', 'data.csv')}"
            params["InputDataUrl"] = url
        body = data if data is not None else DEFAULT_DATA.read_bytes()
        s3.put_object(Bucket=bucket, Key=url.split("/", 3)[3], Body=body)
        sagemaker.create_pipeline(
            PipelineName=settings.pipeline_name,
            PipelineDefinition=json.dumps(definition),
            RoleArn=settings.role_arn,
        )
        arn = sagemaker.start_pipeline_execution(
            PipelineName=settings.pipeline_name,
            PipelineParameters=[{"Name": k, "Value": v} for k, v in params.items()],
        )["PipelineExecutionArn"]
        deadline = time.monotonic() + 120
        while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline, "the execution did not finish in 120 s"
            time.sleep(0.1)
        steps = sagemaker.list_pipeline_execution_steps(
            PipelineExecutionArn=arn, SortOrder="Ascending"
        )["PipelineExecutionSteps"]
        result = Execution(
            arn,
            described["PipelineExecutionStatus"],
            described.get("FailureReason"),
            steps,
            workspace / arn.rsplit("/", 1)[1],
        )
        _collect(result, sagemaker, s3, settings)
    return result


def _collect(result: Execution, sagemaker: Any, s3: Any, settings: Settings) -> None:
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if any(g["ModelPackageGroupName"] == settings.model_package_group for g in groups):
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=settings.model_package_group
        )["ModelPackageSummaryList"]
        result.packages = [
            sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            for p in summaries
        ]
    done = {s["StepName"]: s for s in result.steps if s["StepStatus"] == "Succeeded"}
    if "Evaluate" in done:
        job = done["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
        outputs = sagemaker.describe_processing_job(ProcessingJobName=job)
        uri = outputs["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        result.evaluation_uri = f"{uri}/evaluation.json"
        bucket, key = result.evaluation_uri[5:].split("/", 1)
        result.evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if "Train" in done:
        job = done["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
        result.model_uri = sagemaker.describe_training_job(TrainingJobName=job)["ModelArtifacts"][
            "S3ModelArtifacts"
        ]
        bucket, key = result.model_uri[5:].split("/", 1)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            result.model_members = tar.getnames()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("step-cache")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Execution:
    """One full execution with an empty cache, which warms the cache for later tests."""
    return execute(tmp_path_factory.mktemp("first"), cache_dir)


def _mse(execution: Execution) -> float:
    assert execution.evaluation is not None
    return execution.evaluation["regression_metrics"]["mse"]["value"]


@pytest.mark.slow
def test_full_execution_registers_a_model_awaiting_approval(first_run: Execution) -> None:
    run = first_run
    assert (run.status, run.reason) == ("Succeeded", None)
    assert run.names == [
        "Preprocess",
        "FindChampion",
        "Train",
        "DataQualityBaseline",
        "Evaluate",
        "QualityGate",
        "Register-RegisterModel",
    ]
    for step in run.steps:
        assert step["StepStatus"] == "Succeeded" and "CacheHitResult" not in step
        assert step["StartTime"] <= step["EndTime"]
    assert run.step("QualityGate")["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert _mse(run) <= GATE
    # The model package: awaiting a human, with this execution's own metrics and model.
    (package,) = run.packages
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    execution_id = run.arn.rsplit("/", 1)[1]
    metrics_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri == run.evaluation_uri
    assert f"/{execution_id}/Evaluate/output/evaluation/evaluation.json" in metrics_uri
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == run.model_uri
    evaluation = metrics_uri.rsplit("/", 1)[0]
    assert package["CustomerMetadataProperties"] == {
        "PipelineExecutionArn": run.arn,
        "EvaluationComparison": f"{evaluation}/comparison.json",
        "EvaluationPictures": f"{evaluation}/pictures",
    }
    register = run.step("Register-RegisterModel")["Metadata"]["RegisterModel"]["Arn"]
    assert register == package["ModelPackageArn"]
    assert run.model_members == ["xgboost-model"]
    assert f"-{execution_id}-Train-" in run.model_uri
    # The run folder: a log per step with the command and the job's output, and timings.
    preprocess_log = (run.folder / "logs" / "Preprocess.log").read_text()
    assert "command: " in preprocess_log and "preprocess.py --input " in preprocess_log
    command = next(line for line in preprocess_log.splitlines() if line.startswith("# command:"))
    arguments = command.split()[2:]
    assert "--output-dir" in arguments
    assert not [a for a in arguments if a.startswith("/opt/ml")]  # every path mapped
    assert arguments[1].endswith("/steps/Preprocess/opt/ml/processing/input/code/preprocess.py")
    assert "preprocess: 4177 rows" in preprocess_log
    assert "--num_round 20" in (run.folder / "logs" / "Train.log").read_text()
    timings = json.loads((run.folder / "timings.json").read_text())
    assert [t["StepName"] for t in timings["Steps"]] == run.names


@pytest.mark.slow
def test_new_session_reuses_cached_steps(
    first_run: Execution, cache_dir: Path, tmp_path: Path
) -> None:
    again = execute(tmp_path, cache_dir)
    assert again.status == "Succeeded"
    assert again.arn != first_run.arn
    for name in ("Preprocess", "Train", "Evaluate"):
        step = again.step(name)
        assert step["CacheHitResult"] == {"SourcePipelineExecutionArn": first_run.arn}
        assert step["Metadata"] == first_run.step(name)["Metadata"]
        assert not (again.folder / "steps" / name).exists()  # no job ran
        assert "cache hit" in (again.folder / "logs" / f"{name}.log").read_text()
    assert again.evaluation == first_run.evaluation
    (package,) = again.packages  # restored into this session's empty S3 and registered anew
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == first_run.model_uri
    assert again.model_members == ["xgboost-model"]


@pytest.mark.slow
def test_quality_gate_failure_names_the_metric_and_registers_nothing(
    first_run: Execution, cache_dir: Path, tmp_path: Path
) -> None:
    failed = execute(tmp_path, cache_dir, params={**FAST, "MseThreshold": "0.1"})
    mse = _mse(failed)
    expected = (
        f"Test MSE {mse} must be at most MseThreshold = 0.1 and at most "
        "ChampionMseTolerance = -1.0 above the champion's (it is 0.0 above; a negative "
        "tolerance turns that check off)"
    )
    assert (failed.status, failed.reason) == ("Failed", expected)
    assert failed.names == [
        "Preprocess",
        "FindChampion",
        "Train",
        "DataQualityBaseline",
        "Evaluate",
        "QualityGate",
        "QualityGateFailed",
    ]
    assert failed.step("QualityGate")["Metadata"] == {"Condition": {"Outcome": "False"}}
    fail = failed.step("QualityGateFailed")
    assert fail["StepStatus"] == "Failed"
    assert fail["Metadata"] == {"Fail": {"ErrorMessage": expected}}
    assert failed.packages == []


@pytest.mark.slow
def test_malformed_csv_fails_at_preprocess_with_the_scripts_message(tmp_path: Path) -> None:
    rows = DEFAULT_DATA.read_text().splitlines()
    rows[3] = "M,0.5,abc,0.1,0.5,0.2,0.1,0.15,9"
    failed = execute(tmp_path, None, data=("\n".join(rows) + "\n").encode())
    assert failed.status == "Failed"
    # Nothing that needs Preprocess ran; FindChampion (no inputs) may have run beside it.
    assert failed.names[0] == "Preprocess" and set(failed.names) <= {"Preprocess", "FindChampion"}
    assert failed.step("Preprocess")["StepStatus"] == "Failed"
    reason = failed.reason or ""
    assert reason.startswith("Step Preprocess: preprocess.py exited with code 1.")
    assert "column 'diameter': expected numbers, found 'abc'" in reason
    assert len(reason) <= 1024
    assert failed.step("Preprocess")["FailureReason"] == reason
    assert failed.packages == []


@pytest.mark.slow
def test_unsupported_step_type_fails_before_anything_runs(tmp_path: Path) -> None:
    def add_tuning(definition: dict[str, Any]) -> None:
        definition["Steps"].append({"Name": "Tune", "Type": "Tuning", "Arguments": {}})

    failed = execute(tmp_path, None, edit=add_tuning)
    assert failed.status == "Failed"
    assert "Tune (type Tuning)" in (failed.reason or "")
    assert failed.steps == []
    assert not (failed.folder / "steps").exists()


@pytest.mark.slow
def test_caching_disabled_runs_every_step(
    first_run: Execution, cache_dir: Path, tmp_path: Path
) -> None:
    entries = sorted(p.name for p in cache_dir.iterdir())
    run = execute(tmp_path, cache_dir, settings=Settings(cache_enabled=False))
    assert run.status == "Succeeded"
    assert not any("CacheHitResult" in step for step in run.steps)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert (run.folder / "steps" / name).is_dir()
    assert sorted(p.name for p in cache_dir.iterdir()) == entries
    assert run.evaluation == first_run.evaluation  # same data, seeds and code
