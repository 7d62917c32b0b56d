"""The walk: one pipeline execution, its steps reported as ListPipelineExecutionSteps shows them.

Everything that can be checked without running anything (step types, references, cycles,
parameters, typed parameters in string fields: plan.py, checks.py) is checked first, so a
definition the executor cannot run fails before any job starts. Steps then run as SageMaker
runs them: "By default, a pipeline performs all steps that are available to run in parallel"
(AWS, "Pipeline Structure and Execution"), here at most one per core, or fewer if the
execution's ParallelismConfiguration.MaxParallelExecutionSteps says so. A step starts once
every step it needs has finished and its branch was taken. After a failure no new step starts,
the running ones finish, and the execution fails with the first failure's reason. Each step's
entry in `run.steps` is updated in place, so a poller sees Executing, then Succeeded or
Failed, live.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localaws.executor import conditions, containers, s3files
from localaws.executor.cache import (
    StepCache,
    cache_key,
    cacheable,
    code_digest,
    code_uris,
    parse_duration,
)
from localaws.executor.checks import check_definition
from localaws.executor.errors import DefinitionError, StepFailed, fit_reason
from localaws.executor.expressions import Scope, render, resolve, resolve_parameters
from localaws.executor.jobs import StepContext, StepOutcome, job_name
from localaws.executor.lambda_step import run_lambda
from localaws.executor.models import run_model
from localaws.executor.plan import PlannedStep, plan
from localaws.executor.processing import run_processing
from localaws.executor.quality_check import check_fields, run_quality_check
from localaws.executor.registry import register_model
from localaws.executor.retry import retrying
from localaws.executor.training import run_training
from localaws.executor.transform import run_transform
from localaws.sagemaker_jobs import end_job
from localaws.sagemaker_seam import PipelineFailed, PipelineRun
from localaws.sessions import local_session

#: Runners of the steps that start a job or create a resource, and the execution variable
#: naming that job (None where SageMaker has none), with their RetryPolicies honoured.
_JOBS: dict[str, tuple[Callable[[StepContext], StepOutcome], str | None]] = {
    "Processing": (retrying(run_processing), "ProcessingJobName"),
    "QualityCheck": (retrying(run_quality_check), "ProcessingJobName"),
    "Training": (retrying(run_training), "TrainingJobName"),
    "Transform": (retrying(run_transform), None),
    "Model": (retrying(run_model), None),
    "Lambda": (run_lambda, None),
}
#: The step types whose job SageMaker bills by its run time, and the kind of that job.
_JOB_KINDS = {"Processing": "Processing", "QualityCheck": "Processing", "Training": "Training"}
_CLIENT_CONFIG = Config(
    connect_timeout=10,
    read_timeout=300,
    retries={"max_attempts": 3, "mode": "standard"},
    s3={"addressing_style": "path"},
)


class FailStepReached(StepFailed):
    """A Fail step ran: its ErrorMessage is the execution's FailureReason, verbatim."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalPipelineExecutor:
    """Runs SageMaker pipeline definitions on this machine; the `executor` of `local_aws()`.

    Per execution it works in `workspace/<execution id>/`: `steps/<Step>/opt/ml/...` (the
    jobs' container folders), `logs/<Step>.log` (a header with the resolved command and
    paths, then the job's stdout+stderr) and `timings.json`. `cache_dir` holds the step cache
    across local AWS sessions; None turns caching off. `python` runs the job scripts in place
    of the image's `python3`; `step_timeout` caps any job's run time in seconds;
    `max_parallel` caps the steps running at once (default: the cores, `os.cpu_count()`).
    """

    def __init__(
        self,
        workspace: Path,
        cache_dir: Path | None = None,
        python: str = sys.executable,
        step_timeout: float = 3600.0,
        max_parallel: int | None = None,
    ) -> None:
        # Absolute: jobs run with their own folder as the working directory.
        self.workspace = Path(workspace).resolve()
        self.cache = StepCache(Path(cache_dir).resolve()) if cache_dir is not None else None
        self.python = python
        self.step_timeout = step_timeout
        self.max_parallel = max(1, max_parallel or os.cpu_count() or 1)

    def __call__(self, run: PipelineRun) -> None:
        """Run one execution; raises PipelineFailed with the FailureReason if it fails."""
        _Execution(self, run).run()

    def logs_dir(self, execution_arn: str) -> Path:
        """Where an execution's step logs are: `<Step>.log` each, `execution.log` on failure."""
        return self.workspace / execution_arn.rsplit("/", 1)[-1] / "logs"


class _Execution:
    """The state of one execution while it runs."""

    def __init__(self, executor: LocalPipelineExecutor, run: PipelineRun) -> None:
        self.executor = executor
        self.run_ = run
        self.execution_id = run.execution_arn.rsplit("/", 1)[-1]
        self.folder = executor.logs_dir(run.execution_arn).parent
        self.started = utcnow()
        #: Guards `run.steps` entries and the records written from several step threads.
        self.lock = threading.Lock()
        self._limit: int | None = None
        # The account's own credentials and endpoint: another local AWS may run beside it.
        account = run.account
        session = local_session(account.region, account)
        self.objects = s3files.Objects(
            session.client("s3", endpoint_url=account.endpoint, config=_CLIENT_CONFIG),
            account.mirror,
        )
        self.sagemaker = session.client(
            "sagemaker", endpoint_url=account.endpoint, config=_CLIENT_CONFIG
        )
        self.scope = Scope(
            execution={
                "PipelineExecutionId": self.execution_id,
                "PipelineExecutionArn": run.execution_arn,
                "PipelineName": run.pipeline_name,
                "PipelineArn": run.execution_arn.split("/execution/")[0],
                "StartDateTime": _timestamp(self.started),
                "CurrentDateTime": lambda: _timestamp(utcnow()),
            },
            read_json=lambda uri: s3files.read_json_object(self.objects, uri),
        )

    def run(self) -> None:
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        what = "pipeline definition"
        try:
            steps = plan(self.run_.definition)
            declared = self.run_.definition.get("Parameters") or []
            check_definition(steps, declared, self.sagemaker.meta.service_model)
            what = "pipeline parameters"
            self.scope.parameters = resolve_parameters(declared, self.run_.parameters)
        except DefinitionError as exc:
            reason = fit_reason(f"Invalid {what}: {exc}")
            (self.folder / "logs" / "execution.log").write_text(reason + "\n", encoding="utf-8")
            raise PipelineFailed(reason) from None
        self._write_json("parameters.json", self.scope.parameters)
        try:
            self._schedule(steps)
        finally:
            self._write_timings()

    def _schedule(self, steps: list[PlannedStep]) -> None:
        """Start each step once what it needs has finished, up to the limit at once.

        `steps` is in plan order, which breaks ties, so entries appear in the same order on
        every run. A step whose branch was not taken, or that needs a skipped step, is skipped
        (not reported), as SageMaker leaves the untaken branch out of the execution.
        """
        pending = list(steps)
        finished: set[str] = set()
        skipped: set[str] = set()
        outcomes: dict[str, bool] = {}
        failure: PipelineFailed | None = None
        running: dict[Future[StepOutcome], PlannedStep] = {}
        pool = ThreadPoolExecutor(thread_name_prefix=f"step-{self.execution_id[-6:]}")
        try:
            while True:
                if failure is None:
                    for step in list(pending):
                        if not step.needs <= finished | skipped:
                            continue
                        taken = not step.branch or outcomes.get(step.branch[0]) is step.branch[1]
                        if taken and not step.needs & skipped:
                            if running and len(running) >= self._parallelism():
                                continue  # a later-listed step may still be skipped
                            entry = self._start_entry(step)
                            running[pool.submit(self._run_step, step, entry)] = step
                        else:
                            skipped.add(step.name)
                        pending.remove(step)
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: steps.index(running[f])):
                    step = running.pop(future)
                    try:
                        outcome = future.result()
                    except PipelineFailed as exc:
                        failure = failure or exc  # the running steps still finish
                        continue
                    finished.add(step.name)
                    if outcome.branch is not None:
                        outcomes[step.name] = outcome.branch
        finally:
            pool.shutdown(wait=True)
        if failure is not None:
            raise failure

    def _parallelism(self) -> int:
        """How many steps may run at once: the cores, or the execution's
        ParallelismConfiguration.MaxParallelExecutionSteps if lower. Asked only when a second
        step could start, so a pipeline that is one chain of steps makes no extra call."""
        if self._limit is None:
            limit = self.executor.max_parallel
            try:
                described = self.sagemaker.describe_pipeline_execution(
                    PipelineExecutionArn=self.run_.execution_arn
                )
                configured = (described.get("ParallelismConfiguration") or {}).get(
                    "MaxParallelExecutionSteps"
                )
            except (ClientError, BotoCoreError):
                configured = None
            if isinstance(configured, int) and configured >= 1:
                limit = min(limit, configured)
            self._limit = limit
        return self._limit

    # --- one step ---------------------------------------------------------------------

    def _start_entry(self, step: PlannedStep) -> dict[str, Any]:
        """The step's ListPipelineExecutionSteps entry, Executing from now."""
        entry: dict[str, Any] = {
            "StepName": step.name,
            "StepStatus": "Executing",
            "StartTime": utcnow(),
            "AttemptCount": 1,
            "Metadata": {},
        }
        if step.spec.get("DisplayName"):
            entry["StepDisplayName"] = step.spec["DisplayName"]
        if step.spec.get("Description"):
            entry["StepDescription"] = step.spec["Description"]
        with self.lock:
            self.run_.steps.append(entry)
        self.run_.changed()
        return entry

    def _run_step(self, step: PlannedStep, entry: dict[str, Any]) -> StepOutcome:
        """Run one step in a worker thread; PipelineFailed carries its FailureReason."""
        log = self.folder / "logs" / f"{step.name}.log"
        try:
            outcome = self._outcome(step, entry, log)
        except FailStepReached as exc:
            message = str(exc)
            self._finish(entry, "Failed", {"Fail": {"ErrorMessage": message}}, message)
            raise PipelineFailed(message) from None
        except StepFailed as exc:
            self._finish(entry, "Failed", entry["Metadata"], str(exc))
            raise PipelineFailed(str(exc)) from None
        except (ClientError, BotoCoreError) as exc:
            reason = fit_reason(f"Step {step.name}: AWS call failed: {exc}")
            self._finish(entry, "Failed", entry["Metadata"], reason)
            raise PipelineFailed(reason) from None
        except Exception as exc:  # a bug here must still end the execution, with a reason
            with log.open("a", encoding="utf-8") as out:
                out.write(traceback.format_exc())
            reason = fit_reason(f"Step {step.name}: {type(exc).__name__}: {exc}")
            self._finish(entry, "Failed", entry["Metadata"], reason)
            raise PipelineFailed(reason) from None
        self.scope.steps[step.name] = outcome.properties
        self._finish(entry, "Succeeded", outcome.metadata, None)
        return outcome

    def _finish(
        self, entry: dict[str, Any], status: str, metadata: dict[str, Any], reason: str | None
    ) -> None:
        update: dict[str, Any] = {"StepStatus": status, "EndTime": utcnow(), "Metadata": metadata}
        if reason is not None:
            update["FailureReason"] = reason
        with self.lock:
            entry.update(update)
        self.run_.changed()
        self._write_timings()

    def _outcome(self, step: PlannedStep, entry: dict[str, Any], log: Path) -> StepOutcome:
        if step.type == "Condition":
            return self._condition(step, log)
        if step.type == "Fail":
            message = render(resolve(step.arguments.get("ErrorMessage", ""), self.scope))
            _append(log, f"# {step.name} (Fail)\n# ErrorMessage: {message}\n")
            raise FailStepReached(message or f"Fail step {step.name} reached")
        if step.type == "RegisterModel":
            return register_model(self._context(step, resolve(step.arguments, self.scope), log))
        runner, job_variable = _JOBS[step.type]
        job = job_name(self.execution_id, step.name, self.run_.execution_arn)
        variables = {job_variable: job} if job_variable else {}
        scope = replace(self.scope, execution={**self.scope.execution, **variables})
        arguments = step.arguments
        if step.type == "QualityCheck":  # its check fields sit beside Arguments
            arguments = {**arguments, **check_fields(step.spec)}
        context = self._context(step, resolve(arguments, scope), log)
        return self._cached(step, context, runner, entry)

    def _condition(self, step: PlannedStep, log: Path) -> StepOutcome:
        specs = step.arguments["Conditions"]
        holds = conditions.all_hold(specs, lambda value: resolve(value, self.scope))
        lines = [f"# {step.name} (Condition)"]
        for spec in specs:
            resolved = {k: resolve(v, self.scope) for k, v in spec.items() if k != "Type"}
            lines.append(f"# {spec.get('Type')} {json.dumps(resolved, default=str)}")
        lines.append(f"# Outcome: {holds} -> {'IfSteps' if holds else 'ElseSteps'}")
        _append(log, "\n".join(lines) + "\n")
        outcome = "True" if holds else "False"
        return StepOutcome(
            properties={"Outcome": holds},
            metadata={"Condition": {"Outcome": outcome}},
            branch=holds,
        )

    def _context(self, step: PlannedStep, arguments: dict[str, Any], log: Path) -> StepContext:
        return StepContext(
            name=step.name,
            type=step.type,
            arguments=arguments,
            spec=step.spec,
            execution_arn=self.run_.execution_arn,
            execution_id=self.execution_id,
            work=self.folder / "steps" / step.name,
            log=log,
            objects=self.objects,
            environment=self.run_.account.environment(),
            sagemaker=self.sagemaker,
            python=self.executor.python,
            timeout=self.executor.step_timeout,
        )

    # --- caching ------------------------------------------------------------------------

    def _cached(
        self,
        step: PlannedStep,
        context: StepContext,
        runner: Callable[[StepContext], StepOutcome],
        entry: dict[str, Any],
    ) -> StepOutcome:
        config = step.spec.get("CacheConfig") or {}
        cache = self.executor.cache
        # A type SageMaker names no cache key attributes for never caches (its key would
        # ignore every argument).
        if cache is None or config.get("Enabled") is not True or not cacheable(step.type):
            return self._run_job(step, context, runner)
        code = [code_digest(self.objects, uri) for uri in code_uris(step.type, context.arguments)]
        key = cache_key(self.run_.pipeline_name, step.name, step.type, context.arguments, code)
        expire = parse_duration(config["ExpireAfter"]) if config.get("ExpireAfter") else None
        hit = cache.lookup(key, expire, utcnow())
        if hit is not None:
            cache.restore(hit, self.objects, self.sagemaker)
            entry["CacheHitResult"] = {"SourcePipelineExecutionArn": hit.source_execution_arn}
            _append(
                context.log,
                f"# {step.name} ({step.type}): cache hit, key {key}\n"
                f"# reused the outputs of {hit.source_execution_arn} ({hit.record['CreatedAt']})\n",
            )
            return hit.outcome()
        outcome = self._run_job(step, context, runner)
        try:
            cache.store(key, step.name, step.type, outcome, self.run_.execution_arn, utcnow())
            _append(context.log, f"# cached as {key}\n")
        except OSError as exc:  # a full disk must not fail a step that succeeded
            _append(context.log, f"# not cached: {exc}\n")
        return outcome

    def _run_job(
        self, step: PlannedStep, context: StepContext, runner: Callable[[StepContext], StepOutcome]
    ) -> StepOutcome:
        """Run the step's job; its record then ends as SageMaker's does, with its run time,
        Completed or Failed with the reason (localaws.sagemaker_jobs)."""
        kind = _JOB_KINDS.get(step.type)
        try:
            with containers.job_root(context.work):
                outcome = runner(context)
        except BaseException as exc:
            if kind:
                end_job(self.run_.account, kind, context.job_name, str(exc) or type(exc).__name__)
            raise
        if kind:
            end_job(self.run_.account, kind, context.job_name)
        return outcome

    # --- records ------------------------------------------------------------------------

    def _write_timings(self) -> None:
        with self.lock:
            self._write_timings_locked()

    def _write_timings_locked(self) -> None:
        steps = []
        for entry in list(self.run_.steps):
            start, end = entry.get("StartTime"), entry.get("EndTime")
            steps.append(
                {
                    "StepName": entry["StepName"],
                    "StepStatus": entry.get("StepStatus"),
                    "StartTime": start.isoformat() if start else None,
                    "EndTime": end.isoformat() if end else None,
                    "Seconds": round((end - start).total_seconds(), 3) if start and end else None,
                    "CacheHit": "CacheHitResult" in entry,
                }
            )
        self._write_json(
            "timings.json",
            {
                "PipelineExecutionArn": self.run_.execution_arn,
                "StartTime": self.started.isoformat(),
                "Steps": steps,
            },
        )

    def _write_json(self, name: str, document: Any) -> None:
        path = self.folder / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(temporary, path)


def _append(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(text)


def _timestamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
