"""Seam: SageMaker Model Monitor's monitoring schedules, whose executions really run.

moto 5.2.5's SageMaker has the DataQualityJobDefinition calls but no monitoring schedule and no
monitoring execution: CreateMonitoringSchedule and the seven calls below answer
NotImplementedError (tests/test_localaws_monitoring.py pins it). This seam adds them to moto's
`SageMakerResponse` (`install()`), keeps the schedules and executions on the local AWS account
(`Account.monitoring`, a `Monitoring`), and runs the executions
(`localaws.monitoring_executions`: the endpoint's captured traffic analysed by
`localaws.model_monitor`, the reports in S3, the metrics in CloudWatch).

The calls follow the SageMaker API reference and botocore's sagemaker model:

- CreateMonitoringSchedule: MonitoringScheduleConfig with a ScheduleConfig and either a
  MonitoringJobDefinition or a MonitoringJobDefinitionName with MonitoringType (DataQuality:
  the name of a DataQualityJobDefinition of moto's, resolved when each execution runs). The
  schedule is Pending, then Scheduled ("observe that the MonitoringScheduleStatus ... changes
  to Scheduled": developer guide, "Schedule monitoring jobs"). ResourceInUse for a name in
  use; ValidationException for a config SageMaker refuses or the local AWS does not run
  (`localaws.monitoring_schedules`: the ScheduleExpressions SageMaker takes, NOW's window,
  an endpoint that does not exist, DataQuality of one EndpointInput only).
- DescribeMonitoringSchedule (ResourceNotFound for a name not found), with
  LastMonitoringExecutionSummary once an execution ran; ListMonitoringSchedules with its
  filters (EndpointName, NameContains, StatusEquals, MonitoringJobDefinitionName,
  MonitoringTypeEquals, the Creation/LastModified times), SortBy Name, CreationTime (default)
  or Status, SortOrder Descending (default) or Ascending, MaxResults (default 10) and
  NextToken.
- UpdateMonitoringSchedule (the config replaced and checked as on create; the schedule goes
  through Pending again unless Stopped), DeleteMonitoringSchedule (its executions stay listed:
  "This does not delete the job execution history"), StopMonitoringSchedule (Stopped: no
  execution runs) and StartMonitoringSchedule (Scheduled again); ResourceNotFound for a name
  not found.
- ListMonitoringExecutions: MonitoringExecutionSummaries (Pending, InProgress, Completed,
  CompletedWithViolations, Failed) with the same filters plus MonitoringScheduleName and the
  ScheduledTime range, SortBy CreationTime (default), ScheduledTime or Status.

SageMaker enforces limits this seam does not: schedules per account (ResourceLimitExceeded),
and whether an endpoint may have two schedules of one type is not documented: both are allowed.

When executions run (`Monitoring`): `LocalAWS.run_monitoring_schedules()` runs every Scheduled
schedule (or the one named) at once, in the caller's thread, and returns the executions'
summaries. Otherwise one clock thread per account runs them: every `monitor_every` seconds
when the local AWS was started with it, each Scheduled schedule but the one-time ones; else
at the hours of each schedule's own cron expression, on the hour (SageMaker adds a delay of up
to 20 minutes; locally there is none, and an hour missed while the process slept runs once).
A `NOW` schedule runs once, as soon as it is Scheduled. Executions of an account run one at a
time. Closing the account stops the clock after the execution in progress, if any: nothing
runs for the account once its `local_aws()` has exited.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

from localaws import accounts
from localaws.accounts import Account
from localaws.monitoring_executions import Execution, Job, execute
from localaws.monitoring_schedules import (
    Schedule,
    check_config,
    check_name,
    job_definition,
    next_run,
    window,
)

__all__ = ["OPERATIONS", "Monitoring", "install", "monitoring", "moto_operations"]

_LOG = logging.getLogger(__name__)

#: The operations this seam adds to moto's SageMaker.
OPERATIONS = (
    "create_monitoring_schedule",
    "describe_monitoring_schedule",
    "list_monitoring_schedules",
    "update_monitoring_schedule",
    "delete_monitoring_schedule",
    "start_monitoring_schedule",
    "stop_monitoring_schedule",
    "list_monitoring_executions",
)
#: MaxResults when none is given (API reference: "The default value is 10").
DEFAULT_MAX_RESULTS = 10
#: The clock looks at the time at least this often (seconds), whatever the schedules say.
CLOCK_SECONDS = 60.0
#: How long closing an account waits for the execution in progress.
CLOSE_SECONDS = 60.0

_MOTO_OWN: dict[str, Any] = {}
_LOCK = threading.Lock()


# --- the account's state and clock ----------------------------------------------------------


class Monitoring:
    """One account's monitoring schedules and executions, and the clock that runs them."""

    def __init__(self, account_id: str, every: float | None = None) -> None:
        self.account_id = account_id
        #: Seconds between runs of every Scheduled schedule; None: each schedule's cron hours.
        self.every = every
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        #: One execution at a time per account (the clock's and run()'s).
        self._running = threading.Lock()
        self._schedules: dict[str, dict[str, Schedule]] = {}
        self._executions: list[Execution] = []
        self._clock: threading.Thread | None = None
        self._closed = False
        self._next_tick: float | None = None

    # --- the API's operations (SageMakerResponse handlers call these) --------------------

    def create(
        self, region: str, name: Any, config: dict[str, Any], tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        name = check_name(name)
        endpoint, kind, definition_name = check_config(self.account_id, region, config)
        schedule = Schedule(
            name=name,
            arn=arn_formatter("monitoring-schedule", name, self.account_id, region),
            region=region,
            config=config,
            monitoring_type=kind,
            endpoint_name=endpoint,
            job_definition_name=definition_name,
            tags=list(tags or []),
        )
        with self._lock:
            found = self._schedules.setdefault(region, {})
            if name in found:
                raise ResourceInUseException(
                    f"Resource Already Exists: Monitoring Schedule with name {name} already "
                    "exists. Choose a different name."
                )
            found[name] = schedule
            self._start_clock()
            self._wake.notify_all()
        return {"MonitoringScheduleArn": schedule.arn}

    def describe(self, region: str, name: str) -> dict[str, Any]:
        with self._lock:
            schedule = self._schedule(region, name)
            shown = {
                **schedule.summary(),
                "MonitoringScheduleConfig": schedule.config,
            }
            shown.pop("MonitoringJobDefinitionName", None)
            last = self._last_execution(schedule)
            if last is not None:
                shown["LastMonitoringExecutionSummary"] = last.summary()
            return shown

    def list_schedules(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = [s.summary() for s in self._schedules.get(region, {}).values()]
        filters = {
            "EndpointName": params.get("EndpointName"),
            "MonitoringScheduleStatus": params.get("StatusEquals"),
            "MonitoringJobDefinitionName": params.get("MonitoringJobDefinitionName"),
            "MonitoringType": params.get("MonitoringTypeEquals"),
        }
        contains = params.get("NameContains")
        found = [
            s
            for s in _filtered(found, filters, params)
            if not contains or str(contains) in s["MonitoringScheduleName"]
        ]
        sort_keys = {
            "Name": "MonitoringScheduleName",
            "CreationTime": "CreationTime",
            "Status": "MonitoringScheduleStatus",
        }
        page, token = _page(found, params, sort_keys)
        return {"MonitoringScheduleSummaries": page, **token}

    def update(self, region: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._schedule(region, name)
        endpoint, kind, definition_name = check_config(self.account_id, region, config)
        with self._lock:
            schedule = self._schedule(region, name)
            schedule.config = config
            schedule.endpoint_name, schedule.monitoring_type = endpoint, kind
            schedule.job_definition_name = definition_name
            schedule.modified = utcnow()
            schedule.ran = False
            if schedule.status != "Stopped":
                schedule.status = "Pending"
            schedule.next_run = next_run(schedule.expression, schedule.modified)
            self._wake.notify_all()
            return {"MonitoringScheduleArn": schedule.arn}

    def delete(self, region: str, name: str) -> None:
        with self._lock:
            schedule = self._schedule(region, name)
            del self._schedules[region][schedule.name]

    def start(self, region: str, name: str) -> None:
        with self._lock:
            schedule = self._schedule(region, name)
            if schedule.status == "Stopped":
                schedule.status, schedule.modified = "Scheduled", utcnow()
                schedule.next_run = next_run(schedule.expression, schedule.modified)
                self._wake.notify_all()

    def stop(self, region: str, name: str) -> None:
        with self._lock:
            schedule = self._schedule(region, name)
            schedule.status, schedule.modified = "Stopped", utcnow()

    def list_executions(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = [e.summary() for e in self._executions if e.region == region]
        filters = {
            "MonitoringScheduleName": params.get("MonitoringScheduleName"),
            "EndpointName": params.get("EndpointName"),
            "MonitoringExecutionStatus": params.get("StatusEquals"),
            "MonitoringJobDefinitionName": params.get("MonitoringJobDefinitionName"),
            "MonitoringType": params.get("MonitoringTypeEquals"),
        }
        found = _filtered(found, filters, params, times=("Scheduled", "Creation", "LastModified"))
        sort_keys = {
            "CreationTime": "CreationTime",
            "ScheduledTime": "ScheduledTime",
            "Status": "MonitoringExecutionStatus",
        }
        page, token = _page(found, params, sort_keys)
        return {"MonitoringExecutionSummaries": page, **token}

    # --- running -------------------------------------------------------------------------

    def run(self, name: str | None = None) -> list[dict[str, Any]]:
        """Run every Scheduled schedule (of every region), or the one named, now; returns the
        executions' summaries in the order they ran. One-time (NOW) schedules run by
        themselves and only when named here. ValueError for a name that is not a Scheduled
        schedule."""
        with self._lock:
            if self._closed:
                raise ValueError(f"account {self.account_id} is closed: nothing runs")
            self._promote()
            chosen = [
                s
                for region in self._schedules.values()
                for s in region.values()
                if s.status == "Scheduled" and (s.name == name if name else not s.one_time)
            ]
            if name is not None and not chosen:
                statuses = {s.status for r in self._schedules.values() for s in r.values()}
                known = any(name in r for r in self._schedules.values())
                raise ValueError(
                    f"monitoring schedule {name}: "
                    + (f"not Scheduled ({', '.join(sorted(statuses))})" if known else "not found")
                )
        now = utcnow().replace(microsecond=0)
        done = [self._execute(s, now) for s in chosen]
        return [_as_answered(e.summary()) for e in done if e is not None]

    def start_clock(self) -> None:
        """Start the clock now (the local AWS does when `monitor_every` is given)."""
        with self._lock:
            self._start_clock()

    def close(self) -> None:
        """Stop the clock after the execution in progress; nothing runs afterwards."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            clock = self._clock
        if clock is not None:
            clock.join(CLOSE_SECONDS)
            if clock.is_alive():
                _LOG.warning("a monitoring execution of %s still runs at close", self.account_id)

    def _start_clock(self) -> None:
        if self._clock is None and not self._closed:
            if self.every is not None:
                self._next_tick = time.monotonic() + self.every
            self._clock = threading.Thread(
                target=self._tick, name=f"monitoring-{self.account_id}", daemon=True
            )
            self._clock.start()

    def _tick(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                self._promote()
                due = self._due()
                if not due:
                    self._wake.wait(self._timeout())
                    continue
            for schedule, scheduled in due:
                with self._lock:
                    if self._closed:
                        return
                try:
                    self._execute(schedule, scheduled)
                except Exception:  # a bug must not stop the account's clock
                    _LOG.exception("monitoring schedule %s: execution failed", schedule.name)

    def _promote(self) -> None:
        """Pending schedules become Scheduled (under the lock)."""
        now = utcnow()
        for schedule in self._all():
            if schedule.status == "Pending":
                schedule.status = "Scheduled"
                schedule.next_run = next_run(schedule.expression, now)

    def _due(self) -> list[tuple[Schedule, dt.datetime]]:
        """The executions to run now, with their scheduled times (under the lock)."""
        now = utcnow()
        scheduled = [s for s in self._all() if s.status == "Scheduled"]
        due = [(s, now.replace(microsecond=0)) for s in scheduled if s.one_time and not s.ran]
        if self._next_tick is not None and self.every is not None:
            if time.monotonic() >= self._next_tick:
                self._next_tick += self.every
                if self._next_tick <= time.monotonic():  # an execution outlasted the period
                    self._next_tick = time.monotonic() + self.every
                due += [(s, now.replace(microsecond=0)) for s in scheduled if not s.one_time]
            return due
        for schedule in scheduled:
            if schedule.next_run is not None and schedule.next_run <= now:
                due.append((schedule, schedule.next_run))
                schedule.next_run = next_run(schedule.expression, now)
        return due

    def _timeout(self) -> float:
        """Seconds until the clock has something to do, at most CLOCK_SECONDS."""
        if self._next_tick is not None:
            return max(min(self._next_tick - time.monotonic(), CLOCK_SECONDS), 0.0)
        now = utcnow()
        waits = [
            (s.next_run - now).total_seconds()
            for s in self._all()
            if s.status == "Scheduled" and s.next_run is not None
        ]
        return max(min([*waits, CLOCK_SECONDS]), 0.0)

    def _execute(self, schedule: Schedule, scheduled: dt.datetime) -> Execution | None:
        """Run one execution of the schedule (unless it went meanwhile) to its end."""
        with self._running:
            with self._lock:
                if self._schedules.get(schedule.region, {}).get(schedule.name) is not schedule:
                    return None
                previous = self._last_execution(schedule)
                execution = Execution(
                    schedule_name=schedule.name,
                    region=schedule.region,
                    scheduled=scheduled,
                    endpoint_name=schedule.endpoint_name,
                    monitoring_type=schedule.monitoring_type,
                    job_definition_name=schedule.job_definition_name,
                )
                self._executions.append(execution)
                schedule.ran = True
                config = schedule.config
            try:
                definition = job_definition(self.account_id, schedule.region, config)
            except ValidationError as exc:
                execution.end("Failed", str(exc.message))
                return execution
            job = Job(
                schedule_name=schedule.name,
                schedule_arn=schedule.arn,
                definition=definition,
                window=window(config),
                consumed=schedule.consumed,
                previous=previous.scheduled if previous is not None else None,
            )
            execute(self.account_id, schedule.region, job, execution)
            return execution

    def _schedule(self, region: str, name: str) -> Schedule:
        found = self._schedules.get(region, {}).get(name)
        if found is None:
            arn = arn_formatter("monitoring-schedule", name, self.account_id, region)
            raise ResourceNotFound(f"Monitoring Schedule '{arn}' does not exist.")
        return found

    def _last_execution(self, schedule: Schedule) -> Execution | None:
        mine = [
            e
            for e in self._executions
            if e.region == schedule.region and e.schedule_name == schedule.name
        ]
        return max(mine, key=lambda e: e.created) if mine else None

    def _all(self) -> Iterable[Schedule]:
        return [s for region in self._schedules.values() for s in region.values()]


def monitoring(account: Account) -> Monitoring:
    """The account's monitoring state (made on first use)."""
    with account.lock:
        if not isinstance(account.monitoring, Monitoring):
            account.monitoring = Monitoring(account.account_id, account.monitor_every)
        return account.monitoring


# --- listing --------------------------------------------------------------------------------


def _filtered(
    found: list[dict[str, Any]],
    filters: dict[str, Any],
    params: dict[str, Any],
    times: tuple[str, ...] = ("Creation", "LastModified"),
) -> list[dict[str, Any]]:
    kept = [s for s in found if all(v is None or s.get(k) == v for k, v in filters.items())]
    for prefix in times:
        after, before = params.get(f"{prefix}TimeAfter"), params.get(f"{prefix}TimeBefore")
        if after is not None:
            kept = [s for s in kept if s[f"{prefix}Time"] > _instant(after)]
        if before is not None:
            kept = [s for s in kept if s[f"{prefix}Time"] < _instant(before)]
    return kept


def _page(
    found: list[dict[str, Any]], params: dict[str, Any], sort_keys: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    sort_by = str(params.get("SortBy") or "CreationTime")
    if sort_by not in sort_keys:
        raise ValidationError(f"SortBy {sort_by}: one of {', '.join(sort_keys)}.")
    order = str(params.get("SortOrder") or "Descending")
    if order not in ("Ascending", "Descending"):
        raise ValidationError(f"SortOrder {order}: Ascending or Descending.")
    key = sort_keys[sort_by]
    ordered = sorted(found, key=lambda s: (s[key], s["CreationTime"]))
    if order == "Descending":
        ordered.reverse()
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValidationError(f"Invalid pagination token {token}.") from None
    limit = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
    page = ordered[start : start + limit]
    more = {"NextToken": str(start + limit)} if start + limit < len(ordered) else {}
    return page, more


def _as_answered(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary as a client reads it from the API: times aware, to the millisecond."""
    return {
        k: v.replace(microsecond=v.microsecond // 1000 * 1000, tzinfo=dt.UTC)
        if isinstance(v, dt.datetime)
        else v
        for k, v in summary.items()
    }


def _instant(value: Any) -> dt.datetime:
    """A time filter's value (a datetime, epoch seconds or ISO 8601) as naive UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


# --- moto's SageMakerResponse ---------------------------------------------------------------


def _account_state(response: SageMakerResponse) -> Monitoring:
    account = accounts.account(response.current_account)
    if account is None:
        raise ValidationError("Monitoring schedules are served by a running local AWS only.")
    return monitoring(account)


def _handler(
    operation: Callable[[Monitoring, str, dict[str, Any]], dict[str, Any] | None],
) -> Callable[[SageMakerResponse], ActionResult]:
    def handle(self: SageMakerResponse) -> ActionResult:
        params = dict(self._get_params())
        answer = operation(_account_state(self), self.region, params)
        return EmptyResult() if answer is None else ActionResult(answer)

    return handle


_HANDLERS: dict[str, Callable[[Monitoring, str, dict[str, Any]], dict[str, Any] | None]] = {
    "create_monitoring_schedule": lambda m, region, p: m.create(
        region,
        p.get("MonitoringScheduleName"),
        p.get("MonitoringScheduleConfig") or {},
        p.get("Tags") or [],
    ),
    "describe_monitoring_schedule": lambda m, region, p: m.describe(
        region, str(p.get("MonitoringScheduleName"))
    ),
    "list_monitoring_schedules": lambda m, region, p: m.list_schedules(region, p),
    "update_monitoring_schedule": lambda m, region, p: m.update(
        region, str(p.get("MonitoringScheduleName")), p.get("MonitoringScheduleConfig") or {}
    ),
    "delete_monitoring_schedule": lambda m, region, p: m.delete(
        region, str(p.get("MonitoringScheduleName"))
    ),
    "start_monitoring_schedule": lambda m, region, p: m.start(
        region, str(p.get("MonitoringScheduleName"))
    ),
    "stop_monitoring_schedule": lambda m, region, p: m.stop(
        region, str(p.get("MonitoringScheduleName"))
    ),
    "list_monitoring_executions": lambda m, region, p: m.list_executions(region, p),
}


def install() -> None:
    """Add the monitoring schedule calls to moto's SageMaker (idempotent)."""
    with _LOCK:
        for name in OPERATIONS:
            current = SageMakerResponse.__dict__.get(name)
            if not getattr(current, "_monitoring_seam", False):
                _MOTO_OWN[name] = current
                handler = _handler(_HANDLERS[name])
                handler._monitoring_seam = True  # type: ignore[attr-defined]
                setattr(SageMakerResponse, name, handler)


def moto_operations() -> list[str]:
    """The OPERATIONS moto's SageMakerResponse had itself when the seam was installed: the pin
    (tests/test_localaws_monitoring.py) expects none."""
    with _LOCK:
        return [name for name, own in _MOTO_OWN.items() if own is not None]
