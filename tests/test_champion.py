"""The champion: scripts/champion.py finds it in the account, scripts/evaluate.py scores it.

Both run as their containers run them (a fresh interpreter), against the local AWS through
the standard variables, as a job's role would reach SageMaker and S3.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes.job_scripts import load_script

from approval.svg import sanitize
from core import contracts
from localaws import LocalAWS, local_aws
from pipelines.names import MODEL_FEATURES

BUCKET = "models"
GROUP = "abalone-models"
ENDPOINT = "abalone-endpoint"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
FEATURES = ",".join(MODEL_FEATURES)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone-models/1"


def _train(run_script, splits: Path, folder: Path, *hyperparameters: str) -> Path:
    """model.tar.gz of train.py on the splits, as SageMaker packs the model directory."""
    model_dir = folder / "model"
    result = run_script(
        "train.py",
        "--model-dir",
        model_dir,
        "--train",
        splits / "train",
        "--validation",
        splits / "validation",
        *hyperparameters,
    )
    assert result.returncode == 0, result.stderr
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
    return archive


@pytest.fixture(scope="module")
def models(run_script, abalone_splits, tmp_path_factory) -> dict[str, Path]:
    """A good model (every default) and a weak one (two shallow rounds)."""
    return {
        "good": _train(run_script, abalone_splits, tmp_path_factory.mktemp("good")),
        "weak": _train(
            run_script,
            abalone_splits,
            tmp_path_factory.mktemp("weak"),
            "--num_round",
            "2",
            "--max_depth",
            "1",
        ),
    }


@pytest.fixture
def aws() -> Iterator[LocalAWS]:
    with local_aws() as aws:
        aws.client("s3").create_bucket(Bucket=BUCKET)
        yield aws


def _upload(aws: LocalAWS, archive: Path, key: str) -> str:
    aws.client("s3").upload_file(str(archive), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def _evaluate(run_script, aws: LocalAWS, archive: Path, splits: Path, out: Path, *extra: str):
    staged = out.parent / f"{out.name}-model"
    staged.mkdir()
    shutil.copy(archive, staged / "model.tar.gz")
    return run_script(
        "evaluate.py",
        "--model-dir",
        staged,
        "--test-dir",
        splits / "test",
        "--output-dir",
        out,
        "--feature-names",
        FEATURES,
        *extra,
        env=aws.credentials,
    )


def test_the_champion_is_scored_on_the_same_rows_as_the_challenger(
    run_script, models, abalone_splits, aws, tmp_path
) -> None:
    url = _upload(aws, models["weak"], "champion/model.tar.gz")
    result = _evaluate(
        run_script,
        aws,
        models["good"],
        abalone_splits,
        tmp_path / "both",
        "--champion-model-url",
        url,
        "--champion-source",
        "endpoint",
        "--champion-package",
        PACKAGE,
        "--champion-endpoint",
        "abalone-endpoint",
    )
    assert result.returncode == 0, result.stderr
    # The champion's numbers are exactly what evaluating it alone reports.
    alone = _evaluate(run_script, aws, models["weak"], abalone_splits, tmp_path / "alone")
    assert alone.returncode == 0, alone.stderr
    champion_alone = json.loads((tmp_path / "alone" / "evaluation.json").read_text())
    challenger = json.loads((tmp_path / "both" / "evaluation.json").read_text())
    comparison = json.loads((tmp_path / "both" / "comparison.json").read_text())

    assert comparison["champion"] == {
        "source": "endpoint",
        "model_data_url": url,
        "model_package_arn": PACKAGE,
        "endpoint_name": "abalone-endpoint",
    }
    assert comparison["comparable"] is True
    assert comparison["test_rows"] == challenger["test_rows"] == 628
    for name, row in comparison["metrics"].items():
        mine = challenger["regression_metrics"][name]["value"]
        theirs = champion_alone["regression_metrics"][name]["value"]
        assert (row["challenger"], row["champion"]) == (mine, theirs)
        assert row["difference"] == pytest.approx(mine - theirs)
        assert row["better"] == "challenger"  # two shallow rounds lose on every metric
    assert comparison["metrics"]["r2"]["lower_is_better"] is False
    assert comparison["mse_increase"] == comparison["metrics"]["mse"]["difference"] < 0

    pictures = tmp_path / "both" / "pictures"
    assert sorted(p.name for p in pictures.iterdir()) == sorted(contracts.PICTURES.values())
    scatter = (pictures / contracts.PICTURES["predicted_vs_actual"]).read_text()
    assert scatter.count("data:image/png;base64,") == 2  # a panel for each model
    importance = sanitize((pictures / contracts.PICTURES["feature_importance"]).read_text(), "f")
    assert "shell_weight" in importance and "champion" in importance


def test_without_a_champion_the_comparison_says_so(
    run_script, models, abalone_splits, aws, tmp_path
) -> None:
    result = _evaluate(run_script, aws, models["good"], abalone_splits, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    comparison = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert (comparison["champion"], comparison["comparable"]) == (None, False)
    assert comparison["mse_increase"] == 0.0
    assert all(row["champion"] is None for row in comparison["metrics"].values())
    scatter = (tmp_path / "out" / "pictures" / "predicted-vs-actual.svg").read_text()
    assert scatter.count("data:image/png;base64,") == 1


def test_a_champion_on_other_features_is_not_comparable(
    run_script, models, abalone_splits, aws, tmp_path
) -> None:
    import xgboost as xgb

    rng = np.random.default_rng(0)
    booster = xgb.train({"max_depth": 1}, xgb.DMatrix(rng.random((20, 3)), rng.random(20)), 2)
    (tmp_path / "other").mkdir()
    booster.save_model(str(tmp_path / "other" / "model.json"))
    archive = tmp_path / "other" / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "other" / "model.json", arcname="xgboost-model")
    url = _upload(aws, archive, "other/model.tar.gz")
    result = _evaluate(
        run_script,
        aws,
        models["good"],
        abalone_splits,
        tmp_path / "out",
        "--champion-model-url",
        url,
    )
    assert result.returncode == 0, result.stderr
    comparison = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert comparison["comparable"] is False
    assert "expects 3 features" in comparison["reason"]
    assert comparison["mse_increase"] == 0.0


def test_an_unreadable_champion_stops_the_job_with_one_line(
    run_script, models, abalone_splits, aws, tmp_path
) -> None:
    result = _evaluate(
        run_script,
        aws,
        models["good"],
        abalone_splits,
        tmp_path / "out",
        "--champion-model-url",
        f"s3://{BUCKET}/missing/model.tar.gz",
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("evaluate.py: error: --champion-model-url s3://models/missing/")
    assert not (tmp_path / "out" / "evaluation.json").exists()


# -- scripts/champion.py -----------------------------------------------------------------------


def _find(aws: LocalAWS) -> dict[str, str]:
    champion = load_script("champion")
    return champion.find_champion(aws.client("sagemaker"), ENDPOINT, GROUP)


def _package(aws: LocalAWS, url: str, status: str) -> str:
    return aws.client("sagemaker").create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus=status,
    )["ModelPackageArn"]


def test_no_endpoint_and_no_approved_package_means_no_champion(aws) -> None:
    none = {"source": "none", "model_data_url": "none", "model_package_arn": "none"}
    assert _find(aws) == {**none, "endpoint_name": "none"}
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    _package(aws, f"s3://{BUCKET}/pending/model.tar.gz", "PendingManualApproval")
    assert _find(aws)["source"] == "none"


def test_the_latest_approved_package_when_nothing_is_deployed(aws) -> None:
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    _package(aws, f"s3://{BUCKET}/old/model.tar.gz", "Approved")
    newest = _package(aws, f"s3://{BUCKET}/new/model.tar.gz", "Approved")
    _package(aws, f"s3://{BUCKET}/pending/model.tar.gz", "PendingManualApproval")
    _package(aws, f"s3://{BUCKET}/rejected/model.tar.gz", "Rejected")
    assert _find(aws) == {
        "source": "approved-package",
        "model_data_url": f"s3://{BUCKET}/new/model.tar.gz",
        "model_package_arn": newest,
        "endpoint_name": "none",
    }


def test_the_endpoints_model_comes_first(aws, models) -> None:
    """As the workflow deploys: a model made from the package, behind the endpoint."""
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    served_url = _upload(aws, models["good"], "served/model.tar.gz")
    served = _package(aws, served_url, "Approved")
    _package(aws, f"s3://{BUCKET}/newer/model.tar.gz", "Approved")  # approved, not deployed
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        Containers=[{"ModelPackageName": served}],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )
    assert _find(aws) == {
        "source": "endpoint",
        "model_data_url": served_url,
        "model_package_arn": served,
        "endpoint_name": ENDPOINT,
    }


def test_the_script_writes_champion_json(run_script, aws, tmp_path) -> None:
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    arn = _package(aws, f"s3://{BUCKET}/new/model.tar.gz", "Approved")
    result = run_script(
        "champion.py",
        "--endpoint-name",
        ENDPOINT,
        "--model-package-group",
        GROUP,
        "--output-dir",
        tmp_path,
        env=aws.credentials,
    )
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "champion.json").read_text())
    assert (written["source"], written["model_package_arn"]) == ("approved-package", arn)
    assert "champion from the approved-package" in result.stdout


def test_the_scripts_name_the_files_as_the_project_does() -> None:
    """The scripts run in their containers without the project: their copies must agree."""
    evaluate = load_script("evaluate")
    assert evaluate.PICTURES == contracts.PICTURES
    assert evaluate.NONE == load_script("champion").NONE
    from pipelines import names

    assert (evaluate.COMPARISON_FILE, evaluate.PICTURES_FOLDER) == (
        names.COMPARISON_FILE,
        names.PICTURES_FOLDER,
    )
    assert load_script("champion").CHAMPION_FILE == names.CHAMPION_FILE
