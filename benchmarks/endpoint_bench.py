"""How fast does the local endpoint answer? InvokeEndpoint through boto3 against the local AWS.

    python benchmarks/endpoint_bench.py [--run RUN_DIR] [--requests 200] [--rows 10000]

The model is a run's model.tar.gz (--run), else one trained here as the pipeline trains it
(scripts/train.py's defaults on the bundled data, 200 rounds). It is deployed as an instance
endpoint with data capture on for every request (the workflow's default), so each timed call
includes capture. The endpoint loads the model while Creating, as SageMaker's instances do; the
benchmark waits for InService as a client does (boto3's waiter, reported as CreateEndpoint to
InService), then times

* first request: the first call after InService, apart (the model is already loaded);
* one row: N sequential requests of one text/csv row. Target: p50 at most 10 ms.
* 10,000 rows: one text/csv request of that many rows, median of 5. Target: at most 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
BUCKET = "endpoint-bench"


def trained_model(folder: Path) -> tuple[Path, str]:
    """A model.tar.gz trained as the pipeline trains, and the first feature row of the data."""
    import xgboost as xgb

    from core.settings import DEFAULT_DATA
    from mlops.predict import preprocess_module

    preprocess = preprocess_module()
    frame = preprocess.read_file(DEFAULT_DATA)
    x, y = preprocess.features(frame).to_numpy(dtype=float), frame[preprocess.TARGET].to_numpy()
    params = {"objective": "reg:squarederror", "max_depth": 5, "eta": 0.2, "gamma": 4.0}
    booster = xgb.train(
        {**params, "min_child_weight": 6.0, "subsample": 0.7}, xgb.DMatrix(x, y), 200
    )
    booster.save_model(folder / "xgboost-model.ubj")
    (folder / "xgboost-model.ubj").rename(folder / "xgboost-model")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    return archive, ",".join(repr(float(v)) for v in x[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, help="a run folder whose model.tar.gz to serve")
    parser.add_argument("--requests", type=int, default=200, help="one-row requests (200)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the big request")
    args = parser.parse_args()

    from localaws import local_aws

    with tempfile.TemporaryDirectory() as work, local_aws() as aws:
        archive, row = trained_model(Path(work))
        if args.run:
            archive = args.run / "model.tar.gz"
        s3, sm = aws.client("s3"), aws.client("sagemaker")
        runtime = aws.client("sagemaker-runtime")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(archive), BUCKET, "model.tar.gz")
        sm.create_model(
            ModelName="bench",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
        )
        sm.create_endpoint_config(
            EndpointConfigName="bench",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{BUCKET}/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
            },
        )
        started = time.perf_counter()
        sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 1200}
        )
        creating = time.perf_counter() - started

        def invoke(body: str) -> bytes:
            response = runtime.invoke_endpoint(
                EndpointName="bench", Body=body, ContentType="text/csv"
            )
            return response["Body"].read()

        started = time.perf_counter()
        invoke(row)
        first = time.perf_counter() - started
        one = []
        for _ in range(args.requests):
            started = time.perf_counter()
            invoke(row)
            one.append(time.perf_counter() - started)
        big_body = "\n".join([row] * args.rows)
        big = []
        for _ in range(5):
            started = time.perf_counter()
            lines = invoke(big_body).splitlines()
            big.append(time.perf_counter() - started)
            assert len(lines) == args.rows
    ms = sorted(s * 1000 for s in one)
    print(f"CreateEndpoint to InService (loads the model): {creating * 1000:.1f} ms")
    print(f"first request after InService: {first * 1000:.1f} ms")
    print(
        f"one row, {args.requests} requests: p50 {statistics.median(ms):.2f} ms, "
        f"p90 {ms[int(len(ms) * 0.9)]:.2f} ms (target p50 <= 10 ms)"
    )
    print(
        f"{args.rows} rows in one request: median {statistics.median(big):.3f} s, "
        f"max {max(big):.3f} s (target <= 1 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
