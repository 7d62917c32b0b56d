"""scripts/train.py and scripts/evaluate.py: end to end on Abalone, serving hook, bad inputs."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes.job_scripts import load_script

METRICS = ("mse", "rmse", "mae", "r2")
MSE_GATE = 6.0


def pack(model_dir: Path) -> Path:
    """model.tar.gz with xgboost-model at its root, as SageMaker packs SM_MODEL_DIR."""
    archive = model_dir / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
    return archive


def best_iteration(stdout: str) -> int:
    found = re.search(r"best iteration (\d+), best validation rmse ([0-9.]+)", stdout)
    assert found, stdout
    return int(found.group(1))


def assert_one_line_error(result: subprocess.CompletedProcess, script: str, *fragments: str):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def trained(run_script, abalone_splits, tmp_path_factory) -> tuple[Path, str]:
    """A model trained with every default, paths given only through SM_* variables.

    An unknown argument is passed too, as SageMaker may add its own.
    """
    model_dir = tmp_path_factory.mktemp("model")
    env = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_CHANNEL_TRAIN": str(abalone_splits / "train"),
        "SM_CHANNEL_VALIDATION": str(abalone_splits / "validation"),
    }
    result = run_script("train.py", "--sagemaker_extra", "1", env=env)
    assert result.returncode == 0, result.stderr
    return model_dir, result.stdout


def test_train_with_env_contract_and_defaults(trained):
    model_dir, stdout = trained
    assert (model_dir / "xgboost-model").is_file()
    assert [p.name for p in model_dir.iterdir()] == ["xgboost-model"]  # no temp files left
    assert re.search(r"^\[0\]\ttrain-rmse:[0-9.]+\tvalidation-rmse:[0-9.]+$", stdout, re.M)
    assert re.search(r"^\[10\]\t", stdout, re.M)
    assert best_iteration(stdout) < 200


def test_saved_model_holds_only_the_best_iteration(trained):
    model_dir, stdout = trained
    booster = load_script("train").model_fn(str(model_dir))
    assert booster.num_boosted_rounds() == best_iteration(stdout) + 1
    assert booster.num_features() == 10


def test_end_to_end_meets_the_quality_gate(run_script, trained, abalone_splits, tmp_path):
    model_dir, _ = trained
    staged = tmp_path / "model"
    staged.mkdir()
    shutil.copy(model_dir / "xgboost-model", staged)
    pack(staged)
    (staged / "xgboost-model").unlink()  # evaluate must read it from the archive
    out = tmp_path / "evaluation"
    result = run_script(
        "evaluate.py",
        "--model-dir",
        staged,
        "--test-dir",
        abalone_splits / "test",
        "--output-dir",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "mse " in result.stdout and "r2 " in result.stdout
    report = json.loads((out / "evaluation.json").read_text())
    assert list(report["regression_metrics"]) == list(METRICS)
    for name in METRICS:
        assert set(report["regression_metrics"][name]) == {"value", "standard_deviation"}
        assert report["regression_metrics"][name]["standard_deviation"] > 0
    metric = {k: v["value"] for k, v in report["regression_metrics"].items()}
    assert report["test_rows"] == 628
    assert metric["mse"] < MSE_GATE
    assert metric["r2"] > 0
    assert metric["rmse"] == pytest.approx(np.sqrt(metric["mse"]))
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.json",
        "evaluation.json",
        "pictures",
        "smoke-test",
    ]

    # model_fn, the serving hook, loads the same model and reproduces the reported MSE.
    test = pd.read_csv(abalone_splits / "test" / "test.csv", header=None).to_numpy()
    booster = load_script("train").model_fn(str(model_dir))
    import xgboost as xgb

    predictions = booster.predict(xgb.DMatrix(test[:, 1:].astype(np.float32)))
    assert predictions.shape == (628,)
    assert np.mean((predictions - test[:, 0]) ** 2) == pytest.approx(metric["mse"], rel=1e-5)

    # The smoke-test sample: the first 100 feature rows, as an endpoint receives them, and
    # exactly the predictions the evaluation made for them.
    sample = out / "smoke-test"
    payload = np.loadtxt(sample / "payload.csv", delimiter=",", dtype=np.float32, ndmin=2)
    np.testing.assert_array_equal(payload, test[:100, 1:].astype(np.float32))
    expected = [float(line) for line in (sample / "predictions.csv").read_text().splitlines()]
    np.testing.assert_array_equal(np.array(expected), predictions[:100].astype(np.float64))


def test_train_with_argument_contract(run_script, abalone_splits, tmp_path):
    model_dir = tmp_path / "model"
    result = run_script(
        "train.py",
        "--train",
        abalone_splits / "train",
        "--validation",
        abalone_splits / "validation",
        "--model-dir",
        model_dir,
        "--num_round",
        "20",
        "--max_depth",
        "3",
        "--eta",
        "0.3",
        "--early_stopping_rounds",
        "5",
        "--seed",
        "1",
    )
    assert result.returncode == 0, result.stderr
    booster = load_script("train").model_fn(str(model_dir))
    assert booster.num_boosted_rounds() == best_iteration(result.stdout) + 1 <= 20
    # --max_depth 3 reached the trainer: no tree has more than 2**4 - 1 nodes.
    assert booster.trees_to_dataframe().groupby("Tree").size().max() <= 15
    config = json.loads(booster.save_config())
    assert config["learner"]["objective"]["name"] == "reg:squarederror"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "case", ["missing_dir", "no_csv", "empty_file", "column_mismatch", "feature_mismatch"]
)
def test_bad_channel_is_one_line_exit_1(run_script, abalone_splits, tmp_path, case):
    train = tmp_path / "train"
    validation = abalone_splits / "validation"
    good = (abalone_splits / "train" / "train.csv").read_text()
    if case == "missing_dir":
        expected = [f"{train}: train channel directory does not exist"]
    elif case == "no_csv":
        write(train / "readme.txt", "x\n")
        expected = [f"{train}: train channel has no *.csv files"]
    elif case == "empty_file":
        write(train / "train.csv", "")
        expected = [f"{train}: train channel is empty"]
    elif case == "column_mismatch":
        write(train / "a.csv", good)
        write(train / "b.csv", "1,2,3\n4,5,6\n")
        expected = [f"{train / 'b.csv'}: train channel: 3 columns, but a.csv has 11"]
    else:
        write(train / "train.csv", "".join(line.rsplit(",", 1)[0] + "\n" for line in good.split()))
        expected = [f"{validation}: validation channel has 10 features (expected 9"]
    model_dir = tmp_path / "model"
    result = run_script(
        "train.py",
        "--train",
        train,
        "--validation",
        validation,
        "--model-dir",
        model_dir,
        "--num_round",
        "5",
    )
    assert_one_line_error(result, "train.py", *expected)
    assert not model_dir.exists()


def test_importing_train_does_not_train():
    module = load_script("train")
    assert callable(module.model_fn) and callable(module.main)


# --- evaluate.py errors and metrics ---------------------------------------------------


def tarball(path: Path, members: dict[str, bytes]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path / "model.tar.gz", "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "case", ["no_archive", "no_model", "traversal", "absolute", "empty_test", "no_test_rows"]
)
def test_evaluate_errors_are_one_line_exit_1(run_script, trained, abalone_splits, tmp_path, case):
    model_bytes = (trained[0] / "xgboost-model").read_bytes()
    model_dir, test_dir = tmp_path / "model", abalone_splits / "test"
    archive = model_dir / "model.tar.gz"
    if case == "no_archive":
        model_dir.mkdir()
        expected = [f"{archive}: model archive not found"]
    elif case == "no_model":
        tarball(model_dir, {"model.json": b"{}"})
        expected = [f"{archive}: no xgboost-model in the archive"]
    elif case == "traversal":
        tarball(model_dir, {"xgboost-model": model_bytes, "../evil": b"x"})
        expected = [f"{archive}: unsafe member '../evil'"]
    elif case == "absolute":
        tarball(model_dir, {"xgboost-model": model_bytes, "/tmp/evil": b"x"})
        expected = [f"{archive}: unsafe member '/tmp/evil'"]
    else:
        tarball(model_dir, {"xgboost-model": model_bytes})
        test_dir = tmp_path / "test"
        test_dir.mkdir()
        if case == "no_test_rows":
            write(test_dir / "test.csv", "")
        expected = [f"{test_dir}: test set is empty"]
    out = tmp_path / "evaluation"
    result = run_script(
        "evaluate.py", "--model-dir", model_dir, "--test-dir", test_dir, "--output-dir", out
    )
    assert_one_line_error(result, "evaluate.py", *expected)
    assert not out.exists()
    assert not (tmp_path / "evil").exists()


def test_metrics_and_bootstrap_on_known_values():
    module = load_script("evaluate")
    y = np.array([1.0, 2.0, 3.0, 4.0])
    report = module.evaluate(y, y + 1.0, resamples=50, seed=0)["regression_metrics"]
    assert report["mse"] == {"value": 1.0, "standard_deviation": 0.0}
    assert report["mae"] == {"value": 1.0, "standard_deviation": 0.0}
    assert report["r2"]["value"] == pytest.approx(1 - 4 / 5)

    rng = np.random.default_rng(5)
    y = rng.normal(10, 3, size=1000)
    predictions = y + rng.normal(0, 2, size=1000)
    first = module.evaluate(y, predictions, resamples=200, seed=0)
    assert first == module.evaluate(y, predictions, resamples=200, seed=0)
    mse = first["regression_metrics"]["mse"]
    squared = (predictions - y) ** 2
    assert mse["value"] == pytest.approx(squared.mean())
    # The bootstrap standard error of a mean is close to std / sqrt(n).
    assert mse["standard_deviation"] == pytest.approx(squared.std() / np.sqrt(1000), rel=0.25)
