"""A model package registered as the pipeline registers one: with its champion comparison and
the evaluation's pictures beside it in S3, drawn by scripts/evaluate.py's own code."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from core.contracts import PACKAGE_COMPARISON, PACKAGE_PICTURES, PICTURES
from fakes.job_scripts import load_script
from pipelines.names import MODEL_FEATURES

CHAMPION_PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone-models/1"
#: A comparison as scripts/evaluate.py writes it: the challenger better on mse, worse on r2.
COMPARISON = {
    "champion": {
        "source": "endpoint",
        "model_data_url": "s3://b/old/model.tar.gz",
        "model_package_arn": CHAMPION_PACKAGE,
    },
    "comparable": True,
    "reason": "",
    "metrics": {
        "mse": {
            "challenger": 4.5,
            "champion": 4.75,
            "difference": -0.25,
            "better": "challenger",
            "lower_is_better": True,
        },
        "r2": {
            "challenger": 0.55,
            "champion": 0.56,
            "difference": -0.01,
            "better": "champion",
            "lower_is_better": False,
        },
    },
    "mse_increase": -0.25,
    "test_rows": 628,
}


def draw(folder: Path, rows: int = 628) -> dict[str, Path]:
    """The three pictures for a challenger and a champion on `rows` test rows."""
    rng = np.random.default_rng(0)
    y = rng.integers(1, 29, rows).astype(float)
    models = {
        name: (
            y + rng.normal(0, 2.2, rows),
            dict(zip(MODEL_FEATURES, rng.random(len(MODEL_FEATURES)), strict=True)),
        )
        for name in ("challenger", "champion")
    }
    load_script("evaluate").draw_pictures(folder, y, models, list(MODEL_FEATURES))
    return {name: folder / file for name, file in PICTURES.items()}


def register(
    aws: Any,
    group: str,
    bucket: str,
    prefix: str,
    comparison: dict[str, Any] | None = None,
    replace: dict[str, bytes] | None = None,
) -> str:
    """A PendingManualApproval package of `group` naming its comparison and pictures, stored
    under s3://bucket/prefix/; `replace` swaps a picture file's bytes (name -> bytes)."""
    s3, sagemaker = aws.client("s3"), aws.client("sagemaker")
    with tempfile.TemporaryDirectory() as folder:
        for name, path in draw(Path(folder)).items():
            body = (replace or {}).get(name, path.read_bytes())
            s3.put_object(Bucket=bucket, Key=f"{prefix}/pictures/{path.name}", Body=body)
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}/comparison.json",
        Body=json.dumps(COMPARISON if comparison is None else comparison),
    )
    groups = sagemaker.list_model_package_groups(NameContains=group)
    if not any(g["ModelPackageGroupName"] == group for g in groups["ModelPackageGroupSummaryList"]):
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": "x", "ModelDataUrl": f"s3://{bucket}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={
            PACKAGE_COMPARISON: f"s3://{bucket}/{prefix}/comparison.json",
            PACKAGE_PICTURES: f"s3://{bucket}/{prefix}/pictures",
        },
    )["ModelPackageArn"]
