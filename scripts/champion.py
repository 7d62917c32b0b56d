"""Find the champion: the model the new one must be compared with, and write champion.json.

Runs as the pipeline's FindChampion Processing step (XGBoost 3.0-5 container, which has
boto3; the job's role answers the calls) before Evaluate, never from cache (what is deployed
changes between runs):

    python scripts/champion.py --endpoint-name E --model-package-group G --output-dir out/

The champion is, in this order:

1. the model the endpoint serves (DescribeEndpoint -> DescribeEndpointConfig -> DescribeModel,
   through its model package when it was created from one), while the endpoint is serving;
2. else the model package group's latest Approved package (ListModelPackages);
3. else none: the first model has nothing to beat.

champion.json holds strings only, "none" for what does not apply, because Evaluate gets its
fields as job arguments (JsonGet), which SageMaker refuses empty:

    {"source": "endpoint" | "approved-package" | "none", "model_data_url": "s3://..",
     "model_package_arn": "arn:..", "endpoint_name": ".."}

An AWS error other than "not found" fails the step with one line: comparing with the wrong
model silently would be worse than not running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

NONE = "none"
CHAMPION_FILE = "champion.json"
#: Endpoint states in which it serves a model (DescribeEndpoint EndpointStatus).
SERVING = {"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="champion.py", description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--model-package-group", required=True)
    parser.add_argument("--output-dir", default="/opt/ml/processing/champion")
    return parser.parse_args(argv)


def _missing(error: ClientError) -> bool:
    """SageMaker's answer for an endpoint or group that does not exist."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code == "ResourceNotFound" or (
        code == "ValidationException" and "not find" in message.lower()
    )


def _package_model_url(sagemaker: Any, package: str) -> str:
    described = sagemaker.describe_model_package(ModelPackageName=package)
    containers = described.get("InferenceSpecification", {}).get("Containers") or [{}]
    return str(containers[0].get("ModelDataUrl") or NONE)


def served_model(sagemaker: Any, endpoint: str) -> dict[str, str] | None:
    """The endpoint's model when it is serving, else None."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as error:
        if _missing(error):
            return None
        raise
    if described.get("EndpointStatus") not in SERVING:
        return None
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variants = config.get("ProductionVariants") or []
    if not variants:
        return None
    variant = max(variants, key=lambda v: float(v.get("InitialVariantWeight", 1.0)))
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = container.get("ModelPackageName")
    url = _package_model_url(sagemaker, package) if package else container.get("ModelDataUrl")
    if not url or url == NONE:
        return None
    return {
        "source": "endpoint",
        "model_data_url": str(url),
        "model_package_arn": str(package or NONE),
        "endpoint_name": endpoint,
    }


def latest_approved(sagemaker: Any, group: str) -> dict[str, str] | None:
    """The group's newest Approved package, else None."""
    try:
        listed = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as error:
        if _missing(error):
            return None
        raise
    packages = listed.get("ModelPackageSummaryList") or []
    if not packages:
        return None
    arn = packages[0]["ModelPackageArn"]
    url = _package_model_url(sagemaker, arn)
    if url == NONE:
        return None
    return {
        "source": "approved-package",
        "model_data_url": url,
        "model_package_arn": arn,
        "endpoint_name": NONE,
    }


def find_champion(sagemaker: Any, endpoint: str, group: str) -> dict[str, str]:
    return (
        served_model(sagemaker, endpoint)
        or latest_approved(sagemaker, group)
        or {
            "source": NONE,
            "model_data_url": NONE,
            "model_package_arn": NONE,
            "endpoint_name": NONE,
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        sagemaker = boto3.client("sagemaker", region_name=region)
        champion = find_champion(sagemaker, args.endpoint_name, args.model_package_group)
    except (ClientError, BotoCoreError) as error:
        print(f"champion.py: error: looking up the champion failed: {error}", file=sys.stderr)
        return 1
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / CHAMPION_FILE).write_text(json.dumps(champion, indent=2) + "\n", encoding="utf-8")
    if champion["source"] == NONE:
        print("champion.py: no champion (nothing deployed, nothing approved)")
    else:
        print(f"champion.py: champion from the {champion['source']}: {champion['model_data_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
