"""What a run cost: its jobs, its endpoint and its per-run charges at on-demand list prices.

Each training or processing job is billed per instance for its run time in whole seconds, at
least a minute (`core/prices.json` says which parts of that rule are verified), times its
instance type's hourly price: the run time is BillableTimeInSeconds for a training job
(DescribeTrainingJob; "Multiply BillableTimeInSeconds by the number of instances",
https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sagemaker/aws.sdk.kotlin.services.sagemaker.model/-describe-training-job-response/billable-time-in-seconds.html),
ProcessingEndTime minus ProcessingStartTime for a processing job. A step served from the
cache reused an earlier job and costs nothing. The endpoint costs its instances' hourly price
for the time it served during the run, from InService (its LastModifiedTime once InService)
or the run's start, whichever is later, to the end of the execution. The per-run charges are
the execution's Step Functions state transitions and the Lambda requests and duration of its
Lambda tasks (the approval and smoke-test functions), read from the execution history (a
task's span there bounds its function's duration from above).
The same code reads the embedded local AWS and a real account.

`summary.json`'s `cost`, which `mlops show` and the run report read:

    {"total": 0.01178913,               # the sum of the items' amounts that are known
     "currency": "USD", "region": "us-east-1", "prices_read_on": "2026-11-30",
     "note": "An estimate from on-demand list prices ...",   # one line
     "items": [
       {"what": "Train (training job)", "category": "training",
        "instance_type": "ml.m5.xlarge", "count": 1,     # instances (requests, transitions)
        "seconds": 1.962,                                # as measured, per instance
        "billed_seconds": 60,                            # per instance, after the rule
        "quantity": 0.01666667, "unit": "instance-hour", # what the rate applies to
        "rate": 0.23, "amount": 0.00383333,              # amount = quantity * rate
        "reason": null},                                 # why amount is null or 0
       ...]}

An item that cannot be priced (an instance type the prices file lacks, a job without times, a
serverless endpoint) has amount null and a reason; it is left out of the total.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clients import stepfunctions as sfn_client

PRICES_FILE = "prices.json"
#: Decimal places kept in amounts and quantities (a run's items are fractions of a cent).
PLACES = 8
#: The endpoint statuses in which its instances run (and bill).
_SERVING = {"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}
_JOB_CATEGORIES = {"Training": "training", "Processing": "processing"}


# --- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """The figures of core/prices.json that the estimate uses."""

    region: str
    currency: str
    read_on: str
    #: Per instance-hour, by category ("training", "processing", "hosting") and type.
    per_hour: Mapping[str, Mapping[str, float]]
    minimum_job_seconds: int
    serverless_per_second: Mapping[int, float]
    per_state_transition: float
    per_lambda_request: float
    per_lambda_gb_second: Mapping[str, float]

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Prices:
        sagemaker = document["sagemaker"]
        return cls(
            region=document["region"],
            currency=document["currency"],
            read_on=document["read_on"],
            per_hour={
                category: dict(sagemaker[f"{category}_per_hour"])
                for category in ("training", "processing", "hosting")
            },
            minimum_job_seconds=int(sagemaker["job_billing"]["minimum_seconds"]),
            serverless_per_second={
                int(mb): float(price)
                for mb, price in sagemaker["serverless_per_second_by_memory_mb"].items()
            },
            per_state_transition=_per_unit(
                document["step_functions"]["standard_per_1000_state_transitions"], 1000
            ),
            per_lambda_request=_per_unit(document["lambda"]["per_million_requests"], 1_000_000),
            per_lambda_gb_second=dict(document["lambda"]["per_gb_second"]),
        )


def _per_unit(price: float, units: int) -> float:
    """The price of one unit, without float noise (0.2 per million: 2e-07)."""
    return float(f"{price / units:.12g}")


@functools.cache
def load_prices() -> Prices:
    """The project's prices file, read once (it ships inside `core`)."""
    text = resources.files("core").joinpath(PRICES_FILE).read_text(encoding="utf-8")
    return Prices.from_document(json.loads(text))


# --- what the run used ----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A pipeline step's SageMaker job as DescribeTrainingJob/DescribeProcessingJob report it."""

    step: str
    kind: str  # "Training", "Processing", or another job type the prices do not cover
    instance_type: str | None = None
    instance_count: int = 1
    #: End time minus start time; None when the job has no times (never started).
    seconds: float | None = None
    #: SageMaker's own BillableTimeInSeconds (training jobs), per instance.
    billable_seconds: float | None = None
    #: The earlier execution whose job a cache hit reused.
    reused_from: str | None = None
    #: Why the job could not be read, if it could not.
    problem: str | None = None


@dataclass(frozen=True)
class Hosting:
    """One production variant of the endpoint and how long it served during the run."""

    endpoint: str
    variant: str
    seconds: float
    instance_type: str | None = None
    instance_count: int = 1
    serverless_memory_mb: int | None = None


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation of a Lambda task, as the execution history shows it."""

    function: str
    memory_mb: int
    architecture: str
    #: From the task's start to the function's answer; None when the history does not say.
    seconds: float | None


@dataclass(frozen=True)
class Usage:
    """Everything a run used that the estimate prices."""

    region: str
    jobs: tuple[Job, ...] = ()
    hosting: tuple[Hosting, ...] = ()
    state_transitions: int | None = None
    invocations: tuple[Invocation, ...] = ()
    #: Parts that could not be read (one line each), noted in the estimate.
    problems: tuple[str, ...] = ()


# --- pricing (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One item of the estimate (the module docstring describes the fields)."""

    what: str
    category: str
    instance_type: str | None = None
    count: int | None = None
    seconds: float | None = None
    billed_seconds: float | None = None
    quantity: float | None = None
    unit: str | None = None
    rate: float | None = None
    amount: float | None = None
    reason: str | None = None


def billed_seconds(seconds: float, minimum: int) -> int:
    """Whole seconds, rounded up, at least `minimum` (a job's billing per instance)."""
    return max(minimum, math.ceil(round(seconds, 3)))


def job_charge(job: Job, prices: Prices) -> Charge:
    """A job's instances for its billed seconds at its instance type's hourly price."""
    category = _JOB_CATEGORIES.get(job.kind, job.kind.lower())
    charge = Charge(
        what=f"{job.step} ({job.kind.lower()} job)",
        category=category,
        instance_type=job.instance_type,
        count=job.instance_count,
        seconds=_ms(job.seconds),
        unit="instance-hour",
    )
    if job.reused_from is not None:
        return _with(
            charge,
            billed_seconds=0,
            quantity=0,
            amount=0,
            reason=f"cache hit: reused the job of {job.reused_from}",
        )
    if job.problem is not None:
        return _with(charge, reason=job.problem)
    rate = prices.per_hour.get(category, {}).get(job.instance_type or "")
    if rate is None:
        return _with(charge, reason=_unpriced(job.instance_type, category, prices))
    measured = job.billable_seconds if job.billable_seconds is not None else job.seconds
    if measured is None:
        return _with(charge, rate=rate, reason="the job has no start and end time")
    billed = billed_seconds(measured, prices.minimum_job_seconds)
    quantity = billed * job.instance_count / 3600
    return _with(
        charge,
        billed_seconds=billed,
        quantity=_round(quantity),
        rate=rate,
        amount=_round(quantity * rate),
    )


def hosting_charge(hosting: Hosting, prices: Prices) -> Charge:
    """The variant's instances for the seconds they served, pro rata of the hourly price."""
    charge = Charge(
        what=f"{hosting.endpoint} endpoint ({hosting.variant})",
        category="hosting",
        instance_type=hosting.instance_type,
        count=hosting.instance_count,
        seconds=_ms(hosting.seconds),
        billed_seconds=_ms(hosting.seconds),
        unit="instance-hour",
    )
    if hosting.serverless_memory_mb is not None:
        return _with(
            charge,
            category="serverless",
            instance_type=f"serverless {hosting.serverless_memory_mb} MB",
            count=None,
            billed_seconds=None,
            unit="second of request compute",
            rate=prices.serverless_per_second.get(hosting.serverless_memory_mb),
            reason="serverless endpoints bill each request's compute time, which the run "
            "does not record",
        )
    rate = prices.per_hour["hosting"].get(hosting.instance_type or "")
    if rate is None:
        return _with(charge, reason=_unpriced(hosting.instance_type, "hosting", prices))
    quantity = hosting.seconds * hosting.instance_count / 3600
    return _with(charge, quantity=_round(quantity), rate=rate, amount=_round(quantity * rate))


def workflow_charges(
    transitions: int | None, invocations: Iterable[Invocation], prices: Prices
) -> list[Charge]:
    """Step Functions state transitions, Lambda requests, and each function's duration."""
    charges = []
    if transitions is not None:
        charges.append(
            Charge(
                what="Step Functions state transitions",
                category="step_functions",
                count=transitions,
                quantity=transitions,
                unit="state transition",
                rate=prices.per_state_transition,
                amount=_round(transitions * prices.per_state_transition),
            )
        )
    invocations = list(invocations)
    if not invocations:
        return charges
    charges.append(
        Charge(
            what="Lambda requests",
            category="lambda",
            count=len(invocations),
            quantity=len(invocations),
            unit="request",
            rate=prices.per_lambda_request,
            amount=_round(len(invocations) * prices.per_lambda_request),
        )
    )
    for function in dict.fromkeys(i.function for i in invocations):
        calls = [i for i in invocations if i.function == function]
        timed = [i.seconds for i in calls if i.seconds is not None]
        # Lambda bills duration in whole milliseconds, rounded up.
        billed = sum(math.ceil(round(seconds * 1000, 3)) / 1000 for seconds in timed)
        gb_seconds = billed * calls[0].memory_mb / 1024
        rate = prices.per_lambda_gb_second.get(calls[0].architecture)
        reason = None
        if rate is None:
            reason = f"no price for {calls[0].architecture} functions"
        elif len(timed) < len(calls):
            reason = f"{len(calls) - len(timed)} invocation(s) without a duration in the history"
        charges.append(
            Charge(
                what=f"Lambda duration ({function})",
                category="lambda",
                count=len(calls),
                seconds=_ms(sum(timed)),
                billed_seconds=_ms(billed),
                quantity=_round(gb_seconds),
                unit="GB-second",
                rate=rate,
                amount=None if rate is None else _round(gb_seconds * rate),
                reason=reason,
            )
        )
    return charges


def estimate(usage: Usage, prices: Prices) -> dict[str, Any]:
    """summary.json's `cost` (see the module docstring)."""
    charges = [
        *(job_charge(job, prices) for job in usage.jobs),
        *(hosting_charge(hosting, prices) for hosting in usage.hosting),
        *workflow_charges(usage.state_transitions, usage.invocations, prices),
    ]
    return {
        "total": _round(sum(c.amount for c in charges if c.amount is not None)),
        "currency": prices.currency,
        "region": prices.region,
        "prices_read_on": prices.read_on,
        "note": _note(usage, prices),
        "items": [asdict(charge) for charge in charges],
    }


def _note(usage: Usage, prices: Prices) -> str:
    parts = [
        f"An estimate from on-demand list prices ({prices.region}, read {prices.read_on}, "
        f"core/{PRICES_FILE}): jobs per instance-second, at least "
        f"{prices.minimum_job_seconds} s each; the endpoint pro rata while it served; Step "
        "Functions transitions and Lambda requests and duration; free tiers, storage, data "
        "transfer and other small charges left out"
    ]
    if usage.region != prices.region:
        parts.append(f"the run was in {usage.region}, whose prices may differ")
    parts.extend(usage.problems)
    return "; ".join(parts) + "."


def _unpriced(instance_type: str | None, category: str, prices: Prices) -> str:
    if not instance_type:
        return "the job's instance type is not recorded"
    return f"no {category} price for {instance_type} in core/{PRICES_FILE} ({prices.region})"


def _with(charge: Charge, **changes: Any) -> Charge:
    return Charge(**{**asdict(charge), **changes})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, PLACES)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


# --- the execution history (pure) -----------------------------------------------------------


def state_transitions(events: Iterable[Mapping[str, Any]]) -> int:
    """Transitions Step Functions bills: one per state entered, plus one per task retry."""
    entered = tasks = scheduled = 0
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            entered += 1
            tasks += kind == "TaskStateEntered"
        scheduled += kind == "TaskScheduled"
    return entered + max(0, scheduled - tasks)


#: The history events that end an execution.
_EXECUTION_ENDS = {
    "ExecutionSucceeded",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
}
#: The history events that end a Lambda task's invocation (see lambda_tasks).
_ANSWERED = {"TaskSubmitted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"}


@dataclass(frozen=True)
class LambdaTask:
    """A Lambda invocation a task made: its function and how long it took, if known."""

    function: str
    seconds: float | None


def lambda_tasks(events: Iterable[Mapping[str, Any]]) -> list[LambdaTask]:
    """The Lambda invocations of the execution's tasks, in order.

    A task's invocation lasts from TaskStarted to TaskSucceeded (or TaskFailed, TaskTimedOut)
    for `lambda:invoke`, and to TaskSubmitted for `.waitForTaskToken`, whose task then waits
    for the callback without the function running.
    """
    events = list(events)
    following = {event.get("previousEventId"): event for event in events}
    found = []
    for event in events:
        details = event.get("taskScheduledEventDetails") or {}
        if event.get("type") != "TaskScheduled" or details.get("resourceType") != "lambda":
            continue
        parameters = json.loads(details.get("parameters") or "{}")
        function = str(parameters.get("FunctionName", "?")).rsplit(":function:", 1)[-1]
        started = following.get(event.get("id")) or {}
        ended = following.get(started.get("id")) or {}
        seconds = None
        if started.get("type") == "TaskStarted" and ended.get("type") in _ANSWERED:
            took = _datetime(ended["timestamp"]) - _datetime(started["timestamp"])
            seconds = max(0.0, took.total_seconds())
        found.append(LambdaTask(function.split(":")[0], seconds))
    return found


def _datetime(value: Any) -> dt.datetime:
    """A history timestamp: a datetime from boto3, its text from a saved history."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


# --- reading it from AWS --------------------------------------------------------------------

Client = Callable[[str], Any]


def run_cost(
    client: Client,
    region: str,
    steps: Iterable[Mapping[str, Any]],
    execution_arn: str | None = None,
    endpoint_name: str | None = None,
    events: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The estimate of one run: its pipeline steps (ListPipelineExecutionSteps), and for a
    full run its Step Functions execution and the endpoint it deployed. `client` makes a
    boto3 client by service name, for the local AWS or an account; `events`, the execution's
    history if the caller has it already (else it is read)."""
    usage = collect(client, region, steps, execution_arn, endpoint_name, events)
    return estimate(usage, load_prices())


def collect(
    client: Client,
    region: str,
    steps: Iterable[Mapping[str, Any]],
    execution_arn: str | None = None,
    endpoint_name: str | None = None,
    events: Sequence[Mapping[str, Any]] | None = None,
) -> Usage:
    """What the run used, read through the AWS APIs, several calls at once (a run's estimate
    must not slow the run down)."""
    sagemaker = client("sagemaker")
    problems: list[str] = []
    if execution_arn is not None and events is None:
        try:
            events = sfn_client.history(client("stepfunctions"), execution_arn)
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"the execution's history could not be read ({exc})")
    tasks = lambda_tasks(events or [])
    lambda_ = client("lambda") if tasks else None
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="cost") as pool:
        jobs = [pool.submit(_job, sagemaker, step) for step in steps]
        hosting = None
        if endpoint_name and events:
            started, ended = execution_times(events)
            hosting = pool.submit(_hosting, sagemaker, endpoint_name, started, ended)
        invocations = pool.submit(_invocations, lambda_, tasks) if lambda_ else None
        variants: tuple[Hosting, ...] = ()
        if hosting is not None:
            try:
                variants = hosting.result()
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"endpoint {endpoint_name} could not be read ({exc})")
        called: tuple[Invocation, ...] = ()
        if invocations is not None:
            try:
                called = invocations.result()
            except (ClientError, BotoCoreError) as exc:
                problems.append(f"the Lambda functions could not be read ({exc})")
        return Usage(
            region,
            tuple(job for future in jobs if (job := future.result()) is not None),
            variants,
            state_transitions(events) if events else None,
            called,
            tuple(problems),
        )


def execution_times(events: Sequence[Mapping[str, Any]]) -> tuple[dt.datetime, dt.datetime]:
    """When the execution started and ended (now, if it has not), from its history."""
    started = _datetime(events[0]["timestamp"])
    ended = next(
        (
            _datetime(event["timestamp"])
            for event in reversed(events)
            if event.get("type") in _EXECUTION_ENDS
        ),
        dt.datetime.now(dt.UTC),
    )
    return started, ended


def _job(sagemaker: Any, step: Mapping[str, Any]) -> Job | None:
    """The step's job, or None for a step that runs no billed job."""
    metadata = step.get("Metadata") or {}
    name = str(step.get("StepName", "?"))
    if "TrainingJob" in metadata:
        kind, arn = "Training", metadata["TrainingJob"].get("Arn")
    elif "ProcessingJob" in metadata:
        kind, arn = "Processing", metadata["ProcessingJob"].get("Arn")
    elif "QualityCheck" in metadata:
        kind, arn = "Processing", metadata["QualityCheck"].get("CheckJobArn")
    elif "TransformJob" in metadata:
        kind, arn = "Transform", metadata["TransformJob"].get("Arn")
    else:
        return None
    reused = (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    if reused:
        return Job(name, kind, reused_from=str(reused))
    if kind == "Transform":
        return Job(name, kind, problem=f"transform jobs have no prices in core/{PRICES_FILE}")
    if not arn:
        return Job(name, kind, problem="the step recorded no job")
    job_name = str(arn).rsplit("/", 1)[-1]
    try:
        if kind == "Training":
            described = sagemaker.describe_training_job(TrainingJobName=job_name)
            resources_ = described.get("ResourceConfig") or {}
            times = described.get("TrainingStartTime"), described.get("TrainingEndTime")
            billable = described.get("BillableTimeInSeconds")
        else:
            described = sagemaker.describe_processing_job(ProcessingJobName=job_name)
            resources_ = (described.get("ProcessingResources") or {}).get("ClusterConfig") or {}
            times = described.get("ProcessingStartTime"), described.get("ProcessingEndTime")
            billable = None
    except (ClientError, BotoCoreError) as exc:
        return Job(name, kind, problem=f"the job {job_name} could not be read ({exc})")
    start, end = times
    return Job(
        name,
        kind,
        instance_type=resources_.get("InstanceType"),
        instance_count=int(resources_.get("InstanceCount") or 1),
        seconds=(end - start).total_seconds() if start and end else None,
        billable_seconds=float(billable) if billable is not None else None,
    )


def _hosting(
    sagemaker: Any, endpoint_name: str, started: dt.datetime, ended: dt.datetime
) -> tuple[Hosting, ...]:
    """The endpoint's variants and the seconds they served between `started` and `ended`."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    if described.get("EndpointStatus") not in _SERVING:
        return ()
    since = max(started, described.get("LastModifiedTime") or started)
    seconds = max(0.0, (ended - since).total_seconds())
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    current = {v.get("VariantName"): v for v in described.get("ProductionVariants") or []}
    variants = []
    for variant in config.get("ProductionVariants") or []:
        name = variant.get("VariantName", "?")
        serverless = variant.get("ServerlessConfig")
        count = (current.get(name) or {}).get("CurrentInstanceCount")
        variants.append(
            Hosting(
                endpoint=endpoint_name,
                variant=name,
                seconds=seconds,
                instance_type=variant.get("InstanceType"),
                instance_count=int(count or variant.get("InitialInstanceCount") or 1),
                serverless_memory_mb=serverless.get("MemorySizeInMB") if serverless else None,
            )
        )
    return tuple(variants)


def _invocations(lambda_: Any, tasks: list[LambdaTask]) -> tuple[Invocation, ...]:
    configured = {}
    for function in dict.fromkeys(task.function for task in tasks):
        configuration = lambda_.get_function_configuration(FunctionName=function)
        configured[function] = (
            int(configuration.get("MemorySize") or 128),
            (configuration.get("Architectures") or ["x86_64"])[0],
        )
    return tuple(
        Invocation(task.function, *configured[task.function], task.seconds) for task in tasks
    )
