"""A Processing step: inputs in, the container's entrypoint run here, outputs out.

Follows the CreateProcessingJob contract: each ProcessingInput's S3 data is copied to its
LocalPath and each ProcessingOutput's LocalPath exists before the entrypoint starts, the job's
configuration is in /opt/ml/config, each output is uploaded to its S3Uri after the entrypoint
exits 0, and PropertyFiles are read from the outputs afterwards. Container paths are those of
the job's own /opt/ml (containers.py), so a script may hard-code them.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from localaws.executor import s3files
from localaws.executor.containers import (
    Sandbox,
    host_python,
    job_environment,
    run_logged,
    write_header,
)
from localaws.executor.errors import StepFailed
from localaws.executor.expressions import render
from localaws.executor.jobs import Artifact, StepContext, StepOutcome, max_runtime, record_job

PROCESSING_ROOT = "/opt/ml/processing"
CONFIG_DIR = "/opt/ml/config"
CREATE = "CreateProcessingJob"
#: A processing job's one instance, as its resourceconfig.json names it.
HOST = "algo-1"


def run_processing(ctx: StepContext) -> StepOutcome:
    """Run one Processing step; raises StepFailed with a readable reason."""
    args = ctx.arguments
    app = args.get("AppSpecification") or {}
    entrypoint = app.get("ContainerEntrypoint") or []
    if not entrypoint:
        raise StepFailed(
            f"Step {ctx.name}: no AppSpecification.ContainerEntrypoint; running an image's "
            "built-in entrypoint needs the container, which the local executor does not use"
        )
    sandbox = Sandbox(ctx.work)
    inputs = [parse_input(ctx.name, item) for item in args.get("ProcessingInputs") or []]
    outputs = [
        parse_output(ctx.name, item)
        for item in (args.get("ProcessingOutputConfig") or {}).get("Outputs", [])
    ]
    request = {**args, "ProcessingJobName": ctx.job_name}
    arn = record_job(ctx.sagemaker, CREATE, request)

    command = [
        host_python(str(entrypoint[0]), ctx.python),
        *(sandbox.map_argument(render(a)) for a in entrypoint[1:]),
        *(sandbox.map_argument(render(a)) for a in app.get("ContainerArguments") or []),
    ]
    environment = {k: render(v) for k, v in (args.get("Environment") or {}).items()}
    write_header(
        ctx.log,
        f"{ctx.name} (Processing) job {ctx.job_name}",
        [
            f"image {app.get('ImageUri', '?')} is not pulled: the entrypoint runs on this host",
            f"command: {' '.join(command)}",
            f"cwd: {ctx.work}",
            *(f"input {name}: {uri} -> {path}" for name, uri, path in inputs),
            *(f"output {name}: {path} -> {uri}" for name, uri, path in outputs),
            *(f"env {k}={v}" for k, v in environment.items()),
        ],
    )
    for _, uri, path in inputs:
        s3files.download(ctx.objects, uri, sandbox.local(path))
    for _, _, path in outputs:
        sandbox.local(path).mkdir(parents=True, exist_ok=True)
    write_config(ctx, sandbox, request, arn)

    run_logged(
        command,
        env=job_environment(ctx.environment, environment),
        cwd=ctx.work,
        log=ctx.log,
        timeout=max_runtime(args, ctx.timeout),
        what=f"Step {ctx.name}: {_program(entrypoint)}",
        root=ctx.work,
    )

    artifacts = []
    for _, uri, path in outputs:
        s3files.upload_tree(ctx.objects, sandbox.local(path), uri)
        artifacts.append(Artifact(uri, sandbox.local(path)))
    files = read_property_files(ctx, {name: sandbox.local(path) for name, _, path in outputs})
    properties = {
        **request,
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "Completed",
        "PropertyFiles": files,
    }
    return StepOutcome(
        properties=properties,
        metadata={"ProcessingJob": {"Arn": arn}},
        artifacts=artifacts,
        job=(CREATE, request),
    )


def write_config(ctx: StepContext, sandbox: Sandbox, request: dict[str, Any], arn: str) -> None:
    """/opt/ml/config/processingjobconfig.json (the CreateProcessingJob request with the job's
    ARN) and resourceconfig.json (the hosts), as SageMaker Processing provides them: see
    https://docs.aws.amazon.com/sagemaker/latest/dg/build-your-own-processing-container.html"""
    accepted = ctx.sagemaker.meta.service_model.operation_model(CREATE).input_shape.members
    job = {"ProcessingJobArn": arn, **{k: v for k, v in request.items() if k in accepted}}
    folder = sandbox.local(CONFIG_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    documents = {
        "processingjobconfig.json": job,
        "resourceconfig.json": {"current_host": HOST, "hosts": [HOST]},
    }
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")


def read_property_files(ctx: StepContext, outputs: dict[str, Path]) -> dict[str, Any]:
    """Each PropertyFile (OutputName + FilePath) parsed as JSON, by PropertyFileName."""
    files: dict[str, Any] = {}
    for spec in ctx.spec.get("PropertyFiles") or []:
        name, output = spec.get("PropertyFileName"), spec.get("OutputName")
        relative = str(spec.get("FilePath", ""))
        if output not in outputs:
            raise StepFailed(f"Step {ctx.name}: property file {name} names unknown output {output}")
        parts = PurePosixPath(relative).parts
        if not parts or ".." in parts or PurePosixPath(relative).is_absolute():
            raise StepFailed(f"Step {ctx.name}: property file {name}: bad FilePath {relative!r}")
        path = outputs[output].joinpath(*parts)
        try:
            files[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StepFailed(
                f"Step {ctx.name}: property file {name}: the job wrote no {relative} "
                f"in output {output!r}"
            ) from None
        except (ValueError, OSError) as exc:
            raise StepFailed(
                f"Step {ctx.name}: property file {name}: {relative} is not JSON ({exc})"
            ) from None
    return files


def parse_input(step: str, item: dict[str, Any]) -> tuple[str, str, str]:
    """(InputName, S3Uri, LocalPath) of a ProcessingInput the local executor can download."""
    name = item.get("InputName", "?")
    s3 = item.get("S3Input")
    if not isinstance(s3, dict):
        raise StepFailed(f"Step {step}: input {name}: only S3Input is supported locally")
    if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise StepFailed(f"Step {step}: input {name}: S3DataType {s3['S3DataType']} unsupported")
    if s3.get("S3InputMode", "File") != "File":
        raise StepFailed(f"Step {step}: input {name}: S3InputMode {s3['S3InputMode']} unsupported")
    if s3.get("S3CompressionType", "None") != "None":
        raise StepFailed(f"Step {step}: input {name}: compressed inputs are unsupported")
    return name, render(s3.get("S3Uri")), str(s3.get("LocalPath", ""))


def parse_output(step: str, item: dict[str, Any]) -> tuple[str, str, str]:
    """(OutputName, S3Uri, LocalPath) of a ProcessingOutput."""
    name = item.get("OutputName", "?")
    s3 = item.get("S3Output")
    if not isinstance(s3, dict):
        raise StepFailed(f"Step {step}: output {name}: only S3Output is supported locally")
    return name, render(s3.get("S3Uri")), str(s3.get("LocalPath", ""))


def _program(entrypoint: list[Any]) -> str:
    return PurePosixPath(str(entrypoint[-1])).name
