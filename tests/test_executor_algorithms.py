"""Algorithm-mode XGBoost, Model and Transform steps, built with the real SDK, run locally.

One small pipeline (Abalone, a few rounds) goes through the local AWS: the built-in XGBoost
algorithm trains, a ModelStep creates the model, a TransformStep scores a batch with the
algorithm's serving contract and DataProcessing filters.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from localaws import local_aws
from localaws.executor import LocalPipelineExecutor
from localaws.executor.errors import DefinitionError
from localaws.executor.plan import plan
from localaws.executor.transform import select

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
DATA = Path(__file__).resolve().parents[1] / "data" / "abalone.csv"


def _numeric_rows(count: int) -> list[list[float]]:
    """Abalone with the label (rings) first and the sex column one-hot, as the algorithm wants."""
    rows = []
    lines = DATA.read_text().splitlines()
    start = 1 if not lines[0][0].isalpha() or lines[0].lower().startswith("sex") else 0
    for line in lines[start : start + count]:
        cells = line.split(",")
        sex, features, rings = cells[0], [float(c) for c in cells[1:-1]], float(cells[-1])
        rows.append([rings, *[float(sex == s) for s in "MFI"], *features])
    return rows


def _csv(rows: list[list[float]]) -> bytes:
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows).encode()


@dataclass
class Run:
    status: str
    reason: str | None
    steps: dict[str, dict[str, Any]]
    training: dict[str, Any]
    model: dict[str, Any]
    model_file: bytes
    transform_out: bytes
    train_log: str
    test_rows: list[list[float]]


def _build(session: Any, bucket: str) -> dict[str, Any]:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import StepExceptionTypeEnum, StepRetryPolicy
    from sagemaker.workflow.steps import TrainingStep, TransformStep

    estimator = Estimator(
        image_uri=XGBOOST,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        output_path=f"s3://{bucket}/models",
        sagemaker_session=session,
        hyperparameters={
            "num_round": "8",
            "objective": "reg:squarederror",
            "eta": "0.3",
            "max_depth": "4",
            "eval_metric": "rmse",
        },
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(
            {
                "train": TrainingInput(f"s3://{bucket}/train/", content_type="text/csv"),
                "validation": TrainingInput(
                    f"s3://{bucket}/validation/", content_type="text/csv;label_size=1"
                ),
            }
        ),
    )
    model = Model(
        image_uri=XGBOOST,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=session,
    )
    create = ModelStep(
        name="CreateModel",
        step_args=model.create(instance_type="ml.m5.large"),
        retry_policies=[
            StepRetryPolicy(exception_types=[StepExceptionTypeEnum.THROTTLING], interval_seconds=1)
        ],
    )
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/scored",
        accept="text/csv",
        assemble_with="Line",
        sagemaker_session=session,
    )
    transform = TransformStep(
        name="Score",
        step_args=transformer.transform(
            f"s3://{bucket}/test/",
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",
            join_source="Input",
            output_filter="$[0,-1]",
        ),
    )
    # FinalMetricDataList, read by name as SageMaker resolves it, gates the model.
    gate = ConditionStep(
        name="Gate",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=train.properties.FinalMetricDataList["validation:rmse"].Value, right=100.0
            )
        ],
        if_steps=[create, transform],
        else_steps=[],
    )
    pipeline = Pipeline(name="algo", steps=[train, gate], sagemaker_session=session)
    return json.loads(pipeline.definition())


def _session(aws: Any, bucket: str) -> Any:
    from sagemaker.workflow.pipeline_context import PipelineSession

    return PipelineSession(boto_session=aws.session, default_bucket=bucket)


def _execute(
    workspace: Path, definition_edit: Any = None, fault: str | None = None
) -> tuple[Run | None, Any]:
    bucket = "algo-bucket"
    rows = _numeric_rows(400)
    with local_aws(LocalPipelineExecutor(workspace)) as aws:
        sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="train/train.csv", Body=_csv(rows[:300]))
        s3.put_object(Bucket=bucket, Key="validation/validation.csv", Body=_csv(rows[300:360]))
        s3.put_object(Bucket=bucket, Key="test/part-1.csv", Body=_csv(rows[360:]))
        definition = _build(_session(aws, bucket), bucket)
        if definition_edit:
            definition_edit(definition)
        if fault:
            aws.inject_fault(fault, "ThrottlingException")
        sagemaker.create_pipeline(
            PipelineName="algo", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )
        arn = sagemaker.start_pipeline_execution(PipelineName="algo")["PipelineExecutionArn"]
        deadline = time.monotonic() + 120
        while (d := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # ModelStep names its step `<name>-CreateModel` (sagemaker/workflow/model_step.py).
        steps = {
            s["StepName"].removesuffix("-CreateModel"): s
            for s in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
                "PipelineExecutionSteps"
            ]
        }
        if d["PipelineExecutionStatus"] != "Succeeded":
            return None, d
        job = steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
        training = sagemaker.describe_training_job(TrainingJobName=job)
        uri = training["ModelArtifacts"]["S3ModelArtifacts"]
        body = s3.get_object(Bucket=bucket, Key=uri.split("/", 3)[3])["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            member = tar.extractfile("xgboost-model")
            assert member is not None
            model_file = member.read()
        model_name = steps["CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
        out = s3.get_object(Bucket=bucket, Key="scored/part-1.csv.out")["Body"].read()
        folder = workspace / arn.rsplit("/", 1)[1]
        return Run(
            d["PipelineExecutionStatus"],
            d.get("FailureReason"),
            steps,
            training,
            sagemaker.describe_model(ModelName=model_name),
            model_file,
            out,
            (folder / "logs" / "Train.log").read_text(),
            rows[360:],
        ), d


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    result, described = _execute(tmp_path_factory.mktemp("algo"), fault="create_model")
    assert result is not None, described.get("FailureReason")
    return result


def test_every_step_succeeds(run: Run) -> None:
    assert {n: s["StepStatus"] for n, s in run.steps.items()} == {
        "Train": "Succeeded",
        "Gate": "Succeeded",
        "CreateModel": "Succeeded",
        "Score": "Succeeded",
    }


def test_metrics_are_logged_and_exposed_as_the_algorithm_does(run: Run) -> None:
    assert "[7]#011train-rmse:" in run.train_log
    assert "#011validation-rmse:" in run.train_log
    # The step's properties carry FinalMetricDataList, as DescribeTrainingJob does on AWS.
    names = [m["MetricName"] for m in _final_metrics(run)]
    assert names == ["train:rmse", "validation:rmse"]


def _final_metrics(run: Run) -> list[dict[str, Any]]:
    from localaws.executor.algorithms import final_metrics

    return final_metrics(run.train_log)


def test_the_model_loads_as_the_container_loads_it_and_predicts_the_same(
    run: Run, tmp_path: Path
) -> None:
    import xgboost as xgb

    path = tmp_path / "xgboost-model"
    path.write_bytes(run.model_file)
    booster = xgb.Booster()
    booster.load_model(str(path))  # serve_utils.get_loaded_booster
    features = np.array([row[1:] for row in run.test_rows])
    expected = booster.predict(xgb.DMatrix(features), validate_features=False)
    lines = run.transform_out.decode().splitlines()
    assert len(lines) == len(run.test_rows)
    # OutputFilter $[0,-1] on the joined record: the label (input column 0) and the prediction.
    labels = [float(line.split(",")[0]) for line in lines]
    predicted = np.array([float(line.split(",")[1]) for line in lines])
    assert labels == [row[0] for row in run.test_rows]
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)


def test_model_step_properties_are_describe_model(run: Run) -> None:
    assert run.model["PrimaryContainer"]["Image"] == XGBOOST
    assert run.model["PrimaryContainer"]["ModelDataUrl"].endswith("/output/model.tar.gz")
    assert run.model["ModelName"].startswith("pipelines-")


def test_a_throttled_create_model_is_retried_per_its_retry_policy(run: Run) -> None:
    # The fixture injected one ThrottlingException on CreateModel; the policy retried it.
    assert run.steps["CreateModel"]["StepStatus"] == "Succeeded"


def test_other_built_in_algorithms_are_refused_before_anything_runs() -> None:
    definition = {
        "Steps": [
            {"Name": "Prep", "Type": "Fail", "Arguments": {}},
            {
                "Name": "Linear",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {
                        "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/"
                        "linear-learner:1",
                        "TrainingInputMode": "File",
                    },
                    "HyperParameters": {"feature_dim": "8"},
                },
            },
        ]
    }
    with pytest.raises(DefinitionError) as error:
        plan(definition)
    assert "step Linear" in str(error.value)
    assert "linear-learner:1" in str(error.value)


def test_algorithm_errors_fail_the_step_with_the_algorithms_message(tmp_path: Path) -> None:
    def drop_num_round(definition: dict[str, Any]) -> None:
        del definition["Steps"][0]["Arguments"]["HyperParameters"]["num_round"]

    result, described = _execute(tmp_path, drop_num_round)
    assert result is None
    assert "Missing required hyperparameter: num_round" in described["FailureReason"]


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        (["1", "2", "3"], "$[1:]", ["2", "3"]),
        (["1", "2", "3"], "$[0,-1]", ["1", "3"]),
        ({"a": {"b": [5, 6]}}, "$.a.b[1]", 6),
        ({"a": 1, "SageMakerOutput": 2}, "$['SageMakerOutput']", 2),
        (["1", "2"], "$", ["1", "2"]),
    ],
)
def test_jsonpath_subset(document: Any, path: str, expected: Any) -> None:
    assert select(document, path) == expected


def test_no_host_opt_is_written() -> None:
    assert not os.path.exists("/opt/ml/model/xgboost-model")
