"""Endpoint fleets: CreateEndpoint's instances loading their models, and UpdateEndpoint's
blue/green deployments with traffic shifting, baking periods and auto-rollback on CloudWatch
alarms.

CreateEndpoint (API reference): "When SageMaker receives the request, it sets the endpoint
status to Creating. After it creates the endpoint, it sets the status to InService." Locally the
endpoint is Creating while every production variant's model loads as InvokeEndpoint will serve
it (`localaws.runtime_seam.provision`, kept loaded by `localaws.hosting`), then InService; when
one cannot load, Failed, with SageMaker's FailureReason for a container that does not come up
("The primary container for production variant ... did not pass the ping health check. ...")
followed by the container's own error.

moto has no UpdateEndpoint (`localaws.sagemaker_seam` adds it). "When you update your endpoint,
Amazon SageMaker AI automatically uses a blue/green deployment" (developer guide, "Blue/Green
Deployments"; also "Deployment guardrails", "Use all at once / canary / linear traffic
shifting", "Auto-Rollback Configuration and Monitoring"; API reference UpdateEndpoint,
DeploymentConfig, BlueGreenUpdatePolicy, TrafficRoutingConfig, CapacitySize,
AutoRollbackConfig): a green fleet with the new endpoint config comes up beside the blue one
serving the old config, and traffic shifts to it

- ALL_AT_ONCE: all of it in one step;
- CANARY: first CanarySize of the green fleet's capacity (at most 50%), then the rest;
- LINEAR: in steps of LinearStepSize (10-50% of the capacity).

The green fleet's models load first, as at creation; if one cannot, no traffic moves and the
endpoint is InService on the old config with the FailureReason of a failed creation. Every
step, the last one included, is followed by a baking period of WaitIntervalInSeconds; then
TerminationWaitInSeconds pass before the blue fleet goes and the endpoint is InService on the
new config, with the DeploymentConfig as LastDeploymentConfig. Meanwhile the endpoint is
Updating, with PendingDeploymentSummary naming the new config. If any alarm of the
AutoRollbackConfiguration is in ALARM during a bake (evaluated every POLL_SECONDS by
`localaws.alarms`), or MaximumExecutionTimeoutInSeconds passes, all traffic goes back to blue:
the endpoint is RollingBack for ROLLBACK_SECONDS, then InService on the old config with a
FailureReason naming the alarms. A share in CAPACITY_PERCENT is that percentage of the green
fleet's instances, in INSTANCE_COUNT that many of them (a serverless variant counts as one).
A RollingUpdatePolicy shifts as LINEAR does, in steps of its MaximumBatchSize (5-50%); without
an update policy the deployment is ALL_AT_ONCE with no bake ("If no update policy is
specified, SageMaker uses a blue/green deployment strategy with all at once traffic shifting by
default", API reference, DeploymentConfig). RetainDeploymentConfig reuses the endpoint's
LastDeploymentConfig. Without any DeploymentConfig the update is that default deployment too,
and LastDeploymentConfig stays as it was (nothing documents SageMaker's setting it then).

Locally both fleets are the two configs' models: `Deployment.fleet` is how
`localaws.runtime_seam` picks a fleet per request, by the deployment's current traffic share.
Each creation and deployment runs in a daemon thread. It stops when its endpoint is deleted,
when the account's SageMaker backend resets, and, within POLL_SECONDS of a wait, when the local
AWS account closes (a model being loaded finishes loading first).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError

from localaws import accounts, alarms

__all__ = [
    "Creation",
    "Deployment",
    "Plan",
    "create",
    "fleet_capacity",
    "plan",
    "provision",
    "stop",
    "switch",
    "update",
]

#: How often a bake evaluates its alarms and a deployment checks that it should go on.
POLL_SECONDS = 0.1
#: How long the endpoint stays RollingBack while the green fleet goes.
ROLLBACK_SECONDS = 0.2
#: How long a DeleteEndpoint or a reset waits for a deployment's thread to end.
JOIN_SECONDS = 5.0
#: The share of capacity each step size may take, in percent (API reference, TrafficRoutingConfig
#: and RollingUpdatePolicy).
STEP_LIMITS = {"CanarySize": (0, 50), "LinearStepSize": (10, 50), "MaximumBatchSize": (5, 50)}

#: SageMaker's FailureReason when an instance's container does not come up (as SageMaker
#: reports it, e.g. aws/sagemaker-python-sdk issue 787); locally the container's error follows.
HEALTH_CHECK_FAILED = (
    "The primary container for production variant {variant} did not pass the ping health "
    "check. Please check CloudWatch logs for this endpoint."
)

_LOCK = threading.RLock()


class _Stopped(Exception):
    """The deployment's endpoint or account is gone: the thread ends without a word."""


@dataclass(frozen=True)
class Plan:
    """A validated DeploymentConfig: the green fleet's traffic share after each step, and
    how long to bake, wait and watch."""

    shares: list[float]
    bake_seconds: float
    termination_seconds: float
    timeout_seconds: float | None
    alarm_names: list[str]


#: What SageMaker deploys without a DeploymentConfig: blue/green, all at once, no bake.
DEFAULT = Plan([1.0], 0.0, 0.0, None, [])


def plan(
    deployment_config: dict[str, Any], variants: list[dict[str, Any]], cloudwatch: Any
) -> Plan:
    """The plan of a DeploymentConfig for a green fleet of `variants`; ValidationError as
    SageMaker's when the config cannot be deployed."""
    blue_green = deployment_config.get("BlueGreenUpdatePolicy")
    rolling = deployment_config.get("RollingUpdatePolicy")
    if blue_green is not None and rolling is not None:
        raise ValidationError(
            message="DeploymentConfig takes one update policy: BlueGreenUpdatePolicy or "
            "RollingUpdatePolicy, not both."
        )
    capacity = fleet_capacity(variants)
    names = [
        str(a["AlarmName"])
        for a in (deployment_config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    ]
    missing = [n for n in names if n not in cloudwatch.alarms]
    if missing:
        raise ValidationError(
            message=f"AutoRollbackConfiguration names CloudWatch alarm(s) that do not exist: "
            f"[{', '.join(missing)}]."
        )
    if rolling is not None:
        step = _share("MaximumBatchSize", rolling.get("MaximumBatchSize"), capacity)
        return Plan(
            _steps(step),
            float(rolling.get("WaitIntervalInSeconds") or 0),
            0.0,
            _seconds(rolling.get("MaximumExecutionTimeoutInSeconds")),
            names,
        )
    policy = blue_green or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
    kind = routing.get("Type")
    if kind == "ALL_AT_ONCE":
        shares = [1.0]
    elif kind == "CANARY":
        shares = [_share("CanarySize", routing.get("CanarySize"), capacity), 1.0]
    elif kind == "LINEAR":
        shares = _steps(_share("LinearStepSize", routing.get("LinearStepSize"), capacity))
    else:
        raise ValidationError(
            message=f"TrafficRoutingConfiguration Type {kind!r} is not one of ALL_AT_ONCE, "
            "CANARY, LINEAR."
        )
    return Plan(
        shares,
        float(routing.get("WaitIntervalInSeconds") or 0),
        float(policy.get("TerminationWaitInSeconds") or 0),
        _seconds(policy.get("MaximumExecutionTimeoutInSeconds")),
        names,
    )


def fleet_capacity(variants: list[dict[str, Any]]) -> int:
    """The fleet's instances: InitialInstanceCount per variant, one per serverless variant."""
    total = sum(
        1 if v.get("ServerlessConfig") else int(v.get("InitialInstanceCount") or 1)
        for v in variants
    )
    return max(total, 1)


def _share(name: str, size: dict[str, Any] | None, capacity: int) -> float:
    """A CapacitySize as a share of the fleet (and of traffic), within its step's limits."""
    if not size:
        raise ValidationError(message=f"{name} is required for this traffic routing type.")
    kind, value = size.get("Type"), float(size.get("Value") or 0)
    if kind == "CAPACITY_PERCENT":
        share, given = value / 100, f"{value:g}% of capacity"
    elif kind == "INSTANCE_COUNT":
        share, given = value / capacity, f"{value:g} instance(s)"
    else:
        raise ValidationError(
            message=f"{name} Type {kind!r} is not one of INSTANCE_COUNT, CAPACITY_PERCENT."
        )
    low, high = STEP_LIMITS[name]
    if not low / 100 <= share <= high / 100 or share <= 0:
        limits = f"at most {high}%" if not low else f"{low}% to {high}%"
        raise ValidationError(
            message=f"{name} ({given}) must be {limits} of the new fleet's capacity of "
            f"{capacity} instance(s); it is {share:.0%}."
        )
    return share


def _steps(step: float) -> list[float]:
    shares = []
    reached = step
    while reached < 1 - 1e-9:
        shares.append(round(reached, 9))
        reached += step
    return [*shares, 1.0]


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


# --- the endpoint's threads ----------------------------------------------------------------


class _Task:
    """Work on one endpoint in a daemon thread: provisioning or a deployment. It ends when
    `stop` is called (DeleteEndpoint, a reset), when the endpoint goes, and, within
    POLL_SECONDS of a sleep, when the local AWS account closes."""

    endpoint_name: str
    _stop: threading.Event
    _thread: threading.Thread | None

    def fleet(self, config_name: str) -> str | None:
        """The config that answers a request to the endpoint serving `config_name` while this
        runs, or None when the endpoint is not deploying (the runtime seam asks per request)."""
        return None

    def stop(self) -> None:
        """End the work where it is (the endpoint or its account is going)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_SECONDS)

    def _launch(
        self, kind: str, backend: Any, endpoint: Any, run: Callable[[Callable[[], bool]], None]
    ) -> None:
        """Start `run(alive)` in a thread named `<kind>-<endpoint>`; alive() tells whether the
        endpoint and its account are still there."""
        account = accounts.account(backend.account_id)

        def alive() -> bool:
            if account is not None and accounts.account(backend.account_id) is not account:
                return False
            return backend.endpoints.get(self.endpoint_name) is endpoint

        self._thread = threading.Thread(
            target=run, args=(alive,), name=f"{kind}-{self.endpoint_name}", daemon=True
        )
        self._thread.start()

    def _sleep(self, seconds: float, alive: Callable[[], bool]) -> None:
        if self._stop.wait(seconds) or not alive():
            raise _Stopped


@dataclass(eq=False)
class Creation(_Task):
    """A CreateEndpoint in progress: the endpoint's instances start and load their models."""

    endpoint_name: str
    #: DescribeEndpointConfig of the endpoint's config.
    config: dict[str, Any]
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self, backend: Any, endpoint: Any) -> None:
        self._launch(
            "creation", backend, endpoint, lambda alive: self._run(backend, endpoint, alive)
        )

    def _run(self, backend: Any, endpoint: Any, alive: Callable[[], bool]) -> None:
        reason = provision(backend, self.config)
        with _LOCK:
            if backend._deployments.get(self.endpoint_name) is not self or not alive():
                return
            # Out of the registry before the status changes: a request that sees InService
            # never finds the creation still registered.
            del backend._deployments[self.endpoint_name]
            endpoint.failure_reason = reason
            endpoint.endpoint_status = "InService" if reason is None else "Failed"
            endpoint.last_modified_time = utcnow()


@dataclass(eq=False)
class Deployment(_Task):
    """An UpdateEndpoint in progress: which configs are blue and green, and the traffic share."""

    endpoint_name: str
    blue: str
    green: str
    plan: Plan
    #: The UpdateEndpoint's DeploymentConfig (None: SageMaker's default deployment).
    deployment_config: dict[str, Any] | None
    #: DescribeEndpointConfig of the green config.
    green_config: dict[str, Any]
    #: The share of requests the green fleet answers; the runtime seam reads it per request.
    green_share: float = 0.0
    started: datetime = field(default_factory=utcnow)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def routes_to_green(self) -> bool:
        """Whether this request goes to the green fleet (drawn by the current share)."""
        share = self.green_share
        return share >= 1 or (share > 0 and random.random() < share)

    def fleet(self, config_name: str) -> str | None:
        if self.blue == config_name and self.routes_to_green():
            return self.green
        return config_name

    def start(self, backend: Any, endpoint: Any, cloudwatch: Any) -> None:
        self._launch(
            "deployment",
            backend,
            endpoint,
            lambda alive: self._run(backend, endpoint, cloudwatch, alive),
        )

    def _run(self, backend: Any, endpoint: Any, cloudwatch: Any, alive: Callable[[], bool]) -> None:
        deadline = None
        if self.plan.timeout_seconds is not None:
            deadline = time.monotonic() + self.plan.timeout_seconds
        try:
            # The green fleet starts first: no traffic moves to models that cannot load.
            reason = provision(backend, self.green_config)
            self._sleep(0, alive)
            if reason is None:
                reason = self._shift(endpoint, cloudwatch, alive, deadline)
                if reason is not None:
                    self._roll_back(backend, endpoint, alive)
        except _Stopped:
            return
        except Exception as exc:  # a local fault must not leave the endpoint Updating
            self.green_share = 0.0
            reason = f"The deployment failed locally: {type(exc).__name__}: {exc}"
        self._finish(backend, endpoint, reason)

    def _roll_back(self, backend: Any, endpoint: Any, alive: Callable[[], bool]) -> None:
        """All traffic back to blue: RollingBack for ROLLBACK_SECONDS while green goes."""
        with _LOCK:
            if backend._deployments.get(self.endpoint_name) is not self:
                raise _Stopped
            self.green_share = 0.0
            endpoint.endpoint_status = "RollingBack"
            endpoint.last_modified_time = utcnow()
        self._sleep(ROLLBACK_SECONDS, alive)

    def _shift(
        self, endpoint: Any, cloudwatch: Any, alive: Callable[[], bool], deadline: float | None
    ) -> str | None:
        """Shift and bake step by step: None when all traffic is green, else why it is not."""
        for share in self.plan.shares:
            self.green_share = share
            endpoint.pending_deployment_summary = self._summary("Baking")
            reason = self._bake(self.plan.bake_seconds, cloudwatch, alive, deadline)
            if reason is not None:
                return reason
        endpoint.pending_deployment_summary = self._summary("Updating")
        return self._bake(self.plan.termination_seconds, None, alive, deadline)

    def _bake(
        self, seconds: float, cloudwatch: Any, alive: Callable[[], bool], deadline: float | None
    ) -> str | None:
        """Wait `seconds`, watching the alarms when given: why to roll back, or None."""
        until = time.monotonic() + seconds
        while True:
            if cloudwatch is not None and self.plan.alarm_names:
                names = alarms.tripped(cloudwatch, self.plan.alarm_names)
                if names:
                    return (
                        f"Rolled back to {self.blue}: CloudWatch alarm(s) [{', '.join(names)}] "
                        "went into ALARM during the deployment's baking period."
                    )
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return (
                    f"Rolled back to {self.blue}: the deployment did not complete within "
                    f"MaximumExecutionTimeoutInSeconds ({self.plan.timeout_seconds:g} s)."
                )
            if now >= until:
                return None
            left = until - now if deadline is None else min(until, deadline) - now
            self._sleep(min(POLL_SECONDS, max(left, 0.0)), alive)

    def _finish(self, backend: Any, endpoint: Any, reason: str | None) -> None:
        with _LOCK:
            if backend._deployments.get(self.endpoint_name) is not self:
                return
            if self.deployment_config is not None:
                endpoint.last_deployment_config = copy.deepcopy(self.deployment_config)
            if reason is None:
                switch(endpoint, self.green_config)
            endpoint.failure_reason = reason
            endpoint.pending_deployment_summary = None
            endpoint.endpoint_status = "InService"
            endpoint.last_modified_time = utcnow()
            del backend._deployments[self.endpoint_name]

    def _summary(self, status: str) -> dict[str, Any]:
        """PendingDeploymentSummary (API reference, DescribeEndpoint)."""
        variants = []
        for variant in self.green_config.get("ProductionVariants") or []:
            summary = {
                "VariantName": variant["VariantName"],
                "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
                "DesiredInstanceCount": variant.get("InitialInstanceCount"),
                "CurrentInstanceCount": variant.get("InitialInstanceCount"),
                "InstanceType": variant.get("InstanceType"),
                "DesiredServerlessConfig": variant.get("ServerlessConfig"),
                "VariantStatus": [{"Status": status, "StartTime": utcnow()}],
            }
            variants.append({k: v for k, v in summary.items() if v is not None})
        return {
            "EndpointConfigName": self.green,
            "ProductionVariants": variants,
            "StartTime": self.started,
        }


# --- CreateEndpoint and UpdateEndpoint -------------------------------------------------------


def create(backend: Any, endpoint: Any, config: dict[str, Any]) -> None:
    """CreateEndpoint's instances start: the endpoint is Creating until the models of `config`
    (DescribeEndpointConfig's answer) have loaded, then InService, or Failed with a
    FailureReason."""
    with _LOCK:
        creation = Creation(endpoint.endpoint_name, config)
        backend._deployments[endpoint.endpoint_name] = creation
        endpoint.endpoint_status = "Creating"
        endpoint.failure_reason = None
        creation.start(backend, endpoint)


def update(
    backend: Any,
    endpoint: Any,
    config: dict[str, Any],
    deployment_config: dict[str, Any] | None,
    retain_deployment_config: bool = False,
) -> str:
    """UpdateEndpoint to `config` (DescribeEndpointConfig's answer); returns the endpoint's ARN.

    ValidationError as SageMaker's while the endpoint is being created or deployed, when it has
    failed, or when the DeploymentConfig cannot be deployed.
    """
    from moto.cloudwatch.models import cloudwatch_backends

    with _LOCK:
        _check_updatable(backend, endpoint)
        if not deployment_config and retain_deployment_config:
            deployment_config = getattr(endpoint, "last_deployment_config", None)
        cloudwatch = cloudwatch_backends[backend.account_id][backend.region_name]
        variants = config.get("ProductionVariants") or []
        deployment = Deployment(
            endpoint_name=endpoint.endpoint_name,
            blue=endpoint.endpoint_config_name,
            green=config["EndpointConfigName"],
            plan=plan(deployment_config, variants, cloudwatch) if deployment_config else DEFAULT,
            deployment_config=copy.deepcopy(deployment_config) if deployment_config else None,
            green_config=config,
        )
        backend._deployments[endpoint.endpoint_name] = deployment
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint.pending_deployment_summary = deployment._summary("Creating")
        endpoint.last_modified_time = utcnow()
        deployment.start(backend, endpoint, cloudwatch)
    return str(endpoint.arn)


def _check_updatable(backend: Any, endpoint: Any) -> None:
    """ValidationError unless the endpoint is InService with nothing in progress: a failed
    endpoint takes DeleteEndpoint only (API reference, DescribeEndpoint, EndpointStatus)."""
    status = endpoint.endpoint_status
    if endpoint.endpoint_name not in backend._deployments and status == "InService":
        return
    if status == "Failed":
        raise ValidationError(
            message=f'Cannot update failed endpoint "{endpoint.arn}": DeleteEndpoint is the '
            "only operation a failed endpoint takes."
        )
    raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')


def provision(backend: Any, config: dict[str, Any]) -> str | None:
    """Start the instances of `config` (DescribeEndpointConfig's answer): every production
    variant's model loaded as InvokeEndpoint serves it (`localaws.runtime_seam.provision`,
    cached by `localaws.hosting`). None when they all load, else the FailureReason."""
    from localaws import runtime_seam

    for variant in config.get("ProductionVariants") or []:
        try:
            runtime_seam.provision(backend, variant)
        except (Exception, SystemExit) as exc:  # a container that exits fails its check too
            return (
                HEALTH_CHECK_FAILED.format(variant=variant.get("VariantName"))
                + f" The container's error: {runtime_seam.container_error(exc)}"
            )
    return None


def switch(endpoint: Any, config: dict[str, Any]) -> None:
    """Serve `config` (DescribeEndpointConfig's answer) from now on."""
    endpoint.endpoint_config_name = config["EndpointConfigName"]
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    endpoint.last_modified_time = utcnow()


def stop(backend: Any, endpoint_name: str | None = None) -> None:
    """End the deployment of one endpoint (every endpoint's when None), where it is."""
    with _LOCK:
        registry: dict[str, Deployment] = getattr(backend, "_deployments", {})
        names = list(registry) if endpoint_name is None else [endpoint_name]
        stopping = [d for d in (registry.pop(n, None) for n in names) if d is not None]
    for deployment in stopping:
        deployment.stop()
