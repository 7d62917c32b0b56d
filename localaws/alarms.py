"""Seam: CloudWatch alarms that change state, evaluated as CloudWatch does from moto's data.

moto stores alarms (PutMetricAlarm) and datapoints (PutMetricData, and the endpoint metrics of
`localaws.runtime_seam`) but never evaluates an alarm: its state stays where PutMetricAlarm or
SetAlarmState left it (pinned by tests/test_localaws_rollout.py). `evaluate` follows the
CloudWatch User Guide, "Evaluating an alarm" and "How alarm state is evaluated when data is
missing" (awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md):

- The alarm's metric is the datapoints of its Namespace, MetricName and exactly its Dimensions
  (and Unit, when it names one). Each Period, aligned on the epoch, gives one datapoint: the
  alarm's Statistic, or its ExtendedStatistic when that is a percentile (pNN or pNN.N). The
  period in progress counts as far as it has come, so a bake of seconds sees its own requests.
- The evaluation range is the EvaluationPeriods + 2 most recent periods (the guide's example
  retrieves 5 for 3). When at least EvaluationPeriods of them have data, the most recent
  EvaluationPeriods datapoints are evaluated and TreatMissingData does not matter. Otherwise
  every datapoint there is evaluated, plus as few filled-in ones as make EvaluationPeriods:
  `breaching` fills in breaching ones, `notBreaching` non-breaching ones, `missing` (the
  default) and `ignore` none. With no data in the range, `missing` gives INSUFFICIENT_DATA and
  `ignore` keeps the state.
- ALARM when at least DatapointsToAlarm (default EvaluationPeriods) of the evaluated datapoints
  breach, or, when fewer than that are evaluated, when they all breach; else OK. (The guide's
  tables disagree with each other about a lone datapoint; this follows its text.)

A change of state goes through moto's own `Alarm.update_state`, with a StateReason worded as
CloudWatch words it ("Threshold Crossed: 1 datapoint [3.0 (30/11/26 05:00:00)] was greater than
the threshold (0.0).") and a StateReasonData document shaped like CloudWatch's. A state set by
SetAlarmState lasts "until the next alarm comparison" (the guide, "Common features"): locally
until the alarm's Period has passed or a datapoint of its metrics is put, whatever its time.

Alarms on metric math (Metrics) are evaluated the same way when the query that returns data
(ReturnData) is a MetricStat, one metric id, or MAX, MIN, SUM or AVG of a list of metric ids
(`MAX([m1,m2,m3])`, as the drift alarm of deploy/template.py is written), the ids those of
MetricStats of one Period. Each period's datapoint is then the function of the metrics'
datapoints of that period, each its MetricStat's Stat ("The MAX value of an array of time
series returns a single time series": the guide, "Metric math syntax and functions"). A period
where no metric has data has no datapoint; AVG counts a metric without data as 0 ("Missing
values are treated as 0"), as does SUM; MAX and MIN take the metrics with data (the guide does
not say). Other metric math, composite alarms and anomaly-detection operators are not
evaluated here: their state is what SetAlarmState makes it.

`install()` makes DescribeAlarms and DescribeAlarmsForMetric evaluate the alarms they return, so
an alarm read through the API is current, as on CloudWatch; endpoint deployments
(`localaws.deployments`) evaluate their rollback alarms throughout each baking period.
`LocalCloudWatchBackend.prune` drops old datapoints of given metrics: moto keeps every
datapoint in memory, and the runtime seam keeps its invocation metrics to a few hours.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDataQuery,
    MetricDatum,
    cloudwatch_backends,
)

__all__ = ["LocalCloudWatchBackend", "evaluate", "install", "tripped"]

#: CloudWatch's comparison operators for a static threshold, as StateReason words them.
OPERATORS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}
#: Periods retrieved beyond EvaluationPeriods: the evaluation range.
EXTRA_PERIODS = 2
#: The statistics of a period, besides percentiles.
STATISTICS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
#: The metric math functions evaluated over a list of metric ids, per period.
MATH_FUNCTIONS = frozenset({"MAX", "MIN", "SUM", "AVG"})
#: The TreatMissingData settings that fill in missing datapoints.
_FILLING = frozenset({"breaching", "notBreaching"})
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?|100)")
_MATH_CALL = re.compile(r"\s*([A-Z]+)\s*\(\s*\[([^\[\]]*)\]\s*\)\s*")
_MATH_ID = re.compile(r"\s*([a-z][A-Za-z0-9_]*)\s*")
_EPOCH = dt.datetime(1970, 1, 1)
#: Alarms whose state SetAlarmState set: when, and how many datapoints were stored then.
_SET_BY_HAND: weakref.WeakKeyDictionary[Alarm, tuple[dt.datetime, int]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
#: Guards a backend's datapoints while they are put, pruned or read with their drop count.
_DATA_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Point:
    """One period's datapoint: its start, the statistic, and the samples it was made of."""

    start: dt.datetime
    value: float
    samples: float


def evaluate(alarm: Alarm, backend: CloudWatchBackend, now: dt.datetime | None = None) -> str:
    """Evaluate one alarm from the backend's datapoints; returns its state afterwards.

    `now` is naive UTC, as moto's timestamps are (default: the current time).
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rule = _Rule.of(alarm)
    if rule is None:
        return str(alarm.state_value)
    with _LOCK:
        data, dropped = _snapshot(backend)
        if _held(alarm, rule, data, dropped, now):
            return str(alarm.state_value)
        since = rule.range_start(now)
        samples = [d for d in data if _naive(d.timestamp) >= since and rule.measures(d)]
        outcome = rule.decide(alarm.state_value, _points(rule, samples, now))
        if outcome is not None and outcome.state != alarm.state_value:
            alarm.update_state(outcome.reason, outcome.data(rule, now), outcome.state)
    return str(alarm.state_value)


def tripped(backend: CloudWatchBackend, names: Iterable[str]) -> list[str]:
    """Of the named alarms that exist, those in ALARM once evaluated, in the order given."""
    found = []
    for name in names:
        alarm = backend.alarms.get(name)
        if alarm is not None and evaluate(alarm, backend) == "ALARM":
            found.append(name)
    return found


class LocalCloudWatchBackend(CloudWatchBackend):
    """moto's CloudWatch backend whose alarms are evaluated whenever they are read."""

    # moto derives URL routing from the backend's module: keep moto's own.
    __module__ = CloudWatchBackend.__module__

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        #: How many datapoints `prune` has dropped.
        self.pruned = 0

    def _evaluated(self, alarms: Iterable[Alarm]) -> list[Alarm]:
        listed = list(alarms)
        for alarm in listed:
            evaluate(alarm, self)
        return listed

    def describe_alarms(self) -> Iterable[Alarm]:
        return self._evaluated(super().describe_alarms())

    def get_alarms_by_action_prefix(self, action_prefix: str) -> Iterable[Alarm]:
        return self._evaluated(super().get_alarms_by_action_prefix(action_prefix))

    def get_alarms_by_alarm_name_prefix(self, name_prefix: str) -> Iterable[Alarm]:
        return self._evaluated(super().get_alarms_by_alarm_name_prefix(name_prefix))

    def get_alarms_by_alarm_names(self, alarm_names: list[str]) -> Iterable[Alarm]:
        return self._evaluated(super().get_alarms_by_alarm_names(alarm_names))

    def get_alarms_by_state_value(self, target_state: str) -> Iterable[Alarm]:
        self._evaluated(self.alarms.values())
        return list(super().get_alarms_by_state_value(target_state))

    def set_alarm_state(
        self, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        super().set_alarm_state(alarm_name, reason, reason_data, state_value)
        alarm = self.alarms[alarm_name]
        with _LOCK:
            data, dropped = _snapshot(self)
            _SET_BY_HAND[alarm] = (alarm.state_updated_timestamp, dropped + len(data))

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        with _DATA_LOCK:
            super().put_metric_data(namespace, metric_data)

    def prune(self, namespace: str, names: frozenset[str], before: dt.datetime) -> int:
        """Drop the datapoints of the namespace's named metrics timestamped before `before`
        (naive UTC); returns how many went. The runtime seam keeps its invocation metrics to a
        few hours this way (localaws.runtime_seam)."""
        with _DATA_LOCK:
            kept = [
                d
                for d in self.metric_data
                if d.namespace != namespace or d.name not in names or _naive(d.timestamp) >= before
            ]
            gone = len(self.metric_data) - len(kept)
            if gone:
                self.metric_data[:] = kept
                self.pruned += gone
        return gone


def install() -> None:
    """Make every CloudWatch backend moto creates from now on the local one (idempotent)."""
    cloudwatch_backends.backend = LocalCloudWatchBackend


# --- the alarm's rule ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    state: str
    reason: str
    recent: list[_Point]

    def data(self, rule: _Rule, now: dt.datetime) -> str:
        """StateReasonData, shaped like CloudWatch's."""
        document: dict[str, Any] = {
            "version": "1.0",
            "queryDate": _iso(now),
            **({"statistic": rule.statistic} if rule.function is None else {}),
            "period": rule.period,
            "recentDatapoints": [p.value for p in self.recent],
            "threshold": rule.threshold,
        }
        if self.recent:
            document["startDate"] = _iso(self.recent[-1].start)
            document["evaluatedDatapoints"] = [
                {"timestamp": _iso(p.start), "sampleCount": p.samples, "value": p.value}
                for p in self.recent
            ]
        return json.dumps(document)


@dataclass(frozen=True)
class _Metric:
    """One metric an alarm reads: the datapoints of its Namespace, MetricName and exactly its
    Dimensions (and Unit, when it names one), one statistic per period."""

    namespace: str
    name: str
    dimensions: frozenset[tuple[str | None, str | None]]
    unit: str | None
    statistic: str
    percentile: float | None

    def measures(self, datum: Any) -> bool:
        """Whether a stored datapoint is of this metric."""
        return (
            datum.name == self.name
            and datum.namespace == self.namespace
            and (not self.unit or datum.unit == self.unit)
            and {(d.name, d.value) for d in datum.dimensions} == self.dimensions
        )


@dataclass(frozen=True)
class _Rule:
    """What an evaluable alarm compares, and how."""

    #: The single metric's statistic, as StateReasonData names it ("" for metric math).
    statistic: str
    operator: str
    threshold: float
    period: int
    periods: int
    to_alarm: int
    missing: str
    #: The metrics read: the alarm's one, or the metric math's.
    metrics: tuple[_Metric, ...]
    #: The metric math function of the metrics' datapoints (MATH_FUNCTIONS), None for one.
    function: str | None = None

    @classmethod
    def of(cls, alarm: Alarm) -> _Rule | None:
        """The alarm's rule, or None for alarms this seam does not evaluate."""
        if alarm.rule is not None:
            return None
        if alarm.comparison_operator not in OPERATORS or alarm.threshold is None:
            return None
        if alarm.metric_data_queries:
            found = _metric_math(alarm.metric_data_queries)
            if found is None:
                return None
            function, metrics, period, statistic = *found, ""
        else:
            stat = _stat(alarm.statistic or alarm.extended_statistic)
            if not alarm.metric_name or stat is None:
                return None
            dimensions = frozenset((d.name, d.value) for d in alarm.dimensions)
            metric = _Metric(alarm.namespace, alarm.metric_name, dimensions, alarm.unit, *stat)
            function, metrics, period, statistic = None, (metric,), alarm.period, stat[0]
        periods = max(int(alarm.evaluation_periods or 1), 1)
        return cls(
            statistic=statistic,
            operator=alarm.comparison_operator,
            threshold=float(alarm.threshold),
            period=max(int(period or 60), 1),
            periods=periods,
            to_alarm=min(max(int(alarm.datapoints_to_alarm or periods), 1), periods),
            missing=alarm.treat_missing_data or "missing",
            metrics=metrics,
            function=function,
        )

    def measures(self, datum: Any) -> bool:
        """Whether a stored datapoint is of one of the alarm's metrics."""
        return any(metric.measures(datum) for metric in self.metrics)

    def combine(self, start: dt.datetime, points: list[_Point | None]) -> _Point | None:
        """One period's datapoint from each metric's (None where a metric has none)."""
        present = [p for p in points if p is not None]
        if not present:
            return None
        values = [p.value for p in present]
        samples = sum(p.samples for p in present)
        if self.function == "MAX":
            value = max(values)
        elif self.function == "MIN":
            value = min(values)
        elif self.function == "SUM":
            value = sum(values)
        elif self.function == "AVG":
            value = sum(values) / len(points)  # a metric without data counts as 0
        else:
            value = values[0]
        return _Point(start, value, samples)

    def range_start(self, now: dt.datetime) -> dt.datetime:
        return _period_start(now, self.period) - dt.timedelta(
            seconds=self.period * (self.periods + EXTRA_PERIODS - 1)
        )

    def breaches(self, value: float) -> bool:
        if self.operator == "GreaterThanThreshold":
            return value > self.threshold
        if self.operator == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        if self.operator == "LessThanThreshold":
            return value < self.threshold
        return value <= self.threshold

    def decide(self, state: str, points: list[_Point]) -> _Outcome | None:
        """The state the datapoints (oldest first) call for; None keeps the state."""
        if len(points) >= self.periods:
            evaluated, filled = points[-self.periods :], 0
        elif points:
            evaluated = points
            filled = self.periods - len(points) if self.missing in _FILLING else 0
        elif self.missing == "ignore":
            return None
        elif self.missing in _FILLING:
            evaluated, filled = [], self.periods
        else:
            count = self.periods + EXTRA_PERIODS
            reason = f"Insufficient Data: {_count(count, 'datapoint')} {_was(count)} unknown."
            return _Outcome("INSUFFICIENT_DATA", reason, [])
        fill_breaches = self.missing == "breaching"
        breaches = sum(self.breaches(p.value) for p in evaluated) + filled * fill_breaches
        alarm = breaches >= min(self.to_alarm, len(evaluated) + filled)
        new = "ALARM" if alarm else "OK"
        recent = list(reversed(evaluated))  # newest first, as CloudWatch lists them
        listed = [p for p in recent if self.breaches(p.value) == alarm]
        return _Outcome(new, self._reason(state, new, listed, filled, fill_breaches), recent)

    def _reason(
        self, old: str, new: str, listed: list[_Point], filled: int, fill_breaches: bool
    ) -> str:
        words = OPERATORS[self.operator] if new == "ALARM" else f"not {OPERATORS[self.operator]}"
        treated = "Breaching" if fill_breaches else "NonBreaching"
        if not listed and filled:
            return (
                f"Threshold Crossed: no datapoints were received for {_count(filled, 'period')} "
                f"and {_count(filled, 'missing datapoint')} {_was(filled)} treated as "
                f"[{treated}]."
            )
        values = ", ".join(f"{p.value!r} ({p.start:%d/%m/%y %H:%M:%S})" for p in listed)
        counted = len(listed) + (filled if fill_breaches == (new == "ALARM") else 0)
        minimum = self.to_alarm if new == "ALARM" else self.periods - self.to_alarm + 1
        if self.periods == 1 or (new == "ALARM" and self.to_alarm == self.periods):
            reason = (
                f"Threshold Crossed: {_count(counted, 'datapoint')} [{values}] {_was(counted)} "
                f"{words} the threshold ({self.threshold!r})."
            )
        else:
            reason = (
                f"Threshold Crossed: {counted} out of the last {self.periods} datapoints "
                f"[{values}] {_was(counted)} {words} the threshold ({self.threshold!r}) "
                f"(minimum {_count(minimum, 'datapoint')} for {old} -> {new} transition)."
            )
        if filled:
            reason += (
                f" {_count(filled, 'missing datapoint')} {_was(filled)} treated as [{treated}]."
            )
        return reason


# --- datapoints ---------------------------------------------------------------------------


def _stat(name: str | None) -> tuple[str, float | None] | None:
    """(statistic, percentile) of a Statistic, ExtendedStatistic or Stat this seam computes."""
    if name in STATISTICS:
        return str(name), None
    match = _PERCENTILE.fullmatch(name or "")
    return (str(name), float(match.group(1))) if match is not None else None


def _metric_math(
    queries: list[MetricDataQuery],
) -> tuple[str | None, tuple[_Metric, ...], int] | None:
    """(function, metrics, period) of metric math this seam evaluates (module docstring)."""
    returned = [q for q in queries if str(q.return_data).lower() != "false"]
    if len(returned) != 1:
        return None
    by_id = {q.id: q for q in queries}
    top = returned[0]
    function: str | None = None
    if not top.expression:
        used: list[MetricDataQuery | None] = [top]
    elif (call := _MATH_CALL.fullmatch(top.expression)) and call.group(1) in MATH_FUNCTIONS:
        function = call.group(1)
        used = [by_id.get(i.strip()) for i in call.group(2).split(",")]
    elif one := _MATH_ID.fullmatch(top.expression):
        used = [by_id.get(one.group(1))]
    else:
        return None
    metrics, periods = [], set()
    for query in used:
        metric_stat = query.metric_stat if query is not None else None
        stat = _stat(metric_stat.stat) if metric_stat is not None else None
        if metric_stat is None or stat is None:
            return None
        metric = metric_stat.metric
        dimensions = frozenset((d.name, d.value) for d in metric.dimensions)
        metrics.append(
            _Metric(metric.namespace, metric.metric_name, dimensions, metric_stat.unit, *stat)
        )
        periods.add(int(metric_stat.period or 60))
    if len(periods) != 1:
        return None
    return function, tuple(metrics), periods.pop()


def _points(rule: _Rule, samples: list[Any], now: dt.datetime) -> list[_Point]:
    """One datapoint per period of the evaluation range that has data, oldest first."""
    by_metric = [_metric_points(rule, metric, samples, now) for metric in rule.metrics]
    starts = sorted({start for points in by_metric for start in points})
    combined = (rule.combine(start, [p.get(start) for p in by_metric]) for start in starts)
    return [point for point in combined if point is not None]


def _metric_points(
    rule: _Rule, metric: _Metric, samples: list[Any], now: dt.datetime
) -> dict[dt.datetime, _Point]:
    """The metric's datapoint of each period that has data, by the period's start."""
    periods: dict[dt.datetime, list[Any]] = {}
    for datum in samples:
        if not metric.measures(datum):
            continue
        start = _period_start(_naive(datum.timestamp), rule.period)
        if start <= now:
            periods.setdefault(start, []).append(datum)
    points = {}
    for start, data in periods.items():
        point = _statistic(metric, start, data)
        if point is not None:
            points[start] = point
    return points


def _statistic(metric: _Metric, start: dt.datetime, data: list[Any]) -> _Point | None:
    values = [float(d.value) for d in data if isinstance(d, MetricDatum)]
    sets = [d for d in data if isinstance(d, MetricAggregatedDatum)]
    count = len(values) + sum(float(s.sample_count) for s in sets)
    if metric.percentile is not None:
        if not values:
            return None
        ordered = sorted(values)
        rank = max(math.ceil(metric.percentile / 100 * len(ordered)), 1)
        return _Point(start, ordered[rank - 1], float(count))
    if not count:
        return None
    total = sum(values) + sum(float(s.sum) for s in sets)
    value = {
        "Sum": lambda: total,
        "SampleCount": lambda: count,
        "Average": lambda: total / count,
        "Minimum": lambda: min([*values, *(float(s.min) for s in sets)]),
        "Maximum": lambda: max([*values, *(float(s.max) for s in sets)]),
    }[metric.statistic]()
    return _Point(start, value, float(count))


def _snapshot(backend: CloudWatchBackend) -> tuple[list[Any], int]:
    """The backend's datapoints, and how many `prune` has dropped before them."""
    with _DATA_LOCK:
        return list(backend.metric_data), getattr(backend, "pruned", 0)


def _held(alarm: Alarm, rule: _Rule, data: list[Any], dropped: int, now: dt.datetime) -> bool:
    """Whether a state SetAlarmState gave still holds: until a period has passed or a datapoint
    of one of the alarm's metrics has been put since.

    The datapoints put since are those after the count stored then (counting those pruned
    since: pruning drops hours-old datapoints, put long before any state that still holds).
    """
    by_hand = _SET_BY_HAND.get(alarm)
    if by_hand is None or by_hand[0] != alarm.state_updated_timestamp:
        return False
    if (now - by_hand[0]).total_seconds() >= rule.period:
        return False
    return not any(rule.measures(d) for d in data[max(by_hand[1] - dropped, 0) :])


# --- wording ------------------------------------------------------------------------------


def _period_start(moment: dt.datetime, period: int) -> dt.datetime:
    seconds = int((moment - _EPOCH).total_seconds())
    return _EPOCH + dt.timedelta(seconds=seconds - seconds % period)


def _naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _iso(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _was(number: int) -> str:
    return "was" if number == 1 else "were"
