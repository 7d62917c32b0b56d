"""Model Monitor's data-quality analysis, locally (localaws.model_monitor), and the QualityCheck
step that runs it in a pipeline.

The analyzer is checked on the project's Abalone data against pandas and scipy (the baseline's
statistics, its drift distance as a two-sample Kolmogorov-Smirnov statistic), then on data that
breaks one constraint at a time. The step is built with the sagemaker SDK as AWS's examples
build it and run through a local AWS: a baseline registered with a model package, then a check
of drifted data against that package's baseline once it is approved.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from localaws import local_aws
from localaws import model_monitor as mm
from localaws.executor import LocalPipelineExecutor
from localaws.executor.checks import check_definition
from localaws.executor.errors import DefinitionError
from localaws.executor.plan import plan
from localaws.model_monitor.statistics import EXACT_SKETCH_VALUES, sketch_levels
from localaws.runtime_seam import capture_record

WEIGHTS = ["whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "model-monitor"
GROUP = "abalone-models"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture(scope="module")
def abalone(abalone_csv: Path) -> pd.DataFrame:
    return pd.read_csv(abalone_csv)


@pytest.fixture(scope="module")
def baseline(abalone_csv: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    statistics = mm.statistics(mm.read_csv([abalone_csv], header=True))
    return statistics, mm.suggest_constraints(statistics)


def _feature(statistics: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in statistics["features"] if f["name"] == name)


def _found(current: pd.DataFrame, baseline: tuple[dict, dict]) -> list[tuple[str, str]]:
    statistics, constraints = baseline
    report = mm.violations(mm.statistics(current), constraints, statistics)
    return [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]]


# --- statistics.json and constraints.json -----------------------------------------------------


def test_statistics_of_abalone_are_pandas_values_in_model_monitors_schema(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    statistics, _ = baseline
    assert statistics["version"] == 0
    assert statistics["dataset"] == {"item_count": 4177}
    assert [f["name"] for f in statistics["features"]] == list(abalone.columns)
    types = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert types == {"sex": "String", "rings": "Integral"} | {
        name: "Fractional" for name in abalone.columns[1:-1]
    }
    for name in abalone.columns[1:]:
        numbers = _feature(statistics, name)["numerical_statistics"]
        column = abalone[name]
        assert numbers["common"] == {"num_present": 4177, "num_missing": 0}
        assert numbers["min"] == column.min() and numbers["max"] == column.max()
        assert numbers["mean"] == pytest.approx(column.mean(), rel=1e-12)
        assert numbers["sum"] == pytest.approx(column.sum(), rel=1e-12)
        assert numbers["std_dev"] == pytest.approx(column.std(ddof=0), rel=1e-12)
        kll = numbers["distribution"]["kll"]
        counts, edges = np.histogram(column, bins=10, range=(column.min(), column.max()))
        assert [b["count"] for b in kll["buckets"]] == counts.tolist()
        assert [b["lower_bound"] for b in kll["buckets"]] == pytest.approx(edges[:-1])
        assert kll["buckets"][-1]["upper_bound"] == column.max()
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
        assert kll["sketch"]["data"] == [sorted(column.astype(float))]  # exact: one level
    sex = _feature(statistics, "sex")["string_statistics"]
    assert sex["common"] == {"num_present": 4177, "num_missing": 0}
    assert sex["distinct_count"] == 3
    assert sex["distribution"]["categorical"]["buckets"] == [
        {"value": value, "count": count} for value, count in abalone["sex"].value_counts().items()
    ]


def test_suggested_constraints_have_the_documented_structure_and_defaults(
    baseline: tuple[dict, dict],
) -> None:
    _, constraints = baseline
    assert constraints["version"] == 0
    sex, *numbers = constraints["features"]
    assert sex == {
        "name": "sex",
        "inferred_type": "String",
        "completeness": 1.0,
        "string_constraints": {"domains": ["M", "I", "F"]},  # most frequent first
    }
    assert all(f["completeness"] == 1.0 for f in numbers)
    assert all(f["num_constraints"] == {"is_non_negative": True} for f in numbers)
    assert constraints["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
            "categorical_comparison_threshold": 0.1,
            "categorical_drift_method": "LInfinity",
        },
    }


def test_a_large_feature_is_compacted_into_kll_levels_within_the_rank_bound() -> None:
    values = np.sort(np.random.default_rng(7).normal(size=3 * EXACT_SKETCH_VALUES + 5))
    levels = sketch_levels(values)
    height = len(levels) - 1
    assert height == 2 and sum(len(level) << h for h, level in enumerate(levels)) == len(values)
    points = np.quantile(values, np.linspace(0, 1, 101))
    block = {"distribution": {"kll": {"sketch": {"data": levels}}}}
    sketched, weights = mm.constraints.sketch_values(block)
    exact = np.searchsorted(values, points, side="right")
    approx = np.array([weights[sketched <= p].sum() for p in points])
    assert np.abs(exact - approx).max() <= 2 ** (height - 1)


# --- constraint_violations.json ---------------------------------------------------------------


def test_data_like_the_baseline_violates_nothing(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    assert _found(abalone, baseline) == []
    assert _found(abalone.sample(frac=0.5, random_state=3), baseline) == []


def test_scaled_weights_drift_and_nothing_else_does(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    statistics, constraints = baseline
    drifted = abalone.assign(**{name: abalone[name] * 3 for name in WEIGHTS})
    report = mm.violations(mm.statistics(drifted), constraints, statistics)["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in report] == [
        (name, "baseline_drift_check") for name in WEIGHTS
    ]
    correction = 1.8 * math.sqrt(2 / len(abalone))  # Deequ's linf_robust, n = m
    for violation, name in zip(report, WEIGHTS, strict=True):
        expected = ks_2samp(abalone[name], drifted[name]).statistic - correction
        head, _, tail = violation["description"].partition(" exceeds threshold: 0.1")
        assert head.startswith("Baseline drift distance: ") and not tail
        assert float(head.split(": ")[1]) == pytest.approx(expected, abs=1e-12)


def test_strings_where_numbers_were_fail_the_data_type_check(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    current = abalone.head(1000).astype({"rings": object})
    current.loc[current.index[::10], "rings"] = "unknown"
    statistics, constraints = baseline
    report = mm.violations(mm.statistics(current), constraints, statistics)["violations"]
    typed = [v for v in report if v["constraint_check_type"] == "data_type_check"]
    assert typed == [
        {
            "feature_name": "rings",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: "
            "Integral, Expected match: 100.0%. Observed: Only 90.0% of data is Integral.",
        }
    ]


def test_a_missing_column_and_an_extra_one_are_named(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    current = abalone.drop(columns=["shell_weight"]).assign(colour="red")
    assert _found(current, baseline) == [
        ("shell_weight", "missing_column_check"),
        ("colour", "extra_column_check"),
    ]


def test_gaps_new_categories_and_negative_values_break_their_constraints(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    current = abalone.astype({"height": object})
    current.loc[current.index[:40], "height"] = ""
    current.loc[current.index[:50], "sex"] = "X"
    current.loc[current.index[:5], "length"] *= -1
    assert _found(current, baseline) == [
        ("sex", "categorical_values_check"),
        ("length", "non_negative_check"),
        ("height", "completeness_check"),
    ]


def test_disabled_evaluation_and_comparison_report_accordingly(
    abalone: pd.DataFrame, baseline: tuple[dict, dict]
) -> None:
    statistics, constraints = baseline
    drifted = mm.statistics(abalone.assign(shell_weight=abalone["shell_weight"] * 3))
    off = json.loads(json.dumps(constraints))
    off["monitoring_config"]["evaluate_constraints"] = "Disabled"
    assert mm.violations(drifted, off, statistics) == {"violations": []}
    override = json.loads(json.dumps(constraints))
    shell = next(f for f in override["features"] if f["name"] == "shell_weight")
    shell["monitoringConfigOverrides"] = {"distribution_constraints": {"comparison_threshold": 0.9}}
    assert mm.violations(drifted, override, statistics) == {"violations": []}


# --- captured traffic ---------------------------------------------------------------------------

CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://capture/endpoint",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    },
}


def _capture(path: Path, requests: list[tuple[bytes, str]]) -> Path:
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    lines = (
        capture_record(CAPTURE, body, kind, b"9.5", "text/csv", when) for body, kind in requests
    )
    path.write_bytes(b"".join(lines))
    return path


def test_capture_files_are_read_back_into_the_requests_rows(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    bare = {**CAPTURE, "CaptureContentTypeHeader": {}}  # every body base64, as SageMaker does
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    encoded = capture_record(bare, b"7,8,9", "text/csv", b"1", "text/csv", when)
    assert json.loads(encoded)["captureData"]["endpointInput"]["encoding"] == "BASE64"
    files = [
        _capture(
            tmp_path / "one.jsonl",
            [
                (b"1,2.5,x\n3,4,y\n", "text/csv"),  # two rows in one request
                (json.dumps({"instances": [[5, 6, "z"]]}).encode(), "application/json"),
            ],
        ),
        tmp_path / "two.jsonl",
    ]
    files[1].write_bytes(
        encoded + capture_record(CAPTURE, b'{"a": 10, "c": "w"}', "application/json", b"", "", when)
    )
    frame = mm.read_captures(files, names)
    assert frame.to_dict("list") == {
        "a": ["1", "3", "5", "7", "10"],
        "b": ["2.5", "4", "6", "8", ""],
        "c": ["x", "y", "z", "9", "w"],
    }
    assert base64.b64decode(json.loads(encoded)["captureData"]["endpointInput"]["data"])


def test_monitoring_captured_traffic_finds_wrong_widths_and_drift(
    tmp_path: Path, abalone: pd.DataFrame
) -> None:
    features = abalone.drop(columns=["rings"])
    statistics = mm.statistics(features)
    constraints = mm.suggest_constraints(statistics)
    rows = features.sample(400, random_state=1).to_csv(header=False, index=False).encode()
    same = _capture(tmp_path / "same.jsonl", [(rows, "text/csv")])
    current, report = mm.monitor([same], statistics, constraints)
    assert current["dataset"]["item_count"] == 400
    assert [f["name"] for f in current["features"]] == list(features.columns)
    assert report == {"violations": []}

    odd = _capture(tmp_path / "odd.jsonl", [(rows, "text/csv"), (b"M,0.5,0.4\n", "text/csv")])
    _, report = mm.monitor([odd], statistics, constraints)
    found = {(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]}
    assert found == {(name, "completeness_check") for name in features.columns[3:]}
    wide = _capture(tmp_path / "wide.jsonl", [(rows.replace(b"\n", b",1\n"), "text/csv")])
    _, report = mm.monitor([wide], statistics, constraints)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]] == [
        ("_c8", "extra_column_check")
    ]

    heavy = features.assign(**{name: features[name] * 3 for name in WEIGHTS})
    body = heavy.sample(400, random_state=1).to_csv(header=False, index=False).encode()
    drifted = _capture(tmp_path / "drifted.jsonl", [(body, "text/csv")])
    current, report = mm.monitor([drifted], statistics, constraints)
    assert {v["feature_name"] for v in report["violations"]} == set(WEIGHTS)
    when = dt.datetime(2024, 5, 1, 13, tzinfo=dt.UTC)
    metrics = mm.cloudwatch_metrics(current, constraints, statistics, "abalone", "hourly", when)
    by_name = {m["MetricName"]: m for m in metrics}
    assert mm.NAMESPACE == "aws/sagemaker/Endpoints/data-metrics"
    assert by_name["feature_non_null_sex"]["Value"] == 1.0
    assert by_name["feature_data_length"]["StatisticValues"]["SampleCount"] == 400
    assert by_name["feature_baseline_drift_shell_weight"]["Value"] > 0.1
    assert by_name["feature_baseline_drift_length"]["Value"] <= 0.1
    assert by_name["feature_baseline_drift_sex"]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "abalone"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]


# --- the QualityCheck step ----------------------------------------------------------------------


class _Local:
    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.created = False

    def session(self) -> Any:
        from sagemaker.workflow.pipeline_context import PipelineSession

        return PipelineSession(boto_session=self.aws.session, default_bucket=BUCKET)

    def put(self, key: str, body: bytes) -> str:
        self.aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def json(self, uri: str) -> Any:
        key = uri.removeprefix(f"s3://{BUCKET}/")
        body = self.aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return json.loads(body)

    def run(self, steps: list[Any]) -> dict[str, Any]:
        from sagemaker.workflow.pipeline import Pipeline

        sagemaker = self.aws.client("sagemaker")
        definition = Pipeline(name="mm", steps=steps, sagemaker_session=self.session()).definition()
        if self.created:
            sagemaker.update_pipeline(PipelineName="mm", PipelineDefinition=definition)
        else:
            sagemaker.create_pipeline(
                PipelineName="mm", PipelineDefinition=definition, RoleArn=ROLE
            )
            self.created = True
        arn = sagemaker.start_pipeline_execution(PipelineName="mm")["PipelineExecutionArn"]
        deadline = time.monotonic() + 120
        while (done := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.05)
        listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        steps_by_name = {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}
        return {**done, "Steps": steps_by_name}


@pytest.fixture()
def local(tmp_path: Path) -> Iterator[_Local]:
    with local_aws(LocalPipelineExecutor(tmp_path / "runs", tmp_path / "cache")) as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        yield _Local(aws)


def _quality_check(local: _Local, dataset: str, output: str, **flags: Any) -> Any:
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep

    return QualityCheckStep(
        name="DataQuality",
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=dataset,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=output,
        ),
        check_job_config=CheckJobConfig(
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.xlarge",
            sagemaker_session=local.session(),
        ),
        model_package_group_name=GROUP,
        **flags,
    )


def _register(local: _Local, check: Any) -> Any:
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.workflow.model_step import ModelStep

    def json_at(uri: Any) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    properties = check.properties
    model = Model(
        image_uri=XGBOOST,
        model_data=f"s3://{BUCKET}/model.tar.gz",
        role=ROLE,
        sagemaker_session=local.session(),
    )
    return ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=GROUP,
            model_metrics=ModelMetrics(
                model_data_statistics=json_at(properties.CalculatedBaselineStatistics),
                model_data_constraints=json_at(properties.CalculatedBaselineConstraints),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=json_at(properties.BaselineUsedForDriftCheckStatistics),
                model_data_constraints=json_at(properties.BaselineUsedForDriftCheckConstraints),
            ),
        ),
    )


def test_a_quality_check_step_baselines_registers_and_then_checks_drift(
    local: _Local, abalone: pd.DataFrame, abalone_csv: Path
) -> None:
    dataset = local.put("data/abalone.csv", abalone_csv.read_bytes())
    first = f"s3://{BUCKET}/baselines/first"
    check = _quality_check(local, dataset, first, skip_check=True, register_new_baseline=True)
    run = local.run([check, _register(local, check)])
    assert run["PipelineExecutionStatus"] == "Succeeded", run.get("FailureReason")

    statistics = local.json(f"{first}/statistics.json")
    constraints = local.json(f"{first}/constraints.json")
    assert statistics["dataset"]["item_count"] == 4177
    assert {"dataset", "features", "version"} <= set(statistics)
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == (
        "Robust"
    )
    metadata = run["Steps"]["DataQuality"]["Metadata"]["QualityCheck"]
    assert metadata["CheckType"] == "DATA_QUALITY"
    assert metadata["CalculatedBaselineStatistics"] == f"{first}/statistics.json"
    assert metadata["BaselineUsedForDriftCheckConstraints"] == f"{first}/constraints.json"
    assert metadata["SkipCheck"] is True and metadata["RegisterNewBaseline"] is True
    job = metadata["CheckJobArn"].rsplit("/", 1)[1]
    assert local.aws.client("sagemaker").describe_processing_job(ProcessingJobName=job)

    sagemaker = local.aws.client("sagemaker")
    package = run["Steps"]["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    described = sagemaker.describe_model_package(ModelPackageName=package)
    quality = described["DriftCheckBaselines"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"] == f"{first}/statistics.json"
    assert quality["Constraints"]["S3Uri"] == f"{first}/constraints.json"
    sagemaker.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")

    drifted = abalone.assign(**{name: abalone[name] * 3 for name in WEIGHTS})
    heavy = local.put("data/heavy.csv", drifted.to_csv(index=False).encode())
    second = f"s3://{BUCKET}/baselines/second"
    run = local.run([_quality_check(local, heavy, second, skip_check=False)])
    assert run["PipelineExecutionStatus"] == "Failed"
    reason = run["Steps"]["DataQuality"]["FailureReason"]
    assert f"baseline {first}/constraints.json" in reason
    assert "violated features: " + ", ".join(f"{n} (baseline_drift_check)" for n in WEIGHTS) in (
        reason
    )
    report = local.json(f"{second}/constraint_violations.json")["violations"]
    assert [v["feature_name"] for v in report] == WEIGHTS


def test_without_fail_on_violation_the_previous_baseline_passes_on(
    local: _Local, abalone_csv: Path
) -> None:
    dataset = local.put("data/abalone.csv", abalone_csv.read_bytes())
    first = f"s3://{BUCKET}/baselines/first"
    run = local.run([_quality_check(local, dataset, first, skip_check=True)])
    assert run["PipelineExecutionStatus"] == "Failed"  # no previous baseline to pass on
    assert "RegisterNewBaseline is false" in run["FailureReason"]

    other = mm.statistics(pd.DataFrame({"x": [1]}))
    supplied = {
        "supplied_baseline_statistics": local.put(
            "supplied/statistics.json", json.dumps(other).encode()
        ),
        "supplied_baseline_constraints": local.put(
            "supplied/constraints.json", json.dumps(mm.suggest_constraints(other)).encode()
        ),
    }
    check = _quality_check(local, dataset, first, fail_on_violation=False, **supplied)
    run = local.run([check])
    assert run["PipelineExecutionStatus"] == "Succeeded", run.get("FailureReason")
    metadata = run["Steps"]["DataQuality"]["Metadata"]["QualityCheck"]
    assert metadata["ViolationReport"] == f"{first}/constraint_violations.json"
    assert (
        metadata["BaselineUsedForDriftCheckStatistics"] == supplied["supplied_baseline_statistics"]
    )
    report = local.json(metadata["ViolationReport"])["violations"]
    assert {v["constraint_check_type"] for v in report} == {
        "missing_column_check",
        "extra_column_check",
    }


def test_a_cached_quality_check_hands_on_the_first_runs_baseline(
    local: _Local, abalone_csv: Path
) -> None:
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.steps import CacheConfig

    dataset = local.put("data/abalone.csv", abalone_csv.read_bytes())
    output = Join(on="/", values=[f"s3://{BUCKET}", ExecutionVariables.PIPELINE_EXECUTION_ID])
    check = _quality_check(
        local,
        dataset,
        output,
        skip_check=True,
        register_new_baseline=True,
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    first, second = local.run([check]), local.run([check])
    assert "CacheHitResult" not in first["Steps"]["DataQuality"]
    hit = second["Steps"]["DataQuality"]
    assert hit["CacheHitResult"]["SourcePipelineExecutionArn"] == first["PipelineExecutionArn"]
    properties = first["Steps"]["DataQuality"]["Metadata"]["QualityCheck"]
    assert hit["Metadata"]["QualityCheck"] == properties
    assert local.json(properties["CalculatedBaselineStatistics"])["dataset"]["item_count"] == 4177


def test_model_quality_checks_and_unknown_properties_are_refused_before_anything_runs() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    check = {
        "Name": "DataQuality",
        "Type": "QualityCheck",
        "CheckType": "DATA_QUALITY",
        "SkipCheck": {"Get": "Parameters.Skip"},
        "Arguments": {"Environment": {"dataset_format": '{"csv": {"header": true}}'}},
    }
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": GROUP,
            "DriftCheckBaselines": {
                "ModelDataQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": {"Get": "Steps.DataQuality.CalculatedBaselineStatistics"},
                    }
                }
            },
        },
    }
    steps = plan({"Steps": [check, register]})
    assert [s.name for s in steps] == ["DataQuality", "Register"]
    check_definition(steps, [{"Name": "Skip", "Type": "Boolean"}], model)
    with pytest.raises(DefinitionError, match="no such pipeline parameter"):
        check_definition(steps, [], model)
    wrong = json.loads(json.dumps(register).replace("CalculatedBaseline", "Baseline"))
    with pytest.raises(DefinitionError, match="a QualityCheck step's properties are"):
        check_definition(plan({"Steps": [check, wrong]}), [{"Name": "Skip"}], model)
    with pytest.raises(DefinitionError, match=r"CheckType 'MODEL_QUALITY'.*not emulated"):
        plan({"Steps": [{**check, "CheckType": "MODEL_QUALITY"}]})
