"""SageMaker Model Monitor's data-quality analysis, computed here in Model Monitor's own files.

Model Monitor's analyzer (the `sagemaker-model-monitor-analyzer` image, "based on Spark and
built with Deequ": SageMaker developer guide, "Amazon SageMaker Model Monitor prebuilt
container") cannot be pulled or run outside SageMaker, and no Python library does its job, so
the local AWS computes the same documents from the same inputs:

- `statistics(frame)` -> statistics.json ("Schema for Statistics (statistics.json file)");
- `suggest_constraints(statistics)` -> constraints.json ("Schema for Constraints
  (constraints.json file)"), what a baselining job suggests;
- `violations(current, constraints, baseline)` -> constraint_violations.json ("Schema for
  Violations (constraint_violations.json file)"), what a monitoring execution reports;
- `monitor(capture_files, baseline_statistics, baseline_constraints)` -> both of a monitoring
  execution over an endpoint's captured requests ("Capture data from real-time endpoint");
- `cloudwatch_metrics(...)` -> the datapoints such an execution publishes ("CloudWatch Metrics"
  of Model Monitor), for the caller to put.

Inputs come from `datasets`: a CSV dataset with or without a header, JSON lines, or capture
files. The pieces are pure functions over pandas and JSON-ready dicts: no AWS call is made.
Where the local result differs from Model Monitor's (exact values where the analyzer uses
sketches, a few descriptions whose wording AWS does not document), each module says so.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from localaws.model_monitor.constraints import (
    NON_NEGATIVE_CHECK,
    drift_distances,
    suggest_constraints,
    violations,
)
from localaws.model_monitor.datasets import read_captures, read_csv, read_dataset, read_json_lines
from localaws.model_monitor.metrics import NAMESPACE, cloudwatch_metrics
from localaws.model_monitor.statistics import statistics

__all__ = [
    "NAMESPACE",
    "NON_NEGATIVE_CHECK",
    "cloudwatch_metrics",
    "drift_distances",
    "monitor",
    "read_captures",
    "read_csv",
    "read_dataset",
    "read_json_lines",
    "statistics",
    "suggest_constraints",
    "violations",
]


def monitor(
    capture_files: Iterable[str | Path],
    baseline_statistics: dict[str, Any],
    baseline_constraints: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One data-quality monitoring execution over captured traffic: (statistics, violations).

    The requests in `capture_files` (endpoint capture JSON lines) are the current dataset; CSV
    requests without a header take the baseline constraints' feature names by position, since
    the baseline's column order is the order of the model's inputs.
    """
    names = [str(f.get("name")) for f in baseline_constraints.get("features") or []]
    frame = read_captures([Path(p) for p in capture_files], names)
    current = statistics(frame)
    return current, violations(current, baseline_constraints, baseline_statistics)
