"""Step types built with the real sagemaker SDK v2 and run through a local AWS.

Each pipeline is written as AWS's examples write it (PipelineSession, estimators, models,
transformers, LambdaStep) and runs unchanged: the SDK's repack step (its own shell launcher
where jobs get a private /opt/ml, the executor's copy where they do not), a Transform with a
script-mode model (model_fn/input_fn/predict_fn/output_fn) with SplitType and AssembleWith
None, libsvm input for algorithm-mode training and for transform, a Lambda step whose
outputs are used downstream, a shell entry point that reads /opt/ml/input/config/*.json by
their fixed paths, and Transform step caching on SageMaker's cache key attributes.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from localaws import local_aws
from localaws.executor import LocalPipelineExecutor, containers
from localaws.executor.containers import Isolation

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sdk-steps"
PIPELINE = "sdk-steps"
ISOLATED = bool(containers.isolation().prefix)
needs_isolation = pytest.mark.skipif(
    not ISOLATED, reason=f"no private mount namespace here: {containers.isolation().problem}"
)

INFERENCE = '''"""Inference handlers as the SageMaker inference toolkit calls them."""
import json
import os

import numpy as np
import xgboost as xgb


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    rows = [[float(c) for c in line.split(",")] for line in body.strip().splitlines()]
    return xgb.DMatrix(np.array(rows))


def predict_fn(data, model):
    return model.predict(data)


def output_fn(prediction, accept):
    return json.dumps({"scores": [float(p) for p in prediction]}), "application/json"
'''


# --- a local AWS the SDK builds and runs pipelines in ---------------------------------------


@dataclass
class Finished:
    status: str
    reason: str | None
    steps: dict[str, dict[str, Any]]
    folder: Path

    def log(self, step: str) -> str:
        return (self.folder / "logs" / f"{step}.log").read_text(encoding="utf-8")


@dataclass
class Local:
    aws: Any
    workspace: Path
    created: list[str] = field(default_factory=list)

    @property
    def session(self) -> Any:
        from sagemaker.workflow.pipeline_context import PipelineSession

        return PipelineSession(boto_session=self.aws.session, default_bucket=BUCKET)

    def put(self, key: str, body: bytes) -> str:
        self.aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def get(self, uri: str) -> bytes:
        key = uri.removeprefix(f"s3://{BUCKET}/")
        return self.aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def run(self, pipeline: Any) -> Finished:
        """Upsert `pipeline` (an SDK Pipeline) as SageMaker does and run it to its end."""
        sagemaker = self.aws.client("sagemaker")
        definition = pipeline.definition()
        if PIPELINE in self.created:
            sagemaker.update_pipeline(PipelineName=PIPELINE, PipelineDefinition=definition)
        else:
            sagemaker.create_pipeline(
                PipelineName=PIPELINE, PipelineDefinition=definition, RoleArn=ROLE
            )
            self.created.append(PIPELINE)
        arn = sagemaker.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
        deadline = time.monotonic() + 180
        while (d := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.05)
        listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        return Finished(
            d["PipelineExecutionStatus"],
            d.get("FailureReason"),
            {s["StepName"]: s for s in listed["PipelineExecutionSteps"]},
            self.workspace / arn.rsplit("/", 1)[1],
        )


@contextmanager
def local(workspace: Path, cache_dir: Path | None = None) -> Iterator[Local]:
    with local_aws(LocalPipelineExecutor(workspace / "runs", cache_dir)) as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        yield Local(aws, workspace / "runs")


def _pipeline(local: Local, steps: list[Any], parameters: list[Any] | None = None) -> Any:
    from sagemaker.workflow.pipeline import Pipeline

    return Pipeline(
        name=PIPELINE, parameters=parameters or [], steps=steps, sagemaker_session=local.session
    )


def _statuses(run: Finished) -> dict[str, str]:
    return {name: step["StepStatus"] for name, step in run.steps.items()}


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name.removeprefix("./"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _model_archive(booster: Any, tmp_path: Path) -> bytes:
    """model.tar.gz as the XGBoost algorithm writes it: `xgboost-model` at the top."""
    path = tmp_path / "xgboost-model"
    booster.save_model(str(path))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(path, arcname="xgboost-model")
    return buffer.getvalue()


def _booster(features: np.ndarray, labels: np.ndarray) -> Any:
    import xgboost as xgb

    return xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(features, label=labels), 4)


RNG = np.random.default_rng(7)
FEATURES = RNG.normal(size=(40, 3)).round(3)
LABELS = (FEATURES @ np.array([1.5, -2.0, 0.5]) + 3).round(3)


# --- the SDK's repack step and a script-mode model in a Transform ----------------------------


def _repack_and_score(local: Local, tmp_path: Path) -> tuple[Finished, Any]:
    """ModelStep(Model with entry_point) -> the SDK adds `<name>-RepackModel-0`; a Transform
    serves the repacked model through inference.py, SplitType and AssembleWith left None."""
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.steps import TransformStep

    booster = _booster(FEATURES, LABELS)
    data = ParameterString(
        "ModelData",
        default_value=local.put("trained/model.tar.gz", _model_archive(booster, tmp_path)),
    )
    for n, rows in enumerate((FEATURES[:25], FEATURES[25:])):
        local.put(f"batch/part-{n}.csv", "\n".join(",".join(map(str, r)) for r in rows).encode())
    source = tmp_path / "src"
    source.mkdir()
    (source / "inference.py").write_text(INFERENCE)
    model = Model(
        image_uri=XGBOOST,
        model_data=data,
        role=ROLE,
        entry_point="inference.py",
        source_dir=str(source),
        sagemaker_session=local.session,
    )
    create = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/scored",
        accept="application/json",
        sagemaker_session=local.session,
    )
    score = TransformStep(
        name="Score",
        step_args=transformer.transform(f"s3://{BUCKET}/batch/", content_type="text/csv"),
    )
    pipeline = _pipeline(local, [create, score], [data])
    arguments = json.loads(pipeline.definition())["Steps"]
    transform = next(s for s in arguments if s["Type"] == "Transform")["Arguments"]
    # The SDK leaves both out, so SageMaker's defaults (None) apply.
    assert "SplitType" not in transform["TransformInput"]
    assert "AssembleWith" not in transform["TransformOutput"]
    return local.run(pipeline), booster


def _check_repacked_and_scored(local: Local, run: Finished, booster: Any) -> None:
    import xgboost as xgb

    assert run.status == "Succeeded", run.reason
    assert _statuses(run) == {
        "Make-RepackModel-0": "Succeeded",
        "Make-CreateModel": "Succeeded",
        "Score": "Succeeded",
    }
    sagemaker = local.aws.client("sagemaker")
    job = run.steps["Make-RepackModel-0"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    repacked = sagemaker.describe_training_job(TrainingJobName=job)["ModelArtifacts"]
    members = _members(local.get(repacked["S3ModelArtifacts"]))
    # _repack_model.py: the model's members, and the source dir (with the SDK's scripts) in code/.
    assert {"xgboost-model", "code/inference.py", "code/_repack_model.py"} <= set(members)
    assert members["code/inference.py"].decode() == INFERENCE
    # No dependencies: the launcher passes SM_HP_DEPENDENCIES as "" (None, as the training
    # toolkit writes it), so _repack_model.py makes no code/lib.
    assert not [name for name in members if name.startswith("code/lib/")]
    # SplitType None: each object is one request; AssembleWith None: the answer as is.
    for n, rows in enumerate((FEATURES[:25], FEATURES[25:])):
        expected = json.dumps({"scores": [float(p) for p in booster.predict(xgb.DMatrix(rows))]})
        assert local.get(f"s3://{BUCKET}/scored/part-{n}.csv.out").decode() == expected


@needs_isolation
def test_the_sdk_repack_step_runs_its_own_launcher_where_jobs_have_opt_ml(
    tmp_path: Path,
) -> None:
    with local(tmp_path) as aws:
        run, booster = _repack_and_score(aws, tmp_path)
        _check_repacked_and_scored(aws, run, booster)
    log = run.log("Make-RepackModel-0")
    assert "/bin/sh -c ./_repack_script_launcher.sh" in log
    assert "(a private mount namespace)" in log
    assert "# exit code 0 after" in log  # the launcher ran as the job
    assert "done by the executor" not in log


def test_without_opt_ml_the_executor_repacks_as_the_sdk_script_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(containers, "_isolation", Isolation(problem="no namespaces in this test"))
    with local(tmp_path) as aws:
        run, booster = _repack_and_score(aws, tmp_path)
        _check_repacked_and_scored(aws, run, booster)
    log = run.log("Make-RepackModel-0")
    assert "done by the executor on the sandbox" in log
    assert "no namespaces in this test" in log


# --- libsvm: algorithm-mode training and transform -----------------------------------------


def _libsvm(features: np.ndarray, labels: np.ndarray) -> bytes:
    """One-based libsvm rows, zero values left out (sparse), as AWS's examples write them."""
    lines = []
    for label, row in zip(labels, features, strict=True):
        cells = " ".join(f"{i + 1}:{v:g}" for i, v in enumerate(row) if v != 0)
        lines.append(f"{label:g} {cells}".rstrip())
    return ("\n".join(lines) + "\n").encode()


def test_libsvm_trains_the_algorithm_and_scores_in_a_transform(tmp_path: Path) -> None:
    import xgboost as xgb
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.steps import TrainingStep, TransformStep

    features = FEATURES.copy()
    features[::3, 1] = 0.0  # sparse cells the libsvm rows leave out
    with local(tmp_path) as aws:
        aws.put("train/train.libsvm", _libsvm(features[:30], LABELS[:30]))
        aws.put("validation/validation.libsvm", _libsvm(features[30:], LABELS[30:]))
        aws.put("test/rows.libsvm", _libsvm(features[30:], np.zeros(10)))
        estimator = Estimator(
            image_uri=XGBOOST,
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.xlarge",
            output_path=f"s3://{BUCKET}/models",
            sagemaker_session=aws.session,
            hyperparameters={"num_round": "5", "max_depth": "3", "objective": "reg:squarederror"},
        )
        train = TrainingStep(
            name="Train",
            step_args=estimator.fit(
                {
                    "train": TrainingInput(f"s3://{BUCKET}/train/", content_type="text/libsvm"),
                    "validation": TrainingInput(
                        f"s3://{BUCKET}/validation/", content_type="text/libsvm"
                    ),
                }
            ),
        )
        model = Model(
            image_uri=XGBOOST,
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            role=ROLE,
            sagemaker_session=aws.session,
        )
        create = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"s3://{BUCKET}/scored",
            accept="text/csv",
            assemble_with="Line",
            sagemaker_session=aws.session,
        )
        score = TransformStep(
            name="Score",
            step_args=transformer.transform(
                f"s3://{BUCKET}/test/", content_type="text/libsvm", split_type="Line"
            ),
        )
        run = aws.run(_pipeline(aws, [train, create, score]))
        assert run.status == "Succeeded", run.reason
        job = run.steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
        uri = aws.aws.client("sagemaker").describe_training_job(TrainingJobName=job)[
            "ModelArtifacts"
        ]["S3ModelArtifacts"]
        model_file = _members(aws.get(uri))["xgboost-model"]
        scored = aws.get(f"s3://{BUCKET}/scored/rows.libsvm.out").decode()
    assert "#011validation-rmse:" in run.log("Train")
    path = tmp_path / "xgboost-model"
    path.write_bytes(model_file)
    booster = xgb.Booster()
    booster.load_model(str(path))
    assert booster.num_features() == 3  # one-based indices read as the algorithm reads them
    dense = features[30:].copy()
    dense[dense == 0] = np.nan  # a cell libsvm leaves out is missing, not zero
    expected = booster.predict(xgb.DMatrix(dense), validate_features=False)
    np.testing.assert_allclose([float(x) for x in scored.split()], expected, rtol=1e-6)


# --- Lambda steps ---------------------------------------------------------------------------

SEEN: list[dict[str, Any]] = []


def threshold_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """A Lambda function of the local AWS: its OutputParameters come from its answer."""
    return {"threshold": event["base"] * 2, "label": f"model-{event['tag']}", "ok": True}


def record_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    SEEN.append(event)
    return {}


def _function(aws: Any, name: str, handler: str) -> str:
    from deploy.iam import assume_role

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    role = aws.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(assume_role("lambda", False))
    )["Role"]["Arn"]
    return aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=f"{__name__}.{handler}",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def test_lambda_step_outputs_are_properties_used_downstream(tmp_path: Path) -> None:
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterFloat

    SEEN.clear()
    with local(tmp_path) as aws:
        compute = _function(aws.aws, "threshold", "threshold_handler")
        record = _function(aws.aws, "record", "record_handler")
        threshold = LambdaOutput("threshold", LambdaOutputTypeEnum.Float)
        label = LambdaOutput("label", LambdaOutputTypeEnum.String)
        ok = LambdaOutput("ok", LambdaOutputTypeEnum.Boolean)
        base = ParameterFloat("Base", default_value=2.5)
        first = LambdaStep(
            name="Threshold",
            lambda_func=Lambda(function_arn=compute, session=aws.session),
            inputs={"base": base, "tag": "abc"},
            outputs=[threshold, label, ok],
        )
        second = LambdaStep(
            name="Record",
            lambda_func=Lambda(function_arn=record, session=aws.session),
            inputs={"threshold": threshold, "label": label, "ok": ok},
        )
        gate = ConditionStep(
            name="Gate",
            conditions=[ConditionGreaterThan(left=threshold, right=4.0)],
            if_steps=[second],
            else_steps=[FailStep(name="TooLow", error_message="threshold too low")],
        )
        run = aws.run(_pipeline(aws, [first, gate], [base]))
    assert run.status == "Succeeded", run.reason
    assert _statuses(run) == {"Threshold": "Succeeded", "Gate": "Succeeded", "Record": "Succeeded"}
    # The step's metadata, as ListPipelineExecutionSteps reports a Lambda step.
    outputs = run.steps["Threshold"]["Metadata"]["Lambda"]["OutputParameters"]
    assert {o["Name"]: o["Value"] for o in outputs} == {
        "threshold": "5.0",
        "label": "model-abc",
        "ok": "True",
    }
    # The downstream function got the outputs, typed, through Get OutputParameters['...'].
    assert SEEN == [{"threshold": 5.0, "label": "model-abc", "ok": True}]


def test_a_lambda_step_missing_a_declared_output_fails_naming_it(tmp_path: Path) -> None:
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

    with local(tmp_path) as aws:
        compute = _function(aws.aws, "threshold", "threshold_handler")
        step = LambdaStep(
            name="Threshold",
            lambda_func=Lambda(function_arn=compute, session=aws.session),
            inputs={"base": 1.0, "tag": "x"},
            outputs=[LambdaOutput("missing", LambdaOutputTypeEnum.String)],
        )
        run = aws.run(_pipeline(aws, [step]))
    assert run.status == "Failed"
    assert "no output 'missing'" in (run.steps["Threshold"].get("FailureReason") or "")


# --- a shell entry point reading the container's config files ------------------------------

TRAIN_SH = """#!/bin/sh
set -e
# A job written for the container: fixed paths, no SM_* variables.
cp /opt/ml/input/config/inputdataconfig.json /opt/ml/input/config/resourceconfig.json \\
   /opt/ml/model/
printf '%s\\n' "$@" > /opt/ml/model/arguments.txt
python -c 'import sys; print(sys.version_info[0])' > /opt/ml/model/python.txt
ls /opt/ml/input/data/train > /opt/ml/model/train-files.txt
"""


@needs_isolation
def test_a_shell_entry_point_reads_the_container_config_by_its_fixed_paths(
    tmp_path: Path,
) -> None:
    from sagemaker.inputs import TrainingInput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.workflow.steps import TrainingStep

    source = tmp_path / "src"
    source.mkdir()
    (source / "train.sh").write_text(TRAIN_SH)
    with local(tmp_path) as aws:
        aws.put("data/train/a.csv", b"1,2\n")
        aws.put("data/validation/b.csv", b"3,4\n")
        estimator = SKLearn(
            entry_point="train.sh",
            source_dir=str(source),
            framework_version="1.2-1",
            role=ROLE,
            instance_count=1,
            instance_type="ml.m5.xlarge",
            output_path=f"s3://{BUCKET}/models",
            hyperparameters={"epochs": 3},
            sagemaker_session=aws.session,
        )
        train = TrainingStep(
            name="Train",
            step_args=estimator.fit(
                {
                    "train": TrainingInput(f"s3://{BUCKET}/data/train/", content_type="text/csv"),
                    "validation": TrainingInput(
                        f"s3://{BUCKET}/data/validation/", distribution="ShardedByS3Key"
                    ),
                }
            ),
        )
        run = aws.run(_pipeline(aws, [train]))
        assert run.status == "Succeeded", run.reason
        job = run.steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
        uri = aws.aws.client("sagemaker").describe_training_job(TrainingJobName=job)[
            "ModelArtifacts"
        ]["S3ModelArtifacts"]
        files = _members(aws.get(uri))
    # How SageMaker provides training information (and the training toolkit reads it).
    assert json.loads(files["inputdataconfig.json"]) == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
        "validation": {
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        },
    }
    assert json.loads(files["resourceconfig.json"]) == {
        "current_host": "algo-1",
        "current_instance_type": "ml.m5.xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.xlarge",
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }
    # The toolkit's command for a non-Python program: /bin/sh -c "./train.sh --epochs 3".
    assert files["arguments.txt"].decode().split() == ["--epochs", "3"]
    assert files["python.txt"].decode().strip() == "3"
    assert files["train-files.txt"].decode().split() == ["a.csv"]


# --- Transform step caching -----------------------------------------------------------------


def test_a_cached_transform_reruns_when_a_cache_key_attribute_changes(tmp_path: Path) -> None:
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.steps import CacheConfig, TransformStep

    with local(tmp_path, cache_dir=tmp_path / "cache") as aws:
        data = aws.put("models/model.tar.gz", _model_archive(_booster(FEATURES, LABELS), tmp_path))
        aws.aws.client("sagemaker").create_model(
            ModelName="fixed-model",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": data},
        )
        aws.put("batch/rows.csv", "\n".join(",".join(map(str, r)) for r in FEATURES).encode())

        def run(filter_: str = "$", instance_type: str = "ml.m5.large") -> Finished:
            transformer = Transformer(
                model_name="fixed-model",
                instance_count=1,
                instance_type=instance_type,
                output_path=f"s3://{BUCKET}/scored",
                accept="text/csv",
                assemble_with="Line",
                sagemaker_session=aws.session,
            )
            step = TransformStep(
                name="Score",
                step_args=transformer.transform(
                    f"s3://{BUCKET}/batch/",
                    content_type="text/csv",
                    split_type="Line",
                    input_filter=filter_,
                ),
                cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
            )
            finished = aws.run(_pipeline(aws, [step]))
            assert finished.status == "Succeeded", finished.reason
            return finished

        first, same = run(), run()
        resized = run(instance_type="ml.m5.xlarge")  # TransformResources: not in the key
        refiltered = run(filter_="$[0:2]")  # DataProcessing: in the key
    assert "CacheHitResult" not in first.steps["Score"]
    assert "CacheHitResult" in same.steps["Score"]
    assert "CacheHitResult" in resized.steps["Score"]
    assert "CacheHitResult" not in refiltered.steps["Score"]
