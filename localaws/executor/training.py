"""A Training step: script mode as the SageMaker training toolkit starts user code, or the
built-in XGBoost algorithm (algorithm mode, `algorithms.py`).

Channels are copied to /opt/ml/input/data/<channel> and /opt/ml/input/config/*.json written.
Script mode unpacks `sagemaker_submit_directory` into /opt/ml/code and runs
`sagemaker_program` with the user hyperparameters as `--name value` and the SM_* environment
(a non-Python program through `/bin/sh -c ./program`, as the toolkit does); algorithm mode
runs the algorithm's `train`. /opt/ml/model leaves as model.tar.gz under
<S3OutputPath>/<job name>/output/, which becomes ModelArtifacts.S3ModelArtifacts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

from localaws.executor import algorithms, archives, repack, s3files
from localaws.executor.containers import (
    Sandbox,
    isolation_problem,
    job_environment,
    run_logged,
    write_header,
)
from localaws.executor.errors import StepFailed
from localaws.executor.expressions import render
from localaws.executor.jobs import Artifact, StepContext, StepOutcome, max_runtime, record_job

CREATE = "CreateTrainingJob"
HOST = "algo-1"
RESERVED_PREFIX = "sagemaker_"
MODEL_DIR = "/opt/ml/model"
INPUT_DIR = "/opt/ml/input"
OUTPUT_DIR = "/opt/ml/output"
CODE_DIR = "/opt/ml/code"


def decode_hyperparameter(value: str) -> Any:
    """The SDK JSON-encodes some values ('"train.py"'); the toolkit reads them as JSON if it can."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def command_line(hyperparameters: dict[str, Any]) -> list[str]:
    """`--name value` pairs in name order, values as the toolkit prints them."""
    arguments: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        if isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            text = "" if value is None else str(value)
        arguments += [f"--{name}" if len(name) > 1 else f"-{name}", text]
    return arguments


def run_training(ctx: StepContext) -> StepOutcome:
    """Run one Training step; raises StepFailed with a readable reason."""
    args = ctx.arguments
    encoded = {k: render(v) for k, v in (args.get("HyperParameters") or {}).items()}
    decoded = {k: decode_hyperparameter(v) for k, v in encoded.items()}
    image = str((args.get("AlgorithmSpecification") or {}).get("TrainingImage", "?"))
    algorithm_mode = not algorithms.is_script_mode(encoded)
    if algorithm_mode and not algorithms.is_xgboost(image):
        raise StepFailed(f"Step {ctx.name}: {algorithms.unsupported_image(image)}")
    program, submit = decoded.get("sagemaker_program"), decoded.get("sagemaker_submit_directory")
    if not algorithm_mode and (not program or not submit):
        raise StepFailed(
            f"Step {ctx.name}: script mode needs both hyperparameters sagemaker_program "
            "and sagemaker_submit_directory"
        )
    mode = (args.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
    channels = [_channel(ctx.name, item, mode) for item in args.get("InputDataConfig") or []]
    output_path = render((args.get("OutputDataConfig") or {}).get("S3OutputPath", ""))
    s3files.split_uri(output_path)
    request = {**args, "TrainingJobName": ctx.job_name, "HyperParameters": encoded}
    arn = record_job(ctx.sagemaker, CREATE, request)
    model_uri = f"{output_path.rstrip('/')}/{ctx.job_name}/output/model.tar.gz"

    sandbox = Sandbox(ctx.work)
    code, model, output_data = (
        sandbox.local(CODE_DIR),
        sandbox.local(MODEL_DIR),
        sandbox.local(f"{OUTPUT_DIR}/data"),
    )
    channel_dirs = {name: f"{INPUT_DIR}/data/{name}" for name, _ in channels}
    for name, uri in channels:
        s3files.download(ctx.objects, uri, sandbox.local(channel_dirs[name]))
    for folder in (model, output_data):
        folder.mkdir(parents=True, exist_ok=True)
    _write_config(sandbox, encoded, args)
    if algorithm_mode:
        code.mkdir(parents=True, exist_ok=True)
        command = [ctx.python, str(algorithms.XGBOOST_TRAIN)]
        environment = {
            **{k: render(v) for k, v in (args.get("Environment") or {}).items()},
            **_algorithm_environment(sandbox, channel_dirs),
        }
        what, started = f"Step {ctx.name}: the XGBoost algorithm", "the algorithm's train"
    else:
        _unpack_code(ctx, str(submit), code)
        script = s3files.safe_join(code, str(program))
        if not script.is_file():
            raise StepFailed(f"Step {ctx.name}: {program} is not in {submit}")
        user = {k: v for k, v in decoded.items() if not k.startswith(RESERVED_PREFIX)}
        command = _toolkit_command(ctx, script, str(program), command_line(user))
        environment = {
            **{k: render(v) for k, v in (args.get("Environment") or {}).items()},
            **_sm_environment(sandbox, channel_dirs, user, command, str(program), str(submit)),
        }
        if script.suffix != ".py":
            environment["PATH"] = f"{_python_shim(ctx)}{os.pathsep}{os.environ.get('PATH', '')}"
        what, started = f"Step {ctx.name}: {program}", f"code: {submit} -> {CODE_DIR}"
    write_header(
        ctx.log,
        f"{ctx.name} (Training) job {ctx.job_name}",
        [
            f"image {image} is not pulled: "
            + ("its algorithm runs on this host" if algorithm_mode else "the script runs here"),
            f"command: {' '.join(command)}",
            f"cwd: {code}",
            *(f"channel {name}: {uri} -> {channel_dirs[name]}" for name, uri in channels),
            started,
            f"model: {MODEL_DIR} -> {model_uri}",
            *(f"env {k}={v}" for k, v in sorted(environment.items())),
        ],
    )
    no_opt_ml = isolation_problem(ctx.work)
    if not algorithm_mode and no_opt_ml and repack.is_sdk_repack(str(program), code):
        # The SDK's launcher reads and writes fixed /opt/ml paths it cannot reach without
        # its own /opt/ml: its work is done here, on the sandbox, instead.
        repack.repack(sandbox, user, ctx.log, no_opt_ml)
    else:
        run_logged(
            command,
            env=job_environment(ctx.environment, environment),
            cwd=code,
            log=ctx.log,
            timeout=max_runtime(args, ctx.timeout),
            what=what,
        )

    archive = archives.pack(model, ctx.work / "model.tar.gz")
    s3files.upload_file(ctx.objects, archive, model_uri)
    artifacts = [Artifact(model_uri, archive)]
    if any(output_data.iterdir()):
        output_uri = f"{output_path.rstrip('/')}/{ctx.job_name}/output/output.tar.gz"
        packed = archives.pack(output_data, ctx.work / "output.tar.gz")
        s3files.upload_file(ctx.objects, packed, output_uri)
        artifacts.append(Artifact(output_uri, packed))
    metrics = (
        algorithms.final_metrics(ctx.log.read_text(encoding="utf-8", errors="replace"))
        if algorithm_mode
        else _metrics(args, ctx.log)
    )
    properties = {
        **request,
        "TrainingJobArn": arn,
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": metrics,
    }
    return StepOutcome(
        properties=properties,
        metadata={"TrainingJob": {"Arn": arn}},
        artifacts=artifacts,
        job=(CREATE, request),
    )


def _toolkit_command(
    ctx: StepContext, script: Path, program: str, arguments: list[str]
) -> list[str]:
    """The command the training toolkit builds for an entry point.

    sagemaker-training-toolkit (`process.py` ProcessRunner._create_command, `entry_point.py`
    install): a `.py` program runs with the interpreter; any other program is made executable
    and run as `/bin/sh -c "./<program> <quoted args>"` from /opt/ml/code.
    """
    if script.suffix == ".py":
        return [ctx.python, str(script), *arguments]
    script.chmod(0o755)
    return ["/bin/sh", "-c", f"./{shlex.quote(program)} {shlex.join(arguments)}".rstrip()]


def _python_shim(ctx: StepContext) -> Path:
    """A folder whose `python`/`python3` run the configured interpreter, for shell launchers."""
    folder = ctx.work / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        shim = folder / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(ctx.python)} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return folder


def _algorithm_environment(sandbox: Sandbox, channel_dirs: dict[str, str]) -> dict[str, str]:
    """The algorithm's container paths, mapped to the sandbox (see xgboost_algorithm.py)."""
    env = {
        "SM_MODEL_DIR": str(sandbox.local(MODEL_DIR)),
        "SM_INPUT_DATA_DIR": str(sandbox.local(f"{INPUT_DIR}/data")),
        "SM_INPUT_CONFIG_DIR": str(sandbox.local(f"{INPUT_DIR}/config")),
        "SM_OUTPUT_DIR": str(sandbox.local(OUTPUT_DIR)),
        "SM_OUTPUT_DATA_DIR": str(sandbox.local(f"{OUTPUT_DIR}/data")),
        "SM_CURRENT_HOST": HOST,
        "SM_HOSTS": json.dumps([HOST]),
    }
    for name, path in channel_dirs.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(sandbox.local(path))
    return env


def _channel(step: str, item: dict[str, Any], mode: str) -> tuple[str, str]:
    name = str(item.get("ChannelName", ""))
    if not re.fullmatch(r"[A-Za-z0-9\.\-_]+", name):
        raise StepFailed(f"Step {step}: bad channel name {name!r}")
    source = (item.get("DataSource") or {}).get("S3DataSource")
    if not isinstance(source, dict):
        raise StepFailed(f"Step {step}: channel {name}: only S3DataSource is supported locally")
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise StepFailed(f"Step {step}: channel {name}: S3DataType {source['S3DataType']}")
    if item.get("InputMode", mode) == "Pipe":
        raise StepFailed(f"Step {step}: channel {name}: Pipe input mode is unsupported locally")
    if item.get("CompressionType", "None") != "None":
        raise StepFailed(f"Step {step}: channel {name}: compressed channels are unsupported")
    return name, render(source.get("S3Uri"))


def _unpack_code(ctx: StepContext, submit: str, code: Path) -> None:
    """Download sourcedir.tar.gz and extract it, refusing unsafe members."""
    downloads = ctx.work / "sourcedir"
    files = s3files.download(ctx.objects, submit, downloads)
    archive = next((f for f in files if f.name.endswith((".tar.gz", ".tgz"))), None)
    if archive is None:
        raise StepFailed(f"Step {ctx.name}: {submit} is not a .tar.gz source directory")
    archives.extract(archive, code)


def _sm_environment(
    sandbox: Sandbox,
    channel_dirs: dict[str, str],
    user: dict[str, Any],
    command: list[str],
    program: str,
    submit: str,
) -> dict[str, str]:
    """The SM_* variables the training toolkit sets, pointing at the mapped folders."""
    env = {
        "SM_MODEL_DIR": str(sandbox.local(MODEL_DIR)),
        "SM_INPUT_DIR": str(sandbox.local(INPUT_DIR)),
        "SM_INPUT_DATA_DIR": str(sandbox.local(f"{INPUT_DIR}/data")),
        "SM_INPUT_CONFIG_DIR": str(sandbox.local(f"{INPUT_DIR}/config")),
        "SM_OUTPUT_DIR": str(sandbox.local(OUTPUT_DIR)),
        "SM_OUTPUT_DATA_DIR": str(sandbox.local(f"{OUTPUT_DIR}/data")),
        "SM_CHANNELS": json.dumps(sorted(channel_dirs)),
        "SM_HPS": json.dumps(user, sort_keys=True),
        "SM_USER_ARGS": json.dumps(command_line(user)),
        "SM_CURRENT_HOST": HOST,
        "SM_HOSTS": json.dumps([HOST]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_USER_ENTRY_POINT": str(program),
        "SM_MODULE_NAME": PurePosixPath(str(program)).stem,
        "SM_MODULE_DIR": str(submit),
    }
    for name, path in channel_dirs.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(sandbox.local(path))
    for name, value in user.items():
        env[f"SM_HP_{name.upper()}"] = toolkit_env_value(value)
    return env


def toolkit_env_value(value: Any) -> str:
    """A value as the toolkit's `mapping.to_env_vars` writes it: None as "", a str as is,
    anything else compact JSON. (The SDK's repack launcher relies on None being "".)"""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def input_data_config(args: dict[str, Any]) -> dict[str, dict[str, str]]:
    """inputdataconfig.json as SageMaker writes it in the container: per channel its
    TrainingInputMode, S3DistributionType, RecordWrapperType and, if given, ContentType.

    AWS, "How Amazon SageMaker Provides Training Information" (your-algorithms-training-algo-
    running-container.html#...-inputdataconfig); sagemaker-training-toolkit
    `environment.read_input_data_config` documents the same keys.
    """
    mode = (args.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
    channels: dict[str, dict[str, str]] = {}
    for item in args.get("InputDataConfig") or []:
        source = (item.get("DataSource") or {}).get("S3DataSource") or {}
        channel = {
            "TrainingInputMode": str(item.get("InputMode") or mode),
            "S3DistributionType": str(source.get("S3DataDistributionType") or "FullyReplicated"),
            "RecordWrapperType": str(item.get("RecordWrapperType") or "None"),
        }
        if item.get("ContentType"):
            channel["ContentType"] = render(item["ContentType"])
        channels[str(item["ChannelName"])] = channel
    return channels


def resource_config(args: dict[str, Any]) -> dict[str, Any]:
    """resourceconfig.json of the one host that runs here, as SageMaker writes it.

    AWS, "Distributed training configuration" (your-algorithms-training-algo-running-
    container.html#...-dist-training); sagemaker-training-toolkit `environment.py` reads
    current_host, hosts, current_instance_type, current_group_name, instance_groups and
    network_interface_name (its defaults: "local", "homogeneousCluster", "eth0"). A
    homogeneous cluster is the group SageMaker calls homogeneousCluster. Local runs are one
    host, so the lists name algo-1 only: a script waiting for peers would wait forever.
    """
    resources = args.get("ResourceConfig") or {}
    groups = resources.get("InstanceGroups") or []
    group = groups[0] if groups else {}
    name = str(group.get("InstanceGroupName") or "homogeneousCluster")
    instance_type = render(group.get("InstanceType") or resources.get("InstanceType") or "local")
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": name,
        "hosts": [HOST],
        "instance_groups": [
            {"instance_group_name": name, "instance_type": instance_type, "hosts": [HOST]}
        ],
        "network_interface_name": "eth0",
    }


def _write_config(sandbox: Sandbox, hyperparameters: dict[str, str], args: dict[str, Any]) -> None:
    """/opt/ml/input/config/*.json, which toolkits and scripts read at these fixed paths."""
    config = sandbox.local(f"{INPUT_DIR}/config")
    config.mkdir(parents=True, exist_ok=True)
    documents = {
        "hyperparameters.json": hyperparameters,
        "inputdataconfig.json": input_data_config(args),
        "resourceconfig.json": resource_config(args),
    }
    for name, document in documents.items():
        (config / name).write_text(json.dumps(document, indent=2), encoding="utf-8")


def _metrics(args: dict[str, Any], log: Path) -> list[dict[str, Any]]:
    """FinalMetricDataList: the last match of each MetricDefinitions regex in the job's log."""
    definitions = (args.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    if not definitions:
        return []
    text = log.read_text(encoding="utf-8", errors="replace")
    metrics = []
    for definition in definitions:
        try:
            matches = re.findall(str(definition.get("Regex", "")), text)
        except re.error:
            continue
        for match in reversed(matches):
            value = match[0] if isinstance(match, tuple) else match
            try:
                metrics.append({"MetricName": definition.get("Name"), "Value": float(value)})
                break
            except ValueError:
                continue
    return metrics
