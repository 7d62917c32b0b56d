"""`mlops run`: the whole job on this machine, against the embedded local AWS.

A run writes `runs/<run-id>/` atomically: it is assembled in a hidden folder and renamed into
place at the end, so a folder that exists is complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops import pipeline_run
from mlops.aws import Target, connect
from mlops.definition import cached_definition, default_cache_dir
from mlops.errors import UsageError
from mlops.files import write_atomic
from mlops.params import parse_params
from mlops.progress import Progress, metric_line, summary_table
from mlops.settings import Settings

EVALUATE_STEP = "Evaluate"
TRAIN_STEP = "Train"


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for, checked before anything starts."""

    data: Path
    params: list[str]
    runs_dir: Path
    run_id: str


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{now}-{secrets.token_hex(3)}"


def check_data(path: Path) -> Path:
    """Reject a missing or unreadable data file before starting (the content is Preprocess's)."""
    if not path.is_file():
        raise UsageError(f"--data {path}: no such file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"--data {path}: not readable")
    return path


def run_pipeline_only(request: RunRequest, settings: Settings, out=sys.stdout) -> int:
    """Run the SageMaker pipeline alone; exit 0 when it succeeded, 1 when it failed."""
    progress = Progress()
    staging = _staging_dir(request)
    try:
        return _run_pipeline_only(request, settings, progress, staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the run was published


def _run_pipeline_only(
    request: RunRequest, settings: Settings, progress: Progress, staging: Path, out
) -> int:
    from localaws.executor import LocalPipelineExecutor

    with tempfile.TemporaryDirectory(prefix="mlops-work-") as work:
        executor = LocalPipelineExecutor(
            workspace=Path(work), cache_dir=request.runs_dir / ".cache"
        )
        with connect(settings.region, local=True, executor=executor) as target:
            definition_text = cached_definition(settings, target, default_cache_dir())
            definition = json.loads(definition_text)
            overrides = parse_params(request.params, definition)
            outcome = _execute(target, settings, request, definition_text, overrides, progress)
            summary = _collect(target, settings, outcome, definition, overrides, staging)
        _copy_logs(Path(work), outcome.execution_arn, staging / "logs")
    summary["run_id"] = request.run_id
    write_atomic(staging / "definition.json", definition_text + "\n")
    write_atomic(staging / "summary.json", json.dumps(summary, indent=2) + "\n")
    run_dir = _publish(staging, request)
    print(_closing(summary, definition, run_dir), file=out)
    return 0 if summary["status"] == "Succeeded" else 1


def _execute(
    target: Target,
    settings: Settings,
    request: RunRequest,
    definition_text: str,
    overrides: dict[str, str],
    progress: Progress,
) -> pipeline_run.PipelineOutcome:
    sagemaker, s3 = target.client("sagemaker"), target.client("s3")
    bucket = settings.bucket_for(target.account_id)
    parameters = {
        "InputDataUrl": pipeline_run.upload_data(s3, bucket, settings, request.data),
        **overrides,
    }
    pipeline_run.upsert_pipeline(sagemaker, settings, definition_text)
    types = pipeline_run.step_types(json.loads(definition_text))
    progress.plan(
        name for name, kind in types.items() if kind != "Fail" and kind != "RegisterModel"
    )
    arn = pipeline_run.start_execution(sagemaker, settings, request.run_id, parameters)
    return pipeline_run.watch(
        sagemaker,
        arn,
        lambda steps: progress.update(pipeline_run.step_report(s, types) for s in steps),
    )


def _collect(
    target: Target,
    settings: Settings,
    outcome: pipeline_run.PipelineOutcome,
    definition: dict[str, Any],
    overrides: dict[str, str],
    staging: Path,
) -> dict[str, Any]:
    """Fetch the artifacts into the staging folder and build summary.json."""
    sagemaker, s3 = target.client("sagemaker"), target.client("s3")
    metrics = _fetch_evaluation(sagemaker, s3, outcome, staging)
    _fetch_model(sagemaker, s3, outcome, staging)
    package_arn, approval_status = _registered_package(sagemaker, outcome)
    types = pipeline_run.step_types(definition)
    return {
        "run_id": None,
        "status": "Succeeded" if outcome.status == "Succeeded" else "Failed",
        "pipeline_execution_arn": outcome.execution_arn,
        "failure_reason": outcome.failure_reason or None,
        "steps": [vars(report) for report in outcome.reports(types)],
        "metrics": metrics,
        "model_package_arn": package_arn,
        "model_approval_status": approval_status,
        "parameters": overrides,
    }


def _processing_output(sagemaker: Any, step: dict[str, Any] | None, name: str) -> str | None:
    """The S3 URI of a processing step's named output, from its processing job."""
    arn = ((step or {}).get("Metadata") or {}).get("ProcessingJob", {}).get("Arn")
    if not arn:
        return None
    job = sagemaker.describe_processing_job(ProcessingJobName=arn.rsplit("/", 1)[1])
    for output in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if output["OutputName"] == name:
            return output["S3Output"]["S3Uri"]
    return None


def _fetch_evaluation(
    sagemaker: Any, s3: Any, outcome: pipeline_run.PipelineOutcome, staging: Path
) -> dict[str, Any] | None:
    from pipelines.steps import EVALUATION, EVALUATION_FILE

    uri = _processing_output(sagemaker, outcome.step(EVALUATE_STEP), EVALUATION)
    if uri is None:
        return None
    bucket, key = pipeline_run.split_s3_uri(f"{uri.rstrip('/')}/{EVALUATION_FILE}")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    write_atomic(staging / EVALUATION_FILE, body)
    return json.loads(body)


def _fetch_model(
    sagemaker: Any, s3: Any, outcome: pipeline_run.PipelineOutcome, staging: Path
) -> None:
    arn = ((outcome.step(TRAIN_STEP) or {}).get("Metadata") or {}).get("TrainingJob", {}).get("Arn")
    if not arn:
        return
    job = sagemaker.describe_training_job(TrainingJobName=arn.rsplit("/", 1)[1])
    uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if uri:
        bucket, key = pipeline_run.split_s3_uri(uri)
        s3.download_file(bucket, key, str(staging / "model.tar.gz"))
        with tarfile.open(staging / "model.tar.gz") as archive:  # fail loudly if corrupt
            archive.getnames()


def _registered_package(
    sagemaker: Any, outcome: pipeline_run.PipelineOutcome
) -> tuple[str | None, str | None]:
    for step in outcome.steps:
        arn = ((step.get("Metadata") or {}).get("RegisterModel") or {}).get("Arn")
        if arn:
            package = sagemaker.describe_model_package(ModelPackageName=arn)
            return arn, package["ModelApprovalStatus"]
    return None, None


def _copy_logs(workspace: Path, execution_arn: str, logs: Path) -> None:
    source = workspace / execution_arn.rsplit("/", 1)[1] / "logs"
    if source.is_dir():
        shutil.copytree(source, logs, dirs_exist_ok=True)


def _staging_dir(request: RunRequest) -> Path:
    request.runs_dir.mkdir(parents=True, exist_ok=True)
    staging = request.runs_dir / f".{request.run_id}.partial"
    staging.mkdir()
    return staging


def _publish(staging: Path, request: RunRequest) -> Path:
    run_dir = request.runs_dir / request.run_id
    staging.rename(run_dir)
    return run_dir


def _closing(summary: dict[str, Any], definition: dict[str, Any], run_dir: Path) -> str:
    threshold = next(
        (p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "MseThreshold"), None
    )
    threshold = float(summary["parameters"].get("MseThreshold", threshold))
    from mlops.progress import StepReport

    lines = ["", summary_table(StepReport(**s) for s in summary["steps"]), ""]
    lines.append(
        f"Pipeline {summary['status'].lower()}: {metric_line(summary['metrics'], threshold)}"
    )
    if summary["failure_reason"]:
        lines.append(f"Reason: {summary['failure_reason']}")
    if summary["model_package_arn"]:
        lines.append(
            f"Model package: {summary['model_package_arn']} ({summary['model_approval_status']})"
        )
    lines.append(f"Run folder: {run_dir}")
    return "\n".join(lines)
