"""`mlops up`: how soon it is ready, and how soon drift starts retraining.

Starts `mlops up --approve auto --monitor-every N` in a fresh runs folder, as a user would in
one terminal, and acts from another with boto3 and the printed AWS_* values:

1. ready: seconds from starting the process to its `Ready.` line (target: at most 5 s);
2. drift to retraining: after the first run deployed, 1,000 rows whose weights are scaled by
   3 go to the endpoint (in requests of 100 rows, captured); seconds from the last of them to
   the `Run ... started: data drift` line (target: at most --monitor-every + 2 s).

    python benchmarks/up_bench.py [--monitor-every 10]
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ("whole_weight", "shucked_weight", "viscera_weight", "shell_weight")


def _lines(process: subprocess.Popen[str], into: queue.Queue[tuple[float, str]]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put((time.perf_counter(), line.rstrip("\n")))


def _wait_for(lines: queue.Queue[tuple[float, str]], text: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            when, line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        print(f"  | {line}", flush=True)
        if text in line:
            return when
    raise TimeoutError(f"no line with {text!r} within {timeout} s")


def drifted_rows(count: int) -> str:
    """Feature rows like the training data's, the weights scaled by 3."""
    baseline = pd.read_csv(ROOT / "data" / "abalone.csv")
    sample = baseline.sample(count, replace=True, random_state=0)
    sample[list(WEIGHTS)] = sample[list(WEIGHTS)] * 3
    sex = sample.pop("sex")
    sample = sample.drop(columns=["rings"])
    for category in ("F", "I", "M"):
        sample[f"sex_{category}"] = (sex == category).astype(np.uint8)
    return sample.to_csv(header=False, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--monitor-every", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-up-bench-") as runs:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops", "up", "--approve", "auto", "--runs-dir", runs,
             "--monitor-every", str(args.monitor_every)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=_lines, args=(process, lines), daemon=True).start()
        try:
            values: dict[str, str] = {}
            while "Ready." not in values:
                when, line = lines.get(timeout=60)
                print(f"  | {line}", flush=True)
                key, _, value = line.partition("=")
                values[line if line == "Ready." else key] = value
            ready = when - started
            _wait_for(lines, "deployed to", 300)
            session = boto3.Session(
                aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
                region_name=values["AWS_DEFAULT_REGION"],
            )
            runtime = session.client("sagemaker-runtime", endpoint_url=values["AWS_ENDPOINT_URL"])
            rows = drifted_rows(1000).splitlines()
            for start in range(0, len(rows), 100):
                runtime.invoke_endpoint(
                    EndpointName="abalone-endpoint",
                    ContentType="text/csv",
                    Body="\n".join(rows[start : start + 100]),
                )
            sent = time.perf_counter()
            retraining = _wait_for(lines, "started: data drift", args.monitor_every * 3 + 60)
        finally:
            process.terminate()
            process.wait(30)
    print(f"ready: {ready:.2f} s (target: at most 5 s)")
    print(
        f"drifted batch to retraining start: {retraining - sent:.2f} s "
        f"(target: at most --monitor-every + 2 = {args.monitor_every + 2:g} s)"
    )


if __name__ == "__main__":
    main()
