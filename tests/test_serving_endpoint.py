"""The deployed model answers: InvokeEndpoint on the local AWS, `mlops predict`, `mlops serve`,
and the endpoint's data capture, all on the model of one real `mlops run`. An endpoint loads its
model while Creating, as SageMaker's instances do: one that cannot load goes Failed."""

from __future__ import annotations

import base64
import io
import json
import re
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import WaiterError
from fakes.job_scripts import load_script

from localaws import LocalAWS, local_aws
from mlops import predict as predict_module
from mlops import run as run_module
from mlops import serve as serve_module
from mlops.cli import main

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BUCKET = "serving-tests"
ROW = "0.455,0.365,0.095,0.514,0.2245,0.101,0.15,0,0,1"
#: SageMaker's capture line (developer guide, "Capture data from real-time endpoint").
CAPTURE_KEY = re.compile(
    r"capture/ep/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl"
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One approved and deployed `mlops run` (about 15 s), shared by the module."""
    runs = tmp_path_factory.mktemp("runs")
    copy_capture = run_module._copy_capture

    def traffic_then_copy(target: Any, endpoint_name: str | None, capture: Path) -> None:
        """Requests reach the deployed endpoint before the run copies its captures."""
        runtime = target.client("sagemaker-runtime")
        runtime.invoke_endpoint(EndpointName=endpoint_name, Body=ROW, ContentType="text/csv")
        copy_capture(target, endpoint_name, capture)

    with pytest.MonkeyPatch.context() as patch, redirect_stdout(io.StringIO()):
        patch.setattr(run_module, "_copy_capture", traffic_then_copy)
        code = main(["run", "--runs-dir", str(runs), "--param", "NumRound=30", "--approve", "auto"])
    assert code == 0
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return folder


@pytest.fixture(scope="module")
def booster(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> xgb.Booster:
    """xgboost's own reading of the run's model.tar.gz."""
    folder = tmp_path_factory.mktemp("model")
    with tarfile.open(run_dir / "model.tar.gz") as archive:
        archive.extractall(folder, filter="data")
    model = xgb.Booster()
    model.load_model(str(folder / "xgboost-model"))
    return model


@pytest.fixture(scope="module")
def test_split(abalone_splits: Path) -> np.ndarray:
    """The pipeline's test split (target first), as preprocess.py writes it."""
    return np.loadtxt(abalone_splits / "test" / "test.csv", delimiter=",", dtype=np.float32)


@pytest.fixture(scope="module")
def aws(run_dir: Path) -> Iterator[LocalAWS]:
    """A local AWS with the run's model deployed as `ep` (one variant, data capture on)."""
    with local_aws() as local:
        s3, sm = local.client("s3"), local.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(run_dir / "model.tar.gz"), BUCKET, "model/model.tar.gz")
        _model(sm, "m1", f"s3://{BUCKET}/model/model.tar.gz")
        sm.create_endpoint_config(
            EndpointConfigName="c1",
            ProductionVariants=[_variant("AllTraffic", "m1")],
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{BUCKET}/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        )
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        _wait_in_service(sm, "ep")
        yield local


def _wait_in_service(sm: Any, name: str) -> None:
    """boto3's waiter, polling every 50 ms (botocore takes a sub-second Delay)."""
    waiter = sm.get_waiter("endpoint_in_service")
    waiter.wait(EndpointName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600})


def _model(sm: Any, name: str, data: str, environment: dict[str, str] | None = None) -> None:
    container = {"Image": IMAGE, "ModelDataUrl": data, "Environment": environment or {}}
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)


def _variant(name: str, model: str, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": weight,
    }


def _invoke(aws: LocalAWS, body: str | bytes, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ContentType", "text/csv")
    response = aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=kwargs.pop("EndpointName", "ep"), Body=body, **kwargs
    )
    response["Text"] = response["Body"].read().decode()
    return response


# --- InvokeEndpoint ------------------------------------------------------------------------


def test_invoke_endpoint_equals_xgboost_on_the_test_split(
    aws: LocalAWS, booster: xgb.Booster, test_split: np.ndarray
) -> None:
    features = test_split[:, 1:]
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in features)
    response = _invoke(aws, body)
    served = np.array([float(line) for line in response["Text"].splitlines()])
    assert len(served) == len(features)
    np.testing.assert_array_equal(served, booster.predict(xgb.DMatrix(features)))
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_json_and_libsvm_as_the_xgboost_container_takes_them(
    aws: LocalAWS, booster: xgb.Booster
) -> None:
    expected = float(
        booster.predict(xgb.DMatrix(np.array([[float(v) for v in ROW.split(",")]])))[0]
    )
    answer = json.loads(_invoke(aws, ROW, Accept="application/json")["Text"])
    assert answer == {"predictions": [{"score": pytest.approx(expected)}]}
    # libsvm is sparse: an absent index is a missing value to XGBoost, not a zero.
    libsvm = " ".join(f"{i}:{v}" for i, v in enumerate(ROW.split(","), 1) if float(v) != 0)
    sparse = np.array([[float(v) or np.nan for v in ROW.split(",")]])
    assert float(_invoke(aws, f"0 {libsvm}", ContentType="text/libsvm")["Text"]) == (
        pytest.approx(float(booster.predict(xgb.DMatrix(sparse))[0]))
    )


def test_errors_are_sagemakers(aws: LocalAWS) -> None:
    runtime = aws.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError, match="Endpoint nope of account"):
        _invoke(aws, ROW, EndpointName="nope")
    with pytest.raises(runtime.exceptions.ValidationError, match='variant\\(s\\) "\\[X\\]"'):
        _invoke(aws, ROW, TargetVariant="X")
    with pytest.raises(runtime.exceptions.ModelError) as refused:
        _invoke(aws, ROW, ContentType="application/x-unknown")
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 415
    assert "not supported" in error["OriginalMessage"]
    assert error["Error"]["Message"].startswith("Received client error (415) from primary")
    assert error["LogStreamArn"].endswith("log-group:/aws/sagemaker/Endpoints/ep")
    with pytest.raises(runtime.exceptions.ModelError, match=r"\(415\)"):
        _invoke(aws, "a,b,c")


def test_variant_weights_and_target_variant(aws: LocalAWS, run_dir: Path) -> None:
    sm = aws.client("sagemaker")
    sm.create_endpoint_config(
        EndpointConfigName="two",
        ProductionVariants=[_variant("Blue", "m1", 1.0), _variant("Green", "m1", 0.0)],
    )
    sm.create_endpoint(EndpointName="two", EndpointConfigName="two")
    _wait_in_service(sm, "two")
    seen = {_invoke(aws, ROW, EndpointName="two")["InvokedProductionVariant"] for _ in range(20)}
    assert seen == {"Blue"}  # a weight of 0 takes no traffic
    target = _invoke(aws, ROW, EndpointName="two", TargetVariant="Green")
    assert target["InvokedProductionVariant"] == "Green"


def test_serverless_endpoint_and_model_package_serve_alike(aws: LocalAWS) -> None:
    sm = aws.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="g")
    package = sm.create_model_package(
        ModelPackageGroupName="g",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.create_model(
        ModelName="from-package",
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": package}],
    )
    sm.create_endpoint_config(
        EndpointConfigName="serverless",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "from-package",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    sm.create_endpoint(EndpointName="serverless", EndpointConfigName="serverless")
    _wait_in_service(sm, "serverless")
    assert _invoke(aws, ROW, EndpointName="serverless")["Text"] == _invoke(aws, ROW)["Text"]


def test_a_model_that_fails_to_load_fails_the_endpoint(aws: LocalAWS) -> None:
    """As on SageMaker, the endpoint never reaches InService: Failed, with the reason."""
    s3, sm = aws.client("s3"), aws.client("sagemaker")
    s3.put_object(Bucket=BUCKET, Key="broken/model.tar.gz", Body=b"not a tar archive")
    _model(sm, "broken", f"s3://{BUCKET}/broken/model.tar.gz")
    sm.create_endpoint_config(
        EndpointConfigName="broken", ProductionVariants=[_variant("AllTraffic", "broken")]
    )
    sm.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    with pytest.raises(WaiterError, match='matched expected path: "Failed"'):
        _wait_in_service(sm, "broken")
    endpoint = sm.describe_endpoint(EndpointName="broken")
    assert endpoint["EndpointStatus"] == "Failed"
    assert re.fullmatch(
        r"The primary container for production variant AllTraffic did not pass the ping health "
        r"check\. Please check CloudWatch logs for this endpoint\. The container's error: model "
        r"data is not a readable tar archive: .+",
        endpoint["FailureReason"],
        re.DOTALL,
    )
    runtime = aws.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError) as refused:
        _invoke(aws, ROW, EndpointName="broken")
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert re.match(
        r"Endpoint broken of account \d{12} is not in service: its status is Failed; it takes "
        r"requests once InService\. FailureReason: The primary container .+ readable tar archive",
        error["Error"]["Message"],
        re.DOTALL,
    )


def test_an_image_the_local_aws_does_not_run_is_in_service_and_says_so(aws: LocalAWS) -> None:
    """A container of its own cannot start locally: whether it would pass its health check
    cannot be told, so the endpoint goes InService and each request says why it fails."""
    sm = aws.client("sagemaker")
    container = {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/own-server:1"}
    sm.create_model(ModelName="own", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sm.create_endpoint_config(
        EndpointConfigName="own", ProductionVariants=[_variant("AllTraffic", "own")]
    )
    sm.create_endpoint(EndpointName="own", EndpointConfigName="own")
    _wait_in_service(sm, "own")
    runtime = aws.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ModelError) as failed:
        _invoke(aws, ROW, EndpointName="own")
    assert failed.value.response["OriginalStatusCode"] == 500
    assert "serves with its own container" in failed.value.response["OriginalMessage"]


def test_an_endpoint_is_creating_until_its_model_has_loaded(aws: LocalAWS, tmp_path: Path) -> None:
    """Requests are refused while Creating; once InService the model is already loaded."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        "import time\n\ndef model_fn(model_dir):\n    time.sleep(0.5)\n    return 4.0\n\n"
        "def predict_fn(data, model):\n    return data * model\n"
    )
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code, arcname="code")
    aws.client("s3").upload_file(str(archive), BUCKET, "slow/model.tar.gz")
    sm = aws.client("sagemaker")
    _model(sm, "slow", f"s3://{BUCKET}/slow/model.tar.gz", {"SAGEMAKER_PROGRAM": "inference.py"})
    sm.create_endpoint_config(
        EndpointConfigName="slow", ProductionVariants=[_variant("AllTraffic", "slow")]
    )
    sm.create_endpoint(EndpointName="slow", EndpointConfigName="slow")
    assert sm.describe_endpoint(EndpointName="slow")["EndpointStatus"] == "Creating"
    runtime = aws.client("sagemaker-runtime")
    with pytest.raises(
        runtime.exceptions.ValidationError,
        match=r"Endpoint slow of account \d{12} is not in service: its status is Creating; it "
        r"takes requests once InService\.$",
    ):
        _invoke(aws, "[1]", EndpointName="slow", ContentType="application/json")
    _wait_in_service(sm, "slow")
    started = time.perf_counter()
    answer = _invoke(aws, "[1, 2.5]", EndpointName="slow", ContentType="application/json")
    assert time.perf_counter() - started < 0.4  # the model did not load now
    assert json.loads(answer["Text"]) == [4.0, 10.0]


def test_script_mode_models_run_their_handlers(aws: LocalAWS, tmp_path: Path) -> None:
    """A model with SAGEMAKER_PROGRAM is served through its own model_fn/predict_fn."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(
        "def model_fn(model_dir):\n    return 2.0\n\n"
        "def predict_fn(data, model):\n    return data * model\n"
    )
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code, arcname="code")
    aws.client("s3").upload_file(str(archive), BUCKET, "script/model.tar.gz")
    sm = aws.client("sagemaker")
    environment = {"SAGEMAKER_PROGRAM": "inference.py"}
    _model(sm, "script", f"s3://{BUCKET}/script/model.tar.gz", environment)
    sm.create_endpoint_config(
        EndpointConfigName="script", ProductionVariants=[_variant("AllTraffic", "script")]
    )
    sm.create_endpoint(EndpointName="script", EndpointConfigName="script")
    _wait_in_service(sm, "script")
    answer = _invoke(aws, "[1, 2.5]", EndpointName="script", ContentType="application/json")
    assert json.loads(answer["Text"]) == [2.0, 5.0]

    # Not repacked: the code is the SDK's sourcedir.tar.gz, named by SAGEMAKER_SUBMIT_DIRECTORY.
    (code / "inference.py").write_text(
        "def model_fn(model_dir):\n    return 3.0\n\n"
        "def predict_fn(data, model):\n    return data * model\n"
    )
    sourcedir = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(sourcedir, "w:gz") as tar:
        tar.add(code / "inference.py", arcname="inference.py")
    aws.client("s3").upload_file(str(sourcedir), BUCKET, "script/sourcedir.tar.gz")
    environment["SAGEMAKER_SUBMIT_DIRECTORY"] = f"s3://{BUCKET}/script/sourcedir.tar.gz"
    _model(sm, "sourcedir", f"s3://{BUCKET}/model/model.tar.gz", environment)
    sm.create_endpoint_config(
        EndpointConfigName="sourcedir", ProductionVariants=[_variant("AllTraffic", "sourcedir")]
    )
    sm.create_endpoint(EndpointName="sourcedir", EndpointConfigName="sourcedir")
    _wait_in_service(sm, "sourcedir")
    answer = _invoke(aws, "[1, 2.5]", EndpointName="sourcedir", ContentType="application/json")
    assert json.loads(answer["Text"]) == [3.0, 7.5]


# --- data capture ---------------------------------------------------------------------------


def test_capture_files_have_sagemakers_format_and_layout(aws: LocalAWS) -> None:
    _invoke(aws, ROW, InferenceId="row-1")
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/")["Contents"]]
    assert keys and all(CAPTURE_KEY.fullmatch(k) for k in keys), keys
    lines = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()
    ]
    record = next(r for r in lines if r["eventMetadata"].get("inferenceId") == "row-1")
    assert record["eventVersion"] == "0"
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": ROW,
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "CSV"
    assert float(output["data"]) > 0
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", record["eventMetadata"]["inferenceTime"]
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", record["eventMetadata"]["eventId"])


def test_content_types_not_listed_are_captured_base64() -> None:
    import datetime as dt

    from localaws.runtime_seam import capture_record

    config = {
        "CaptureOptions": [{"CaptureMode": "Input"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
    }
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    record = json.loads(capture_record(config, b"1,2", "text/csv", b"3", "text/csv", when))
    assert record["captureData"] == {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": base64.b64encode(b"1,2").decode(),
            "encoding": "BASE64",
        }
    }
    assert record["eventMetadata"]["inferenceTime"] == "2024-01-02T03:04:05Z"


def test_the_workflows_endpoint_config_captures_and_the_run_keeps_it(run_dir: Path) -> None:
    history = (run_dir / "execution_history.json").read_text()
    assert '\\"DataCaptureConfig\\"' in history or '"DataCaptureConfig"' in history
    asl = json.loads((run_dir / "state_machine.asl.json").read_text())
    text = json.dumps(asl)
    assert "InitialSamplingPercentage.$" in text and "DestinationS3Uri.$" in text
    (capture,) = (run_dir / "capture").rglob("*.jsonl")
    assert re.fullmatch(
        r"AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl",
        capture.relative_to(run_dir / "capture").as_posix(),
    )
    # The smoke test's request first (100 rows, tagged), then the traffic sent after the run.
    smoke, record = [json.loads(line) for line in capture.read_text().splitlines()]
    assert smoke["eventMetadata"]["inferenceId"] == "smoke-test"
    assert len(smoke["captureData"]["endpointInput"]["data"].splitlines()) == 100
    assert len(smoke["captureData"]["endpointOutput"]["data"].splitlines()) == 100
    assert record["captureData"]["endpointInput"]["data"] == ROW
    assert "inferenceId" not in record["eventMetadata"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"]["image"].endswith("sagemaker-xgboost:3.0-5")
    assert summary["model"]["archive"] == "model.tar.gz"


# --- mlops predict ---------------------------------------------------------------------------


def _predict(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_on_raw_rows_equals_the_evaluation_steps_predictions(
    run_dir: Path,
    booster: xgb.Booster,
    abalone_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Raw rows of the test split (rings included) give what evaluate.py predicted for them."""
    raw = abalone_csv.read_text().splitlines()
    header, rows = raw[0], raw[1:]
    # preprocess.py's split: a permutation of the rows by its seed, test last (its defaults).
    order = np.random.default_rng(42).permutation(len(rows))
    test = order[int(len(rows) * 0.7) + int(len(rows) * 0.15) :]
    data = tmp_path / "raw.csv"
    data.write_text("\n".join([header, *(rows[i] for i in test)]) + "\n")
    code, out, err = _predict(capsys, "--run", str(run_dir), "--data", str(data))
    assert code == 0, err
    evaluate = load_script("evaluate")
    x = _evaluate_features(evaluate, abalone_csv, tmp_path)
    expected = booster.predict(xgb.DMatrix(x)).astype(np.float64)
    np.testing.assert_array_equal(np.array([float(v) for v in out.split()]), expected)


def _evaluate_features(evaluate: Any, abalone_csv: Path, tmp_path: Path) -> np.ndarray:
    """The test split's features as evaluate.py reads them (read_test on preprocess's output)."""
    out = tmp_path / "splits"
    preprocess = predict_module.preprocess_module()
    args = preprocess.parse_args(["--input", str(abalone_csv), "--output-dir", str(out)])
    preprocess.run(args)
    _, x = evaluate.read_test(str(out / "test"))
    return x


def test_predict_takes_feature_rows_and_defaults_to_the_latest_run(
    run_dir: Path, booster: xgb.Booster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "features.csv"
    data.write_text(f"{ROW}\n{ROW}\n")
    code, out, _ = _predict(capsys, "--runs-dir", str(run_dir.parent), "--data", str(data))
    assert code == 0
    expected = booster.predict(xgb.DMatrix(np.array([[float(v) for v in ROW.split(",")]] * 2)))
    assert [float(v) for v in out.split()] == expected.tolist()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sex,length\nM,0.4\n", r"missing column 'diameter'"),
        ("1,2,3\n", r"row 1 has 3 columns \(expected 10 features"),
        (
            f"{ROW}\n0.4,x,{ROW[12:]}\n",
            r"row 2, column 2 \('diameter'\): expected a number, found 'x'",
        ),
        (
            "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight\n"
            "M,0.4,0.3,0.1,0.5,0.2,0.1,0.1\nQ,0.4,0.3,0.1,0.5,0.2,0.1,0.1\n",
            r"column 'sex': unknown category 'Q' in row 2",
        ),
        (
            "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight\n"
            "M,0.4,abc,0.1,0.5,0.2,0.1,0.1\n",
            r"column 'diameter': expected numbers, found 'abc' in row 1",
        ),
        ("", r"empty file"),
    ],
)
def test_every_bad_input_is_one_line_and_exit_2(
    run_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(content)
    code, out, err = _predict(capsys, "--run", str(run_dir), "--data", str(data))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("mlops predict: error: --data ")
    assert re.search(message, err), err


def test_predict_without_a_run_or_data_file_is_one_line(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.csv"
    for args, message in (
        (["--runs-dir", str(tmp_path), "--data", str(missing)], "no run with a model in"),
        (["--run", str(tmp_path), "--data", str(missing)], "not a run folder"),
        (["--run", str(run_dir), "--data", str(missing)], "no such file"),
    ):
        code, _, err = _predict(capsys, *args)
        assert code == 2 and len(err.splitlines()) == 1 and message in err, err


# --- mlops serve ---------------------------------------------------------------------------


def _http(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_serve_answers_ping_and_invocations(run_dir: Path, booster: xgb.Booster) -> None:
    server = serve_module.start(predict_module.run_model(run_dir), port=0)
    try:
        assert _http(f"{server.url}/ping")[0] == 200
        status, kind, text = _http(
            f"{server.url}/invocations", ROW.encode(), {"Content-Type": "text/csv"}
        )
        expected = booster.predict(xgb.DMatrix(np.array([[float(v) for v in ROW.split(",")]])))
        assert (status, kind, float(text)) == (200, "text/csv", pytest.approx(float(expected[0])))
        status, kind, text = _http(
            f"{server.url}/invocations",
            ROW.encode(),
            {"Content-Type": "text/csv", "Accept": "application/json"},
        )
        assert status == 200 and json.loads(text)["predictions"][0]["score"] > 0
        assert _http(f"{server.url}/invocations", b"x", {"Content-Type": "image/png"})[0] == 415
        accept = {"Content-Type": "text/csv", "Accept": "image/png"}
        assert _http(f"{server.url}/invocations", ROW.encode(), accept)[0] == 406
        assert _http(f"{server.url}/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_serve_refuses_a_bad_port(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--run", str(run_dir), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err
