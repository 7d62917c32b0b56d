"""`mlops predict --endpoint`: an endpoint's predictions through the standard AWS environment.

`local_aws()` points the standard environment (AWS_ENDPOINT_URL, the keys, the region) at its
server while it runs, as `mlops up` prints it for other terminals, so the command finds the
endpoint exactly as it would find one in an AWS account.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from localaws import LocalAWS, local_aws
from mlops import predict as predict_module
from mlops.cli import main

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
FEATURES = 10


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(3)
    x = rng.random((300, FEATURES), dtype=np.float32)
    return xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(x, label=x.sum(axis=1)), 8)


@pytest.fixture(scope="module")
def aws(booster: xgb.Booster) -> Iterator[LocalAWS]:
    """A local AWS serving `booster` as the endpoint `ep`."""
    raw = bytes(booster.save_raw("ubj"))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with local_aws() as local:
        s3, sm = local.client("s3"), local.client("sagemaker")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="m/model.tar.gz", Body=archive.getvalue())
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/m/model.tar.gz"},
        )
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": "m",
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant])
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
        _in_service(sm, "ep")
        yield local


def _in_service(sm: Any, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, f"{name} not InService after {timeout} s"
        time.sleep(0.05)


def test_predictions_are_the_endpoints_for_every_row(
    aws: LocalAWS, booster: xgb.Booster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = np.random.default_rng(4).random((50, FEATURES), dtype=np.float32)
    data = tmp_path / "rows.csv"
    np.savetxt(data, rows, delimiter=",", fmt="%.6g")

    assert main(["predict", "--endpoint", "ep", "--data", str(data)]) == 0

    out = capsys.readouterr().out
    sent = np.loadtxt(data, delimiter=",", dtype=np.float32)
    expected = booster.predict(xgb.DMatrix(sent)).astype(np.float64)
    np.testing.assert_array_equal(np.array([float(v) for v in out.split()]), expected)


def test_a_large_file_goes_in_requests_under_the_payload_limit() -> None:
    rows = "".join(f"{i},{i}\n" for i in range(1000))
    bodies = predict_module.requests(rows, limit=100)
    assert b"".join(bodies) == rows.encode()
    assert all(len(body) <= 100 and body.endswith(b"\n") for body in bodies)
    assert len(bodies) > 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "nope"], "--endpoint nope: ValidationError: Endpoint nope"),
        (["--endpoint", "ep", "--run", "runs/x"], "--endpoint and --run: give one"),
        (["--region", "eu-west-1"], "--profile and --region choose the account of --endpoint"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    aws: LocalAWS,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text(",".join(["0.5"] * FEATURES) + "\n")

    assert main(["predict", "--data", str(data), *args]) == 2

    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err, err


def test_bad_rows_are_refused_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No local AWS and no credentials: the row error still comes first."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "rows.csv"
    data.write_text("0.1,0.2\n")

    assert main(["predict", "--endpoint", "ep", "--data", str(data)]) == 2

    err = capsys.readouterr().err
    assert "row 1 has 2 columns" in err and len(err.strip().splitlines()) == 1
