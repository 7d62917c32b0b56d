"""`mlops run`: the whole job on this machine, against the embedded local AWS.

With `--pipeline-only` it runs the SageMaker pipeline alone; otherwise the state machine runs
it, asks for approval through the real approval service (review page on 127.0.0.1, Slack and
email really sent to local stand-ins) and deploys. A run writes `runs/<run-id>/` atomically:
it is assembled in a hidden folder and renamed into place at the end, so a folder that exists
is complete. An interrupted run (Ctrl-C, SIGTERM) removes its hidden folders; one killed
outright leaves them, and the next run removes them (their names carry the process id).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import os
import secrets
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from clients import sagemaker as sm
from clients import stepfunctions as sfn_client
from clients.s3 import read_object, split_s3_uri
from clients.session import Target, local_account
from core import contracts
from core.errors import UsageError
from core.files import owner_tag, remove_stale, write_atomic
from core.settings import Settings
from localaws import LocalAWS
from mlops import pipeline_run
from mlops.builds import (
    ASL_FILE,
    DEFINITION_FILE,
    cached_build,
    default_cache_dir,
    remove_stale_builds,
)
from mlops.champion import read_comparison, restore_champion
from mlops.cost import run_cost
from mlops.follow import ApprovalOpened, ExecutionFollower, phase_times
from mlops.history import REPORT, champion_line
from mlops.params import parse_params
from mlops.progress import Progress, StepReport, metric_line, summary_table
from mlops.report import write_report
from pipelines.names import (
    BASELINE_STEP,
    COMPARISON_FILE,
    EVALUATE_STEP,
    EVALUATION,
    EVALUATION_FILE,
    PICTURES_FOLDER,
    TRAIN_STEP,
)

if TYPE_CHECKING:
    from mlops.inputs import Input
    from mlops.local_workflow import LocalWorkflow
    from mlops.user_pipeline import UserRequest

APPROVE_MODES = ("wait", "auto", "reject")
#: The workflow stack's template, as `mlops template` prints it.
TEMPLATE_FILE = "template.json"
#: Local Wait states poll every second (Wait takes whole seconds); AWS defaults to 60.
LOCAL_POLL_SECONDS = 1
FOLLOW_INTERVAL = 0.2
#: The longest a local pipeline watch waits between polls; changes wake it at once.
LOCAL_WATCH_SECONDS = 2.0
#: The longest approval timeout that can fire. A Task's TimeoutSeconds (here
#: TimeoutSecondsPath) is a positive integer of at most 99999999 (its default; ASL "Task
#: workflow state", https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html), but
#: a Standard workflow execution lasts at most one year (Step Functions service quotas,
#: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html): a longer
#: timeout would end the whole execution in States.Timeout instead of rejecting the model.
MAX_APPROVAL_TIMEOUT = 365 * 24 * 3600


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for, checked before anything starts."""

    data: Path
    params: list[str]
    runs_dir: Path
    run_id: str
    pipeline_only: bool = False
    approve: str = "wait"
    approval_timeout: int = 3600
    #: A user's pipeline (--module-name) instead of the project's, and its --input files.
    user: UserRequest | None = None
    inputs: tuple[Input, ...] = ()


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


def check_runs_dir(path: Path) -> Path:
    """Reject a runs folder the run could not write, before anything starts.

    The folder need not exist yet: then the nearest existing parent must be a writable
    folder. os.access reports a read-only file system (EROFS) as not writable too.
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # dangling
            raise UsageError(f"--runs-dir {path}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f" ({existing} is a file)"
        raise UsageError(f"--runs-dir {path}: expected a folder, found a file{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing} is not)"
        raise UsageError(f"--runs-dir {path}: expected a writable folder{where}")
    return path


def check_approval_timeout(seconds: int) -> int:
    """Whole seconds that Step Functions can wait on (see MAX_APPROVAL_TIMEOUT)."""
    if not 1 <= seconds <= MAX_APPROVAL_TIMEOUT:
        raise UsageError(
            f"--approval-timeout {seconds}: expected whole seconds from 1 to "
            f"{MAX_APPROVAL_TIMEOUT} (one year, the longest a Step Functions execution runs)"
        )
    return seconds


def remove_leftovers(runs_dir: Path, cache_dir: Path) -> list[Path]:
    """Remove the staging folders of runs whose process is gone (killed, not interrupted).

    An interrupted run (Ctrl-C, SIGTERM) removes its own; one killed outright cannot. Each
    folder's name carries its process id (core.files.remove_stale), so concurrent runs keep
    theirs.
    """
    return remove_stale(runs_dir) + remove_stale_builds(cache_dir)


def run(request: RunRequest, settings: Settings, out: TextIO | None = None) -> int:
    """Run locally; exit 0 when the run succeeded, 1 when it failed."""
    out = out or sys.stdout
    started = time.perf_counter()
    request.runs_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(request.runs_dir, default_cache_dir())
    staging = request.runs_dir / f".{request.run_id}.{owner_tag()}.partial"
    staging.mkdir()
    try:
        build_and_run = _run if request.user is None else _run_user
        summary = build_and_run(request, settings, staging, out, started)
        write_report(staging)  # from the folder's files alone; its links are relative
        run_dir = request.runs_dir / request.run_id
        staging.rename(run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the run was published
    print(_closing(summary, run_dir), file=out)
    return 0 if summary["status"] == "Succeeded" else 1


def _run(
    request: RunRequest, settings: Settings, staging: Path, out: TextIO, started: float
) -> dict[str, Any]:
    from localaws.executor import LocalPipelineExecutor

    progress = Progress()
    # Beside the step cache, so cached outputs are hard links rather than copies.
    with (
        tempfile.TemporaryDirectory(
            prefix=f".work-{owner_tag()}-", dir=request.runs_dir, ignore_cleanup_errors=True
        ) as work,
        # Hashing and storing the data spend most of their time reading the file and in
        # hashlib, which release the GIL: they run while the local AWS starts and the
        # pipeline is upserted.
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="data") as background,
    ):
        data_key = background.submit(pipeline_run.data_key, settings, request.data)
        executor = LocalPipelineExecutor(
            workspace=Path(work), cache_dir=request.runs_dir / ".cache"
        )
        with local_account(settings.region, executor) as target:
            local = _local(target)
            build = cached_build(settings, target, default_cache_dir())  # makes the bucket
            definition = json.loads(build.definition)
            overrides = parse_params(request.params, definition)
            bucket = settings.bucket_for(target.account_id)
            uploaded = background.submit(
                lambda: local.upload(request.data, bucket, data_key.result())
            )
            sagemaker = target.client("sagemaker")
            sm.upsert_pipeline(
                sagemaker,
                settings.pipeline_name,
                settings.role_arn,
                build.definition,
                settings.project_tags,
            )
            types = pipeline_run.step_types(definition)
            progress.plan(name for name, kind in types.items() if kind not in _BRANCH_TYPES)
            threshold = float(_value(definition, overrides, "MseThreshold"))
            uploaded.result()
            champion = restore_champion(
                sagemaker, target.client("s3"), settings, bucket, request.runs_dir
            )
            parameters = {"InputDataUrl": f"s3://{bucket}/{data_key.result()}", **overrides}
            outcome, workflow_summary = _execute(
                target,
                settings,
                request,
                build.asl,
                parameters,
                threshold,
                types,
                progress,
                staging,
                out,
                started,
            )
            gate = {
                "metric": "mse",
                "threshold": threshold,
                "champion_mse_tolerance": float(
                    _value(definition, overrides, "ChampionMseTolerance")
                ),
            }
            summary = _collect(target, outcome, types, overrides, gate, staging)
            summary["cost"] = _cost(target, outcome, workflow_summary, staging)
            summary.update(review_files(staging))
            if champion is not None:
                summary["champion_run"] = champion.run_id
            summary["model"] = _served_model(target, summary["model_package_arn"], staging)
            _copy_capture(target, workflow_summary.get("endpoint_name"), staging / "capture")
        if outcome.execution_arn:
            _copy_logs(executor.logs_dir(outcome.execution_arn), staging / "logs")
    return _finish(summary, workflow_summary, request, staging, started, build.definition)


def _import_quietly(module: str) -> None:
    with contextlib.suppress(ImportError):
        importlib.import_module(module)


def _finish(
    summary: dict[str, Any],
    workflow_summary: dict[str, Any],
    request: RunRequest,
    staging: Path,
    started: float,
    definition: str,
) -> dict[str, Any]:
    """The whole summary, written with the definition that ran into the staging folder."""
    timings = {**summary.get("timings", {}), **workflow_summary.get("timings", {})}
    summary.update(workflow_summary)
    summary["run_id"] = request.run_id
    summary["timings"] = {**timings, "total": round(time.perf_counter() - started, 3)}
    if not request.pipeline_only:
        summary["status"] = "Succeeded" if summary["execution_status"] == "SUCCEEDED" else "Failed"
    write_atomic(staging / DEFINITION_FILE, definition + "\n")
    write_atomic(staging / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _run_user(
    request: RunRequest, settings: Settings, staging: Path, out: TextIO, started: float
) -> dict[str, Any]:
    """`--module-name`: build the user's pipeline against the local AWS, then run it.

    Everything that can be wrong with the user's module, --kwargs, --param or --input is
    found before any input is uploaded or any step runs (UsageError, exit 2).
    """
    from clients.s3 import ensure_bucket
    from localaws.executor import LocalPipelineExecutor
    from mlops import inputs as user_inputs
    from mlops import user_pipeline

    assert request.user is not None
    progress = Progress()
    with tempfile.TemporaryDirectory(
        prefix=f".work-{owner_tag()}-", dir=request.runs_dir, ignore_cleanup_errors=True
    ) as work:
        executor = LocalPipelineExecutor(
            workspace=Path(work), cache_dir=request.runs_dir / ".cache"
        )
        with local_account(settings.region, executor) as target:
            bucket = settings.bucket_for(target.account_id)
            ensure_bucket(target.client("s3"), bucket, target.region)
            fill = {"region": target.region, "role": settings.role_arn, "default_bucket": bucket}
            build_started = time.perf_counter()
            built = user_pipeline.build(
                request.user, fill, Path(work) / "build", staging / user_pipeline.BUILD_LOG
            )
            build_seconds = time.perf_counter() - build_started
            definition = json.loads(built.definition)
            overrides = parse_params(request.params, definition)
            user_inputs.check_inputs(request.inputs, definition, overrides)
            group = None if request.pipeline_only else _package_group(definition, overrides)
            asl = (
                ""
                if request.pipeline_only
                else cached_build(settings, target, default_cache_dir()).asl
            )
            # The workflow's names: the user's pipeline and the group its RegisterModel
            # step registers in (the state machine checks the package is in that group).
            settings = dataclasses.replace(
                settings, pipeline_name=built.name, model_package_group=group or ""
            )
            parameters = {
                **user_inputs.upload_inputs(
                    request.inputs, _local(target), bucket, settings.prefix("input")
                ),
                **overrides,
            }
            sm.upsert_pipeline(
                target.client("sagemaker"), built.name, settings.role_arn, built.definition
            )
            types = pipeline_run.step_types(definition)
            progress.plan(name for name, kind in types.items() if kind not in _BRANCH_TYPES)
            outcome, workflow_summary = _execute(
                target,
                settings,
                request,
                asl,
                parameters,
                None,
                types,
                progress,
                staging,
                out,
                started,
            )
            summary = _collect_user(target, outcome, types, overrides, staging)
            summary["cost"] = _cost(target, outcome, workflow_summary, staging)
            summary["timings"] = {"build": round(build_seconds, 3)}
        if outcome.execution_arn:
            _copy_logs(executor.logs_dir(outcome.execution_arn), staging / "logs")
    summary["pipeline_name"] = built.name
    summary["module"] = f"{request.user.module}:{request.user.function}"
    return _finish(summary, workflow_summary, request, staging, started, built.definition)


def _package_group(definition: dict[str, Any], overrides: dict[str, str]) -> str:
    """The model package group of the pipeline's RegisterModel step (a literal or a parameter).

    The full run approves and deploys the package this execution registers, so a pipeline
    without a RegisterModel step can only run with --pipeline-only.
    """
    groups = {
        step["Arguments"].get("ModelPackageGroupName")
        for step in _walk(definition.get("Steps", []))
        if step["Type"] == "RegisterModel"
    }
    if not groups:
        raise UsageError(
            "the pipeline has no RegisterModel step, so there is no model to approve and "
            "deploy; run it with --pipeline-only"
        )
    resolved = set()
    for group in groups:
        if isinstance(group, dict) and str(group.get("Get", "")).startswith("Parameters."):
            name = group["Get"].removeprefix("Parameters.")
            group = _value(definition, overrides, name)
        if not isinstance(group, str):
            raise UsageError(
                f"the RegisterModel step's ModelPackageGroupName {json.dumps(group)} is neither "
                "a name nor a parameter; the workflow needs the group before the run"
            )
        resolved.add(group)
    if len(resolved) > 1:
        raise UsageError(
            "the pipeline registers into more than one model package group "
            f"({', '.join(sorted(resolved))}); the workflow approves one; use --pipeline-only"
        )
    return resolved.pop()


def _walk(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _walk(step["Arguments"].get("IfSteps", []))
            yield from _walk(step["Arguments"].get("ElseSteps", []))


def _collect_user(
    target: Target,
    outcome: pipeline_run.PipelineOutcome,
    types: dict[str, str],
    overrides: dict[str, str],
    staging: Path,
) -> dict[str, Any]:
    """The pipeline part of summary.json for a user's pipeline.

    Its metrics are those its RegisterModel step attached (ModelMetrics.ModelQuality
    .Statistics), the one report whose meaning SageMaker defines.
    """
    sagemaker = target.client("sagemaker")
    package_arn, approval_status = _registered_package(sagemaker, outcome)
    metrics = None
    if package_arn:
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
        uri = (
            package.get("ModelMetrics", {})
            .get("ModelQuality", {})
            .get("Statistics", {})
            .get("S3Uri")
        )
        if uri:
            body = read_object(target.client("s3"), uri)
            write_atomic(staging / EVALUATION_FILE, body)
            metrics = json.loads(body)
    gate = {"metric": None, "threshold": None}
    return _pipeline_summary(outcome, types, overrides, metrics, gate, package_arn, approval_status)


def _execute(
    target: Target,
    settings: Settings,
    request: RunRequest,
    asl: str,
    parameters: dict[str, str],
    threshold: float | None,
    types: dict[str, str],
    progress: Progress,
    staging: Path,
    out: TextIO,
    started: float,
) -> tuple[pipeline_run.PipelineOutcome, dict[str, Any]]:
    """Run the upserted pipeline `settings.pipeline_name`, alone or through the workflow."""
    sagemaker = target.client("sagemaker")
    if request.pipeline_only:
        arn = sm.start_pipeline_execution(
            sagemaker, settings.pipeline_name, request.run_id, parameters
        )
        outcome = pipeline_run.watch(
            sagemaker,
            arn,
            lambda steps: progress.update(pipeline_run.step_report(s, types) for s in steps),
            wait=_local(target).wait_for_pipeline_change,
            poll_seconds=LOCAL_WATCH_SECONDS,
        )
        return outcome, {}
    from deploy.template import render as tpl_render
    from mlops.local_workflow import deploy_locally

    execution_input = _execution_input(request, settings, parameters, threshold)
    _start_pipeline_early(target, settings, request.run_id, execution_input)
    deploy_started = time.perf_counter()
    with deploy_locally(target, settings, asl) as stack:
        stack_seconds = time.perf_counter() - deploy_started
        # The endpoint will load its model with xgboost, a second's import the jobs (processes
        # of their own) never need here: done while they run, it leaves the deployment's path.
        threading.Thread(target=_import_quietly, args=("xgboost",), daemon=True).start()
        startup = time.perf_counter() - started
        write_atomic(staging / TEMPLATE_FILE, tpl_render(stack.template) + "\n")
        workflow_summary = _run_workflow(
            target, request, stack, execution_input, types, progress, staging, out
        )
        workflow_summary["timings"]["startup"] = round(startup, 3)
        workflow_summary["timings"]["stack"] = round(stack_seconds, 3)
    outcome = _pipeline_outcome(sagemaker, workflow_summary["pipeline_execution_arn"])
    return outcome, workflow_summary


#: Types of the steps that only one branch of the quality gate runs.
_BRANCH_TYPES = {"Fail", "RegisterModel"}


def _local(target: Target) -> LocalAWS:
    """The local AWS a `mlops run` target always has."""
    if target.local is None:
        raise RuntimeError("mlops run needs the embedded local AWS")
    return target.local


def _value(definition: dict[str, Any], overrides: dict[str, str], name: str) -> Any:
    """A pipeline parameter's value in this run: the --param override, else its default."""
    if name in overrides:
        return overrides[name]
    return next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == name)


def _execution_input(
    request: RunRequest, settings: Settings, parameters: dict[str, str], threshold: float | None
) -> dict[str, Any]:
    """The state machine's input; without a threshold (a user's pipeline) its default gate."""
    return contracts.execution_input(
        parameters,
        **{
            contracts.POLL_SECONDS: LOCAL_POLL_SECONDS,
            contracts.APPROVAL_TIMEOUT_SECONDS: request.approval_timeout,
            contracts.QUALITY_GATE: None if threshold is None else {"threshold": threshold},
            contracts.SAGEMAKER_PROJECT: settings.sagemaker_project,
        },
    )


def _start_pipeline_early(
    target: Target, settings: Settings, run_id: str, execution_input: dict[str, Any]
) -> str:
    """Start the pipeline execution the workflow will start, before the stack is deployed.

    The state machine starts its pipeline with a token derived from its own execution ARN,
    and SageMaker answers a repeated token with the execution it already started. The run
    knows that ARN before the stack exists (the state machine's name and the run id), so it
    sends the same request first: the pipeline's jobs run while the local CloudFormation
    deploys the stack (about 2 s), and the state machine's start then finds this execution.
    """
    execution_arn = (
        f"arn:aws:states:{target.region}:{target.account_id}:execution:"
        f"{settings.state_machine_name}:{run_id}"
    )
    response = target.client("sagemaker").start_pipeline_execution(
        PipelineName=settings.pipeline_name,
        PipelineParameters=execution_input[contracts.PIPELINE_PARAMETERS],
        ClientRequestToken=contracts.pipeline_request_token(execution_arn),
        PipelineExecutionDescription=contracts.pipeline_description(execution_arn),
    )
    return response["PipelineExecutionArn"]


def _run_workflow(
    target: Target,
    request: RunRequest,
    stack: LocalWorkflow,
    execution_input: dict[str, Any],
    types: dict[str, str],
    progress: Progress,
    staging: Path,
    out: TextIO,
) -> dict[str, Any]:
    """Start the state machine, follow it to the end, decide when asked to."""
    from mlops.reviewer import APPROVE, REJECT, decide

    sfn, sagemaker = target.client("stepfunctions"), target.client("sagemaker")
    execution_arn = sfn_client.start_execution(
        sfn, stack.state_machine_arn, request.run_id, execution_input
    )

    def review(opened: ApprovalOpened) -> None:
        link = stack.review_link(opened.approval_id)
        if link is None:
            print(
                f"Approval {opened.approval_id}: no review link arrived on Slack "
                f"(notified: {', '.join(opened.notified) or 'nobody'})",
                file=out,
                flush=True,
            )
            return
        print(f"Review: {link}", file=out, flush=True)
        if request.approve != "wait":
            choice = APPROVE if request.approve == "auto" else REJECT
            decide(
                link,
                choice,
                f"mlops run --approve {request.approve}",
                f"decided by --approve {request.approve}",
            )

    follower = ExecutionFollower(sfn, sagemaker, execution_arn, types, progress, review)
    try:
        follower.follow(FOLLOW_INTERVAL)
    except KeyboardInterrupt:
        sfn.stop_execution(executionArn=execution_arn, cause="interrupted by the user")
        raise
    events = sfn_client.history(sfn, execution_arn)
    described = sfn_client.describe_execution(sfn, execution_arn)
    _write_workflow_artifacts(target, stack, events, staging)
    return {
        **_workflow_summary(target, described, events, follower),
        "stack_name": stack.stack_name,
        "stack_resources": stack.resources,
    }


def _workflow_summary(
    target: Target,
    described: dict[str, Any],
    events: list[dict[str, Any]],
    follower: ExecutionFollower,
) -> dict[str, Any]:
    output = json.loads(described.get("output") or "{}")
    endpoint_name = output.get(contracts.OUT_ENDPOINT_NAME)
    endpoint_status = None
    if endpoint_name:
        endpoint_status = target.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)[
            "EndpointStatus"
        ]
    return {
        "execution_arn": described["executionArn"],
        "execution_status": described["status"],
        "execution_error": described.get("error"),
        "execution_cause": described.get("cause"),
        "decision": output.get(contracts.OUT_DECISION),
        "decided_by": output.get(contracts.OUT_DECIDED_BY),
        "decision_reason": output.get(contracts.OUT_REASON),
        "endpoint_name": endpoint_name,
        "endpoint_status": endpoint_status,
        "smoke_test": smoke_test_result(events),
        "pipeline_execution_arn": follower.pipeline_execution_arn,
        "timings": {k: round(v, 3) for k, v in phase_times(events).items()},
    }


def smoke_test_result(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The smoke test as the execution recorded it: {status, rows, max_abs_diff, endpoint,
    reason}, read from the history so a failed deployment reports it too; None when the run
    never got that far (rejected, or failed before deploying)."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") in contracts.SMOKE_TEST_RESULT_STATES:
            result = json.loads(details.get("output") or "{}").get(contracts.OUT_SMOKE_TEST)
            return result if isinstance(result, dict) else None
    return None


def _write_workflow_artifacts(
    target: Target, stack: LocalWorkflow, events: list[dict[str, Any]], staging: Path
) -> None:
    sfn = target.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)
    write_atomic(staging / ASL_FILE, machine["definition"] + "\n")
    write_atomic(staging / "execution_history.json", redact_tokens(events) + "\n")
    notifications = staging / "notifications"
    for index, payload in enumerate(stack.slack.payloads, 1):
        write_atomic(notifications / f"slack-{index}.json", json.dumps(payload, indent=2) + "\n")
    for index, raw in enumerate(_local(target).sent_emails(), 1):
        write_atomic(notifications / f"email-{index}.eml", raw)
    published = _local(target).published(stack.topic_arn)
    write_atomic(notifications / "sns.json", json.dumps(published, indent=2) + "\n")


def redact_tokens(events: list[dict[str, Any]]) -> str:
    """The history as JSON with every task token replaced: tokens are credentials."""
    text = json.dumps(events, indent=2, default=str)
    for event in events:
        parameters = event.get("taskScheduledEventDetails", {}).get("parameters")
        token = json.loads(parameters or "{}").get("Payload", {}).get(contracts.TASK_TOKEN)
        if token:
            text = text.replace(token, "<task token redacted>")
    return text


def _pipeline_outcome(sagemaker: Any, arn: str | None) -> pipeline_run.PipelineOutcome:
    if arn is None:  # the state machine failed before starting the pipeline
        return pipeline_run.PipelineOutcome("", "NotStarted", None, [])
    described = sm.describe_pipeline_execution(sagemaker, arn)
    return pipeline_run.PipelineOutcome(
        arn,
        described["PipelineExecutionStatus"],
        described.get("FailureReason"),
        sm.list_steps(sagemaker, arn),
    )


def _collect(
    target: Target,
    outcome: pipeline_run.PipelineOutcome,
    types: dict[str, str],
    overrides: dict[str, str],
    gate: dict[str, Any],
    staging: Path,
) -> dict[str, Any]:
    """Fetch the pipeline's artifacts into the staging folder; the pipeline part of summary."""
    sagemaker, s3 = target.client("sagemaker"), target.client("s3")
    metrics = _fetch_evaluation(sagemaker, s3, outcome, staging)
    _fetch_model(sagemaker, s3, outcome, staging)
    _fetch_baseline(s3, outcome, staging / BASELINE_FOLDER)
    package_arn, approval_status = _registered_package(sagemaker, outcome)
    return _pipeline_summary(outcome, types, overrides, metrics, gate, package_arn, approval_status)


def _cost(
    target: Target,
    outcome: pipeline_run.PipelineOutcome,
    workflow_summary: dict[str, Any],
    staging: Path,
) -> dict[str, Any]:
    """summary.json's `cost` (mlops.cost), read while the local AWS still holds the run; the
    execution's history is the one the run folder already has."""
    history = staging / "execution_history.json"
    return run_cost(
        target.client,
        target.region,
        outcome.steps,
        workflow_summary.get("execution_arn"),
        workflow_summary.get("endpoint_name"),
        json.loads(history.read_text(encoding="utf-8")) if history.is_file() else None,
    )


def _pipeline_summary(
    outcome: pipeline_run.PipelineOutcome,
    types: dict[str, str],
    overrides: dict[str, str],
    metrics: dict[str, Any] | None,
    gate: dict[str, Any],
    package_arn: str | None,
    approval_status: str | None,
) -> dict[str, Any]:
    """The pipeline part of summary.json, whichever pipeline ran."""
    return {
        "run_id": None,
        "status": "Succeeded" if outcome.status == "Succeeded" else "Failed",
        "pipeline_execution_arn": outcome.execution_arn or None,
        "failure_reason": outcome.failure_reason or None,
        "steps": [vars(report) for report in outcome.reports(types)],
        "metrics": metrics,
        "quality_gate": gate,
        "model_package_arn": package_arn,
        "model_approval_status": approval_status,
        "parameters": overrides,
    }


def _fetch_evaluation(
    sagemaker: Any, s3: Any, outcome: pipeline_run.PipelineOutcome, staging: Path
) -> dict[str, Any] | None:
    job = sm.job_name(outcome.step(EVALUATE_STEP), "ProcessingJob")
    if job is None:
        return None
    described = sagemaker.describe_processing_job(ProcessingJobName=job)
    outputs = described.get("ProcessingOutputConfig", {}).get("Outputs", [])
    uri = next((o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == EVALUATION), None)
    if uri is None:
        return None
    body = read_object(s3, f"{uri.rstrip('/')}/{EVALUATION_FILE}")
    write_atomic(staging / EVALUATION_FILE, body)
    _fetch_review_files(s3, uri.rstrip("/"), staging)
    return json.loads(body)


def _fetch_review_files(s3: Any, evaluation_uri: str, staging: Path) -> None:
    """comparison.json and the pictures beside evaluation.json, when the pipeline made them."""
    with contextlib.suppress(Exception):  # a user's pipeline writes only evaluation.json
        body = read_object(s3, f"{evaluation_uri}/{COMPARISON_FILE}")
        write_atomic(staging / COMPARISON_FILE, body)
    for file in contracts.PICTURES.values():
        with contextlib.suppress(Exception):
            body = read_object(s3, f"{evaluation_uri}/{PICTURES_FOLDER}/{file}")
            write_atomic(staging / PICTURES_FOLDER / file, body)


def review_files(staging: Path) -> dict[str, Any]:
    """The summary's `champion` (comparison.json) and `pictures` (name: path in the folder)."""
    comparison = None
    if (staging / COMPARISON_FILE).is_file():
        comparison = read_comparison((staging / COMPARISON_FILE).read_bytes())
    pictures = {
        name: f"{PICTURES_FOLDER}/{file}"
        for name, file in contracts.PICTURES.items()
        if (staging / PICTURES_FOLDER / file).is_file()
    }
    return {"champion": comparison, "pictures": pictures or None}


#: The run folder's copy of the data-quality baseline (statistics.json, constraints.json).
BASELINE_FOLDER = "baseline"


def _fetch_baseline(s3: Any, outcome: pipeline_run.PipelineOutcome, folder: Path) -> None:
    """The baseline the QualityCheck step computed (its QualityCheckStepMetadata's URIs)."""
    metadata = (outcome.step(BASELINE_STEP) or {}).get("Metadata", {}).get("QualityCheck") or {}
    for key in ("CalculatedBaselineStatistics", "CalculatedBaselineConstraints"):
        uri = metadata.get(key)
        if uri:
            write_atomic(folder / uri.rsplit("/", 1)[-1], read_object(s3, uri))


def _fetch_model(
    sagemaker: Any, s3: Any, outcome: pipeline_run.PipelineOutcome, staging: Path
) -> None:
    job = sm.job_name(outcome.step(TRAIN_STEP), "TrainingJob")
    if job is None:
        return
    uri = (
        sagemaker.describe_training_job(TrainingJobName=job)
        .get("ModelArtifacts", {})
        .get("S3ModelArtifacts")
    )
    if uri:
        bucket, key = split_s3_uri(uri)
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


def _served_model(target: Target, package_arn: str | None, staging: Path) -> dict[str, Any] | None:
    """What `mlops predict` needs to serve the registered model as its endpoint would.

    The package's inference container (image, environment, model data), and the run folder's
    copy of that model data (model.tar.gz, the training job's artifact the package names).
    """
    if package_arn is None or not (staging / "model.tar.gz").is_file():
        return None
    package = target.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    container = package["InferenceSpecification"]["Containers"][0]
    return {
        "image": container.get("Image"),
        "environment": container.get("Environment") or {},
        "model_data_url": container.get("ModelDataUrl"),
        "archive": "model.tar.gz",
    }


def _copy_capture(target: Target, endpoint_name: str | None, capture: Path) -> None:
    """Copy what the endpoint captured during the run (its config's DataCaptureConfig)."""
    if not endpoint_name:
        return
    sagemaker, s3 = target.client("sagemaker"), target.client("s3")
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    uri = (config.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
    if not uri:
        return
    bucket, prefix = split_s3_uri(f"{uri.rstrip('/')}/{endpoint_name}/")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            path = capture / item["Key"][len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))


def _copy_logs(source: Path, logs: Path) -> None:
    """Copy the steps' logs into the run; a copy that fails raises its own OSError.

    (shutil.copytree gathers failures into one shutil.Error without an errno, so a full disk
    would read as a bug instead of one line saying the disk is full.)
    """
    if not source.is_dir():
        return
    for path in sorted(source.rglob("*")):
        target = logs / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _closing(summary: dict[str, Any], run_dir: Path) -> str:
    lines = ["", summary_table(StepReport(**s) for s in summary["steps"]), ""]
    metrics = metric_line(summary["metrics"], summary["quality_gate"]["threshold"])
    lines.append(
        f"Pipeline: {(summary['failure_reason'] and 'failed') or 'succeeded'}"
        + (f", {metrics}" if metrics else "")
    )
    champion = champion_line(summary.get("champion"), summary.get("champion_run"))
    if champion:
        lines.append(f"Champion: {champion}")
    if summary["failure_reason"]:
        lines.append(f"Reason: {summary['failure_reason']}")
    if summary["model_package_arn"]:
        lines.append(
            f"Model package: {summary['model_package_arn']} ({summary['model_approval_status']})"
        )
    if "execution_status" in summary:
        lines.append(f"Execution: {summary['execution_status']}")
        if summary["decision"]:
            lines.append(f"Decision: {summary['decision']} by {summary['decided_by'] or '-'}")
        smoke = summary.get("smoke_test")
        if smoke:
            lines.append(f"Smoke test: {smoke['status']}, {smoke['reason']}")
        if summary["endpoint_name"]:
            lines.append(f"Endpoint: {summary['endpoint_name']} ({summary['endpoint_status']})")
        if summary["execution_status"] != "SUCCEEDED" and summary["execution_cause"]:
            lines.append(f"Cause: {summary['execution_error']}: {summary['execution_cause']}")
        timings = summary.get("timings", {})
        lines.append("Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    lines.append(f"Status: {summary['status']}")
    lines.append(f"Run folder: {run_dir}")
    lines.append(f"Report: {run_dir / REPORT}")
    return "\n".join(lines)
