"""The champion of a local run: the model the last run deployed, carried into a fresh account.

On AWS the pipeline's FindChampion step finds the model serving today in the account itself
(the endpoint's, else the latest Approved package). Every `mlops run` starts a fresh local
AWS, so before its pipeline starts, the run gives that account the registry state the runs
folder remembers: the newest earlier run that deployed a model has its archive uploaded where
it was trained to, and registered as an Approved package of the group, with its evaluation as
the package's model-quality report. FindChampion then finds it the way it would on AWS (as
"the group's latest Approved package": the endpoint itself is not restored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.s3 import split_s3_uri
from core.settings import Settings
from mlops.history import PastRun, past_runs
from pipelines.names import EVALUATION_FILE

#: The archive and evaluation a run folder keeps (mlops/run.py writes them).
MODEL_ARCHIVE = "model.tar.gz"
CSV = "text/csv"


@dataclass(frozen=True)
class Champion:
    """The run whose model is the champion, and the package it was registered as here."""

    run_id: str
    model_package_arn: str
    model_data_url: str


def last_deployed(runs_dir: Path) -> PastRun | None:
    """The newest run that deployed its model and kept its archive, if any."""
    if not runs_dir.is_dir():
        return None
    for run in reversed(list(past_runs(runs_dir))):
        model = run.field("model") or {}
        if (
            run.field("status") == "Succeeded"
            and run.field("decision") == "approved"
            and run.field("endpoint_status") == "InService"
            and isinstance(model, dict)
            and model.get("model_data_url")
            and (run.folder / MODEL_ARCHIVE).is_file()
        ):
            return run
    return None


def restore_champion(
    sagemaker: Any, s3: Any, settings: Settings, bucket: str, runs_dir: Path
) -> Champion | None:
    """Register the last deployed run's model as Approved in the fresh local account."""
    run = last_deployed(runs_dir)
    if run is None:
        return None
    model = run.field("model")
    _, key = split_s3_uri(model["model_data_url"])
    s3.upload_file(str(run.folder / MODEL_ARCHIVE), bucket, key)
    model_data_url = f"s3://{bucket}/{key}"
    evaluation = run.folder / EVALUATION_FILE
    metrics: dict[str, Any] = {}
    if evaluation.is_file():
        report_key = settings.prefix("champion", run.run_id, EVALUATION_FILE)
        s3.upload_file(str(evaluation), bucket, report_key)
        metrics = {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{bucket}/{report_key}",
                }
            }
        }
    group = settings.model_package_group
    existing = sagemaker.list_model_package_groups(NameContains=group).get(
        "ModelPackageGroupSummaryList", []
    )
    if not any(g["ModelPackageGroupName"] == group for g in existing):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    created = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"the model of run {run.run_id}, deployed then",
        InferenceSpecification={
            "Containers": [{"Image": model.get("image") or "", "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": [CSV],
            "SupportedResponseMIMETypes": [CSV],
        },
        ModelApprovalStatus="Approved",
        ModelMetrics=metrics,
        CustomerMetadataProperties={"mlops:run": run.run_id},
    )
    return Champion(run.run_id, created["ModelPackageArn"], model_data_url)


def read_comparison(text: str | bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
