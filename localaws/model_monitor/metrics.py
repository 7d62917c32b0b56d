"""The CloudWatch datapoints a data-quality monitoring execution of an endpoint publishes.

SageMaker developer guide, "CloudWatch Metrics" of Model Monitor (model-monitor-interpreting-
cloudwatch): when the baseline constraints' `emit_metrics` is Enabled, the analyzer emits per
feature `feature_data_<name>` (numbers: Max, Min, Sum, SampleCount, Average), and for every
feature `feature_non_null_<name>` (completeness) and `feature_baseline_drift_<name>` (the drift
distance). Namespace and dimensions are those Model Monitor's data-quality metrics carry and
alarms on them name: `aws/sagemaker/Endpoints/data-metrics` with `Endpoint` and
`MonitoringSchedule` (the guide's "CloudWatch Metrics for Bring Your Own Containers" and
"Monitoring ... with CloudWatch" pages; its built-in-container page spells them
`/aws/sagemaker/Endpoints/data-metric`, EndpointName and ScheduleName, which the published
metrics do not use).

The datapoints are returned in PutMetricData's MetricData shape; this module publishes
nothing. feature_data_<name> is one StatisticValues datapoint (SampleCount, Sum, Minimum,
Maximum), from which CloudWatch derives the Average; the others carry a Value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from localaws.model_monitor.constraints import drift_distances

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def cloudwatch_metrics(
    current: dict[str, Any],
    constraints: dict[str, Any],
    baseline: dict[str, Any],
    endpoint: str,
    schedule: str,
    timestamp: dt.datetime,
) -> list[dict[str, Any]]:
    """The MetricData of one execution (for NAMESPACE); none when emit_metrics is Disabled."""
    if (constraints.get("monitoring_config") or {}).get("emit_metrics", "Enabled") != "Enabled":
        return []
    dimensions = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]

    def datum(name: str, **value: Any) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": dimensions, "Timestamp": timestamp, **value}

    distances = drift_distances(current, constraints, baseline)
    items = max(int((current.get("dataset") or {}).get("item_count") or 0), 1)
    data = []
    for feature in current.get("features") or []:
        name = feature["name"]
        numbers = feature.get("numerical_statistics")
        block = numbers or feature.get("string_statistics") or {}
        present = int((block.get("common") or {}).get("num_present") or 0)
        if numbers and present:
            statistic = {
                "SampleCount": float(present),
                "Sum": float(numbers["sum"]),
                "Minimum": float(numbers["min"]),
                "Maximum": float(numbers["max"]),
            }
            data.append(datum(f"feature_data_{name}", StatisticValues=statistic))
        data.append(datum(f"feature_non_null_{name}", Value=present / items))
        if name in distances:
            data.append(datum(f"feature_baseline_drift_{name}", Value=distances[name]))
    return data
