"""`mlops up` end to end, driven as a user drives it: the command in one process, boto3 with the
AWS_* values it prints in another.

The whole loop runs once for the module (about a minute): the upload starts the first run,
which deploys; traffic like the training data finds no drift; traffic whose weights are
scaled by 3 drifts, the drift alarm goes off and exactly one retraining run starts with the
drift in its input; a new upload starts exactly one run, an object outside the input prefix
none. Ctrl-C (SIGINT) stops it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from core.settings import PROJECT_ROOT, Settings

SETTINGS = Settings()
MONITOR_EVERY = 3
WEIGHTS = ["whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
ENDPOINT = SETTINGS.endpoint_name


@dataclass
class Up:
    """The running `mlops up`: its output lines so far, and a boto3 session on its account."""

    process: subprocess.Popen[str]
    session: boto3.Session
    endpoint_url: str
    lines: list[str] = field(default_factory=list)
    incoming: queue.Queue[str] = field(default_factory=queue.Queue)
    #: What it wrote to stderr, read as it comes (a full pipe would block the process).
    errors: list[str] = field(default_factory=list)
    error_reader: threading.Thread | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def wait_for(self, text: str, timeout: float = 120, after: int = 0) -> str:
        """The first line containing `text` printed after line number `after`."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines[after:]:
                if text in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} within {timeout} s:\n" + "\n".join(self.lines))
            with contextlib.suppress(queue.Empty):
                self.lines.append(self.incoming.get(timeout=min(left, 0.5)))

    def executions(self) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        [machine] = sfn.list_state_machines()["stateMachines"]
        listed = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
        return sorted(listed, key=lambda e: e["startDate"])

    def input_of(self, execution: dict[str, Any]) -> dict[str, Any]:
        described = self.client("stepfunctions").describe_execution(
            executionArn=execution["executionArn"]
        )
        return json.loads(described["input"])


def _read(process: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        into.put(line.rstrip("\n"))


def _read_errors(process: subprocess.Popen[str], into: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        into.append(line)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    runs = tmp_path_factory.mktemp("runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops", "up", "--approve", "auto", "--runs-dir", str(runs),
         "--monitor-every", str(MONITOR_EVERY)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip
    incoming: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read, args=(process, incoming), daemon=True).start()
    errors: list[str] = []
    error_reader = threading.Thread(target=_read_errors, args=(process, errors), daemon=True)
    error_reader.start()
    values: dict[str, str] = {}
    lines: list[str] = []
    try:
        while "Ready." not in lines:
            lines.append(incoming.get(timeout=120))
            name, _, value = lines[-1].partition("=")
            if value:
                values[name] = value
        session = boto3.Session(
            aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
            region_name=values["AWS_DEFAULT_REGION"],
        )
        yield Up(
            process, session, values["AWS_ENDPOINT_URL"], lines, incoming, errors, error_reader
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def _feature_rows(count: int, scale_weights: float = 1.0, seed: int = 0) -> str:
    """Rows of the model's features, drawn from the training data, weights scaled."""
    data = pd.read_csv(PROJECT_ROOT / "data" / "abalone.csv")
    sample = data.sample(count, replace=True, random_state=seed).drop(columns=["rings"])
    sample[WEIGHTS] = sample[WEIGHTS] * scale_weights
    sex = sample.pop("sex")
    for category in ("F", "I", "M"):
        sample[f"sex_{category}"] = (sex == category).astype(np.uint8)
    return sample.to_csv(header=False, index=False)


def _send(up: Up, rows: str) -> None:
    runtime = up.client("sagemaker-runtime")
    lines = rows.splitlines()
    for start in range(0, len(lines), 100):
        runtime.invoke_endpoint(
            EndpointName=ENDPOINT,
            ContentType="text/csv",
            Body="\n".join(lines[start : start + 100]),
        )


def test_the_first_run_starts_from_the_upload_and_deploys(up: Up) -> None:
    printed = [line.partition("=")[0] for line in up.lines[:5]]
    assert printed == [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "Ready.",
    ]
    assert up.endpoint_url.startswith("http://127.0.0.1:")
    started = up.wait_for("started: new data:")
    assert f"/{SETTINGS.pipeline_name}/input/abalone.csv" in started
    up.wait_for("deployed to abalone-endpoint", timeout=180)
    [first] = up.executions()
    given = up.input_of(first)
    assert given["Trigger"]["Type"] == "new-data"
    assert given["PollSeconds"] == 1  # the stack `mlops up` deploys polls every second
    endpoint = up.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"


def test_traffic_like_the_training_data_is_not_drift(up: Up) -> None:
    up.wait_for("deployed to abalone-endpoint", timeout=180)
    mark = len(up.lines)
    _send(up, _feature_rows(1000, seed=1))
    line = up.wait_for("Monitoring abalone-endpoint-data-quality: Completed", after=mark)
    assert "Violations" not in line and "drift" not in line
    assert len(up.executions()) == 1


def test_shifted_weights_drift_and_start_exactly_one_retraining_run(up: Up) -> None:
    up.wait_for("deployed to abalone-endpoint", timeout=180)
    mark = len(up.lines)
    _send(up, _feature_rows(1000, scale_weights=3, seed=2))

    report = up.wait_for("CompletedWithViolations", after=mark)
    assert all(f"{w} (baseline_drift_check)" in report for w in WEIGHTS), report
    up.wait_for("Drift: abalone-endpoint-data-drift ALARM", after=mark)
    up.wait_for("started: data drift", after=mark)
    time.sleep(2 * MONITOR_EVERY)  # later monitoring executions must not start more runs
    runs = up.executions()
    drift = [e for e in runs if up.input_of(e)["Trigger"]["Type"] == "drift"]
    assert len(drift) == 1, [up.input_of(e) for e in runs]
    trigger = up.input_of(drift[0])["Trigger"]
    assert trigger["Alarm"] == "abalone-endpoint-data-drift"
    assert "Threshold Crossed" in trigger["Reason"]
    # What the reviewer is told: the features, from the monitoring report of the alarm's hour.
    arn = drift[0]["executionArn"]
    up.wait_for(f"[{arn.rsplit(':', 1)[-1][-12:]}] Review:", after=mark)
    sfn = up.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    [asked] = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
        for e in events
        if e.get("taskScheduledEventDetails", {}).get("resource") == "invoke.waitForTaskToken"
    ]
    drifted = {
        v["feature_name"]
        for v in asked["trigger"]["Features"]
        if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drifted == set(WEIGHTS)


def test_a_new_upload_starts_exactly_one_run_and_other_objects_none(up: Up) -> None:
    s3 = up.client("s3")
    bucket = SETTINGS.bucket_for(up.client("sts").get_caller_identity()["Account"])
    before = len(up.executions())
    mark = len(up.lines)
    body = (PROJECT_ROOT / "data" / "abalone.csv").read_bytes()
    s3.put_object(Bucket=bucket, Key=f"{SETTINGS.pipeline_name}/elsewhere/new.csv", Body=body)
    s3.put_object(Bucket=bucket, Key=f"{SETTINGS.pipeline_name}/input/batch-2.csv", Body=body)

    up.wait_for("input/batch-2.csv", after=mark)
    time.sleep(1)
    runs = up.executions()
    assert len(runs) == before + 1
    assert up.input_of(runs[-1])["Trigger"]["Object"].endswith("/input/batch-2.csv")


def test_this_projects_own_cli_works_against_it_as_against_an_account(up: Up) -> None:
    """`mlops start` with the printed values: the deployed stack's state machine starts."""
    before = len(up.executions())
    mark = len(up.lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    credentials = up.session.get_credentials()
    env.update(
        AWS_ENDPOINT_URL=up.endpoint_url,
        AWS_ACCESS_KEY_ID=credentials.access_key,
        AWS_SECRET_ACCESS_KEY=credentials.secret_key,
        AWS_DEFAULT_REGION=up.session.region_name,
    )
    started = subprocess.run(
        [sys.executable, "-m", "mlops", "start", "--param", "NumRound=30"],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120,
    )  # fmt: skip

    assert started.returncode == 0, started.stderr
    assert "Execution: arn:aws:states:" in started.stdout
    up.wait_for("started: manual run", after=mark)
    assert len(up.executions()) == before + 1


def test_ctrl_c_stops_it_cleanly(up: Up) -> None:
    up.process.send_signal(signal.SIGINT)
    code = up.process.wait(60)
    assert up.error_reader is not None
    up.error_reader.join(10)  # it ends at the end of the pipe
    stderr = "".join(up.errors)
    with contextlib.suppress(queue.Empty):
        while True:
            up.lines.append(up.incoming.get(timeout=1))
    assert code == 130, stderr + "\n".join(up.lines[-25:])
    assert "Traceback" not in stderr, stderr
