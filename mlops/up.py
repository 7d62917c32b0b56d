"""`mlops up`: the whole stack live on this machine, as an account, until Ctrl-C.

It starts the local AWS, upserts the pipeline, deploys the workflow stack (the template
`mlops template` prints, with `PollSeconds` 1 and a short rollout bake), and prints what any
AWS client needs to reach it, then `Ready.`. From then on the local AWS is an account: the
stack's rules start runs, so the first run starts the way every later one does, from an
upload of the data under the input prefix. Each following event is one line on stdout:

    Run <name> started: <why>            a run (new data, drift, schedule, a person)
    [<name>] <step> <status> <seconds>   its pipeline's steps and the workflow's tasks
    [<name>] Review: <link>              the review page of its approval (--approve wait)
    Run <name> <outcome>                 approved and deployed, rejected, or failed: why
    Monitoring <schedule>: <status> ...  each monitoring execution, with what drifted
    Drift: <alarm> ALARM: <reason>       the drift alarm going off (a retraining run follows)

The endpoint, the review page (the approval function's URL) and the monitoring schedule
(every --monitor-every seconds instead of hourly) all run in this process; Ctrl-C stops the
runs in progress and the local AWS, and nothing of it outlives the process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from clients import sagemaker as sm
from clients import stepfunctions as sfn_client
from clients.s3 import read_object
from clients.session import Target, local_account
from core import contracts, names
from core.errors import UsageError
from core.files import owner_tag, remove_stale
from core.settings import Settings
from deploy import template as tpl
from mlops.builds import cached_build, default_cache_dir, remove_stale_builds
from mlops.follow import ApprovalOpened, ExecutionFollower
from mlops.local_workflow import LocalWorkflow, deploy_locally
from mlops.pipeline_run import step_types
from mlops.progress import Progress

#: How often the watcher looks for news, and the local runs poll their pipelines.
WATCH_SECONDS = 0.5
LOCAL_POLL_SECONDS = 1
#: A retraining run's update bakes this long locally (300 s on AWS), its alarms watched.
LOCAL_ROLLOUT_BAKE_SECONDS = 5
DEFAULT_MONITOR_EVERY = 60.0
MIN_MONITOR_EVERY = 1.0


@dataclass(frozen=True)
class UpRequest:
    approve: str
    monitor_every: float
    data: Path
    runs_dir: Path


def check_monitor_every(seconds: float) -> float:
    """Reject a monitoring interval the local clock cannot keep, before anything starts."""
    if not seconds >= MIN_MONITOR_EVERY:  # also refuses NaN
        raise UsageError(
            f"--monitor-every {seconds:g}: expected at least {MIN_MONITOR_EVERY:g} seconds"
        )
    return seconds


class _RunProgress(Progress):
    """Progress lines of one run, each prefixed with the run's name."""

    def __init__(self, label: str, out: TextIO) -> None:
        super().__init__(out)
        self.label = label

    def _print(self, text: str) -> None:
        super()._print(f"[{self.label}] {text.strip()}")


class Watcher:
    """Finds and reports what happens in the live stack: runs, monitoring, drift."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        stack: LocalWorkflow,
        approve: str,
        types: Mapping[str, str],
        out: TextIO,
    ) -> None:
        self.target, self.settings, self.stack = target, settings, stack
        self.approve, self.types, self.out = approve, types, out
        self.sfn, self.sagemaker = target.client("stepfunctions"), target.client("sagemaker")
        self.cloudwatch = target.client("cloudwatch")
        self.runs: dict[str, ExecutionFollower] = {}
        self.finished: set[str] = set()
        self.monitoring: set[str] = set()
        self.last_monitoring = ""
        self.alarm_state = "OK"

    def say(self, line: str) -> None:
        # The reader may be gone (a closed pipe): keep running, stop printing.
        with contextlib.suppress(OSError, ValueError):
            print(line, file=self.out, flush=True)

    def poll(self) -> None:
        self._new_runs()
        for arn, follower in list(self.runs.items()):
            if arn in self.finished:
                continue
            status = follower.poll()
            if status != sfn_client.RUNNING:
                self.finished.add(arn)
                self.say(f"Run {_label(arn)} {self._outcome(arn, status)}")
        self._monitoring()
        self._drift()

    def stop_runs(self) -> None:
        """Stop the runs in progress (Ctrl-C): they end ABORTED, as on AWS."""
        for arn in set(self.runs) - self.finished:
            with contextlib.suppress(ClientError):
                self.sfn.stop_execution(executionArn=arn, cause="mlops up stopped")

    # -- runs ------------------------------------------------------------------------------

    def _new_runs(self) -> None:
        listed = self.sfn.list_executions(stateMachineArn=self.stack.state_machine_arn)
        for execution in sorted(listed["executions"], key=lambda e: e["startDate"]):
            arn = execution["executionArn"]
            if arn in self.runs:
                continue
            given = json.loads(sfn_client.describe_execution(self.sfn, arn).get("input") or "{}")
            why = contracts.describe_trigger(given.get(contracts.TRIGGER, {"Type": "manual"}))
            self.say(f"Run {_label(arn)} started: {why}")
            label = _label(arn)
            self.runs[arn] = ExecutionFollower(
                self.sfn,
                self.sagemaker,
                arn,
                self.types,
                _RunProgress(label, self.out),
                functools.partial(self._review, label),
            )

    def _review(self, label: str, opened: ApprovalOpened) -> None:
        from mlops.reviewer import APPROVE, REJECT, decide

        link = self.stack.review_link(opened.approval_id)
        if link is None:
            self.say(f"[{label}] approval {opened.approval_id}: no review link arrived on Slack")
            return
        self.say(f"[{label}] Review: {link}")
        if self.approve != "wait":
            choice = APPROVE if self.approve == "auto" else REJECT
            decide(link, choice, f"mlops up --approve {self.approve}", "decided by mlops up")

    def _outcome(self, arn: str, status: str) -> str:
        described = sfn_client.describe_execution(self.sfn, arn)
        if status != "SUCCEEDED":
            cause = str(described.get("cause") or "")[:300]
            return f"{status}: {described.get('error') or ''} {cause}".rstrip()
        output = json.loads(described.get("output") or "{}")
        if output.get(contracts.OUT_DECISION) == "approved":
            smoke = (output.get(contracts.OUT_SMOKE_TEST) or {}).get("status", "not run")
            return (
                f"deployed to {output.get(contracts.OUT_ENDPOINT_NAME)} "
                f"(approved by {output.get(contracts.OUT_DECIDED_BY)}, smoke test {smoke})"
            )
        return f"rejected: {output.get(contracts.OUT_REASON)}"

    # -- monitoring and drift --------------------------------------------------------------

    def _monitoring(self) -> None:
        schedule = names.monitoring_schedule_name(self.settings)
        try:
            listed = self.sagemaker.list_monitoring_executions(
                MonitoringScheduleName=schedule, SortBy="CreationTime", SortOrder="Ascending"
            )
        except ClientError:  # no schedule yet: the first deployment creates it
            return
        for summary in listed.get("MonitoringExecutionSummaries", []):
            status = summary.get("MonitoringExecutionStatus", "")
            key = f"{summary.get('ProcessingJobArn') or summary.get('ScheduledTime')}"
            if key in self.monitoring or status in ("Pending", "InProgress", "Stopping"):
                continue
            self.monitoring.add(key)
            detail = summary.get("FailureReason") or self._violations(summary)
            line = f"Monitoring {schedule}: {status}" + (f": {detail}" if detail else "")
            # An hour (or --monitor-every) without traffic fails the same way each time.
            if line != self.last_monitoring:
                self.say(line)
                self.last_monitoring = line

    def _violations(self, summary: Mapping[str, Any]) -> str:
        """The features a monitoring execution found drifted, from its violations report."""
        job = str(summary.get("ProcessingJobArn") or "").rsplit("/", 1)[-1]
        if not job or summary.get("MonitoringExecutionStatus") != "CompletedWithViolations":
            return ""
        try:
            described = self.sagemaker.describe_processing_job(ProcessingJobName=job)
            outputs = described["ProcessingOutputConfig"]["Outputs"]
            uri = f"{outputs[0]['S3Output']['S3Uri'].rstrip('/')}/constraint_violations.json"
            report = json.loads(read_object(self.target.client("s3"), uri))
        except (ClientError, KeyError, IndexError, ValueError):
            return ""
        found = [
            f"{v.get('feature_name')} ({v.get('constraint_check_type')})"
            for v in report.get("violations", [])
        ]
        return ", ".join(found)

    def _drift(self) -> None:
        alarm = names.drift_alarm_name(self.settings)
        found = self.cloudwatch.describe_alarms(AlarmNames=[alarm]).get("MetricAlarms", [])
        if not found:
            return
        state = found[0].get("StateValue", "OK")
        if state != self.alarm_state:
            self.alarm_state = state
            if state == "ALARM":
                self.say(f"Drift: {alarm} ALARM: {found[0].get('StateReason', '')}")


def _label(execution_arn: str) -> str:
    """A short name for a run: the tail of its execution name (a UUID for the runs rules
    start, `manual-<time>-<hex>` for `mlops start`'s)."""
    return execution_arn.rsplit(":", 1)[-1][-12:]


def environment_lines(target: Target) -> list[str]:
    """What an AWS client in another terminal needs to use this local AWS as an account."""
    local = target.local
    if local is None:
        raise RuntimeError("mlops up needs the embedded local AWS")
    variables = local.credentials
    return [
        f"AWS_ENDPOINT_URL={variables['AWS_ENDPOINT_URL']}",
        f"AWS_ACCESS_KEY_ID={variables['AWS_ACCESS_KEY_ID']}",
        f"AWS_SECRET_ACCESS_KEY={variables['AWS_SECRET_ACCESS_KEY']}",
        f"AWS_DEFAULT_REGION={target.region}",
    ]


def up(request: UpRequest, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run the stack until Ctrl-C (KeyboardInterrupt, which the CLI turns into exit 130)."""
    from localaws.executor import LocalPipelineExecutor

    request.runs_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(request.runs_dir)
    remove_stale_builds(default_cache_dir())
    # Runs still in flight at Ctrl-C may be writing into it while it is removed: what they
    # leave is removed by the next start (remove_leftovers, by the folder's process id).
    with tempfile.TemporaryDirectory(
        prefix=f".work-{owner_tag()}-", dir=request.runs_dir, ignore_cleanup_errors=True
    ) as work:
        executor = LocalPipelineExecutor(
            workspace=Path(work), cache_dir=request.runs_dir / ".cache"
        )
        with local_account(
            settings.region, executor, monitor_every=request.monitor_every
        ) as target:
            build = cached_build(settings, target, default_cache_dir())  # makes the bucket
            sm.upsert_pipeline(
                target.client("sagemaker"),
                settings.pipeline_name,
                settings.role_arn,
                build.definition,
                settings.project_tags,
            )
            parameters = {
                tpl.POLL_SECONDS_PARAMETER: str(LOCAL_POLL_SECONDS),
                tpl.ROLLOUT_BAKE_SECONDS: str(LOCAL_ROLLOUT_BAKE_SECONDS),
            }
            with deploy_locally(target, settings, build.asl, parameters=parameters) as stack:
                for line in environment_lines(target):
                    print(line, file=out, flush=True)
                print("Ready.", file=out, flush=True)
                watcher = Watcher(
                    target,
                    settings,
                    stack,
                    request.approve,
                    step_types(json.loads(build.definition)),
                    out,
                )
                bucket = settings.bucket_for(target.account_id)
                key = f"{names.input_prefix(settings)}{request.data.name}"
                target.client("s3").upload_file(str(request.data), bucket, key)
                try:
                    while True:
                        watcher.poll()
                        time.sleep(WATCH_SECONDS)
                finally:
                    watcher.stop_runs()
    return 0
