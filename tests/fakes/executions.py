"""Hand-written pipeline definitions run through a local AWS, for the executor's own tests.

A definition here is what SageMaker would receive (the SDK's shapes: CreateProcessingJob and
CreateTrainingJob arguments), small enough to read, with job scripts given as text.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localaws import local_aws
from localaws.executor import LocalPipelineExecutor

BUCKET = "executor-tests"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@dataclass
class Finished:
    """One execution as the SageMaker API reports it, and the bucket it left behind."""

    arn: str
    status: str
    reason: str | None
    steps: list[dict[str, Any]]
    folder: Path
    objects: dict[str, bytes] = field(default_factory=dict)

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["StepName"] == name)


def processing_step(
    name: str,
    script: str,
    *,
    inputs: Mapping[str, tuple[Any, str]] | None = None,
    outputs: Mapping[str, str] | None = None,
    arguments: list[Any] | None = None,
    depends_on: list[str] | None = None,
) -> dict[str, Any]:
    """A ProcessingStep as the SDK writes it: the code arrives as an input under
    /opt/ml/processing/input/code, inputs are {name: (S3Uri, LocalPath)}, outputs
    {name: LocalPath} uploaded under s3://BUCKET/<step>/<name>."""
    code = {
        "InputName": "code",
        "AppManaged": False,
        "S3Input": {
            "S3Uri": f"s3://{BUCKET}/code/{name}/{script}",
            "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }
    spec: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
                **({"ContainerArguments": arguments} if arguments else {}),
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {
                    "InputName": input_name,
                    "AppManaged": False,
                    "S3Input": {**code["S3Input"], "S3Uri": uri, "LocalPath": local},
                }
                for input_name, (uri, local) in (inputs or {}).items()
            ]
            + [code],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": output,
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/{name}/{output}",
                            "LocalPath": local,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for output, local in (outputs or {}).items()
                ]
            },
        },
    }
    if depends_on:
        spec["DependsOn"] = depends_on
    return spec


def training_step(name: str, program: str, channels: Mapping[str, Any]) -> dict[str, Any]:
    """A script-mode TrainingStep: `program` from s3://BUCKET/code/<name>/sourcedir.tar.gz."""
    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{name}/model"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "text/csv",
                }
                for channel, uri in channels.items()
            ],
            "HyperParameters": {
                "sagemaker_program": json.dumps(program),
                "sagemaker_submit_directory": json.dumps(
                    f"s3://{BUCKET}/code/{name}/sourcedir.tar.gz"
                ),
            },
        },
    }


def sourcedir(files: Mapping[str, str]) -> bytes:
    """sourcedir.tar.gz as the SDK packs a training job's code."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            body = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def run_definition(
    workspace: Path,
    definition: dict[str, Any],
    files: Mapping[str, bytes],
    *,
    parallelism: int | None = None,
    max_parallel: int | None = None,
    timeout: float = 120.0,
) -> Finished:
    """Put `files` ({key: body}) in BUCKET, run `definition` in a new local AWS, wait for it."""
    executor = LocalPipelineExecutor(workspace, None, max_parallel=max_parallel)
    with local_aws(executor) as aws:
        sagemaker, s3 = aws.client("sagemaker"), aws.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for key, body in files.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        config = (
            {"ParallelismConfiguration": {"MaxParallelExecutionSteps": parallelism}}
            if parallelism
            else {}
        )
        sagemaker.create_pipeline(
            PipelineName="executor-test",
            PipelineDefinition=json.dumps(definition),
            RoleArn=ROLE,
        )
        arn = sagemaker.start_pipeline_execution(PipelineName="executor-test", **config)[
            "PipelineExecutionArn"
        ]
        deadline = time.monotonic() + timeout
        while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline, f"the execution did not finish in {timeout} s"
            time.sleep(0.05)
        steps = sagemaker.list_pipeline_execution_steps(
            PipelineExecutionArn=arn, SortOrder="Ascending"
        )["PipelineExecutionSteps"]
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        objects = {
            item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for item in listed
        }
    return Finished(
        arn,
        described["PipelineExecutionStatus"],
        described.get("FailureReason"),
        steps,
        workspace / arn.rsplit("/", 1)[1],
        objects,
    )
