"""constraints.json as Model Monitor suggests it, and constraint_violations.json as it reports.

Suggested constraints follow "Schema for Constraints (constraints.json file)" (SageMaker
developer guide, model-monitor-byoc-constraints): per feature its `name`, `inferred_type`,
`completeness` ("observed non-null value percentage", as a fraction), `num_constraints
.is_non_negative` for numbers and `string_constraints.domains` ("observed values for small
cardinality") for strings; then `monitoring_config`. Small cardinality is Deequ's
CategoricalRangeRule: at most 120 distinct values (Deequ's histogram threshold) of which at
most a tenth occur once, listed most frequent first. The monitoring_config is the one the
analyzer writes: the documented defaults of the distribution constraints (comparison_threshold
0.1, comparison_method Robust, categorical_comparison_threshold 0.1, categorical_drift_method
LInfinity), and datatype_check_threshold and domain_content_threshold 1.0, "Expected match:
100.0%" in Model Monitor's own reports (the guide's table gives 0.1 as the default when the
key is absent; a missing key is read as 1.0 here, the value the analyzer suggests).

Violations follow "Schema for Violations (constraint_violations.json file)" (model-monitor-
interpreting-violations): `{"violations": [{feature_name, constraint_check_type,
description}]}` with the documented check types:

- data_type_check: the share of present values of the expected type (Integral values count as
  Fractional) is below datatype_check_threshold. Worded as Model Monitor's reports are: "Data
  type match requirement is not met. Expected data type: Integral, Expected match: 100.0%.
  Observed: Only 90.0% of data is Integral."
- completeness_check: the share of present values is below the feature's completeness.
- baseline_drift_check: the distance between the baseline's distribution and the current one
  is more than comparison_threshold (numbers) or categorical_comparison_threshold (strings):
  "Baseline drift distance: 0.71 exceeds threshold: 0.1". The guide defines the distance:
  "the maximum absolute difference between the cumulative distribution functions of two
  distributions" (linf_simple; comparison_method Simple) and linf_robust (Robust), "based on
  the Two-sample Kolmogorov-Smirnov test". Robust is Deequ's formula (awslabs/deequ,
  analyzers/Distance.scala, `selectMetrics`): max(0, linf_simple - 1.8 sqrt((n + m) / (n m)))
  for n baseline and m current values, 1.8 being c(alpha) for alpha 0.003. Categorical
  features use the L-infinity distance of the value frequencies, with the same choice. The
  baseline's distribution is its statistics' KLL sketch, the current one this dataset's.
  ChiSquared (categorical_drift_method) is not computed here: asking for it is an error.
- missing_column_check / extra_column_check: a constraints feature absent from the data, a
  data column absent from the constraints, one violation per column.
- categorical_values_check: the share of present values inside the feature's domains is below
  domain_content_threshold.

Beyond the documented types, a feature whose constraint says is_non_negative and that has
negative values is reported with the check type `non_negative_check` (NON_NEGATIVE_CHECK):
the guide's list has no type for the is_non_negative constraint it suggests. Only the
data_type_check and baseline_drift_check wordings are Model Monitor's as published; the other
descriptions follow their pattern. `evaluate_constraints` Disabled reports nothing;
`perform_comparison` Disabled skips the drift check; a feature's `monitoringConfigOverrides`
override the monitoring_config for that feature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from localaws.model_monitor.statistics import (
    FRACTIONAL,
    INTEGRAL,
    NUMERIC_TYPES,
    STRING,
    VERSION,
)

DATA_TYPE_CHECK = "data_type_check"
COMPLETENESS_CHECK = "completeness_check"
BASELINE_DRIFT_CHECK = "baseline_drift_check"
MISSING_COLUMN_CHECK = "missing_column_check"
EXTRA_COLUMN_CHECK = "extra_column_check"
CATEGORICAL_VALUES_CHECK = "categorical_values_check"
NON_NEGATIVE_CHECK = "non_negative_check"

#: Deequ's ColumnProfiler keeps a histogram (and so suggests domains) up to this many values.
DOMAIN_CARDINALITY = 120
#: Deequ's CategoricalRangeRule: at most this share of the distinct values may occur once.
DOMAIN_SINGLETON_SHARE = 0.1
#: c(alpha) of the robust distance (Deequ's default, alpha 0.003).
ROBUST_C_ALPHA = 1.8
MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


# --- suggestion ---------------------------------------------------------------------------


def suggest_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from a baseline's statistics.json."""
    items = int((statistics.get("dataset") or {}).get("item_count") or 0)
    return {
        "version": VERSION,
        "features": [_suggest(feature, items) for feature in statistics.get("features") or []],
        "monitoring_config": _copy(MONITORING_CONFIG),
    }


def _suggest(feature: dict[str, Any], items: int) -> dict[str, Any]:
    inferred = feature.get("inferred_type")
    block = _stats_block(feature)
    present = int((block.get("common") or {}).get("num_present") or 0)
    suggested: dict[str, Any] = {
        "name": feature["name"],
        "inferred_type": inferred,
        "completeness": present / items if items else 0.0,
    }
    if inferred in NUMERIC_TYPES and "min" in block:
        suggested["num_constraints"] = {"is_non_negative": bool(block["min"] >= 0)}
    elif inferred == STRING:
        domain = _domain(_categories(feature))
        if domain is not None:
            suggested["string_constraints"] = {"domains": domain}
    return suggested


def _domain(categories: dict[str, float]) -> list[str] | None:
    if not categories or len(categories) > DOMAIN_CARDINALITY:
        return None
    singletons = sum(1 for count in categories.values() if count == 1)
    if singletons / len(categories) > DOMAIN_SINGLETON_SHARE:
        return None
    return [value for value, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))]


# --- violations ---------------------------------------------------------------------------


def violations(
    current: dict[str, Any], constraints: dict[str, Any], baseline: dict[str, Any]
) -> dict[str, Any]:
    """constraint_violations.json: `current` statistics checked against the baseline's
    constraints and, for drift, against the baseline's statistics."""
    config = constraints.get("monitoring_config") or {}
    if config.get("evaluate_constraints", "Enabled") != "Enabled":
        return {"violations": []}
    observed = {f["name"]: f for f in current.get("features") or []}
    expected = [f for f in constraints.get("features") or [] if "name" in f]
    before = {f["name"]: f for f in baseline.get("features") or []}
    distances = drift_distances(current, constraints, baseline)
    counts = (
        f"Number of columns in current dataset: {len(observed)}, "
        f"Number of columns in baseline constraints: {len(expected)}"
    )
    found: list[dict[str, str]] = []
    for constraint in expected:
        name = constraint["name"]
        feature = observed.get(name)
        if feature is None:
            text = f"There are missing columns in current dataset. {counts}"
            found.append(_violation(name, MISSING_COLUMN_CHECK, text))
            continue
        settings = _settings(config, constraint)
        found.extend(_feature_violations(constraint, feature, settings))
        drift = _drift_violation(name, distances.get(name), before.get(name), settings)
        if drift is not None:
            found.append(drift)
    known = {f["name"] for f in expected}
    for name in (n for n in observed if n not in known):
        text = f"There are extra columns in current dataset. {counts}"
        found.append(_violation(name, EXTRA_COLUMN_CHECK, text))
    return {"violations": found}


def _feature_violations(
    constraint: dict[str, Any], feature: dict[str, Any], settings: dict[str, Any]
) -> Iterable[dict[str, str]]:
    name = constraint["name"]
    checks = (
        _data_type(constraint, feature, settings),
        _completeness(constraint, feature),
        _non_negative(constraint, feature),
        _domain_content(constraint, feature, settings),
    )
    return (_violation(name, kind, text) for kind, text in filter(None, checks))


def _data_type(
    constraint: dict[str, Any], feature: dict[str, Any], settings: dict[str, Any]
) -> tuple[str, str] | None:
    kind = constraint.get("inferred_type")
    if kind not in NUMERIC_TYPES:
        return None
    counts = feature.get("data_type_counts")
    if isinstance(counts, dict):
        present = sum(int(v) for v in counts.values())
        matching = int(counts.get(INTEGRAL, 0))
        if kind == FRACTIONAL:
            matching += int(counts.get(FRACTIONAL, 0))
    else:  # statistics without the counts: all or nothing by the inferred type
        present = 1
        compatible = {INTEGRAL: (INTEGRAL,), FRACTIONAL: NUMERIC_TYPES}[kind]
        matching = int(feature.get("inferred_type") in compatible)
    if not present:
        return None
    threshold = float(settings.get("datatype_check_threshold", 1.0))
    if matching / present >= threshold:
        return None
    return DATA_TYPE_CHECK, (
        f"Data type match requirement is not met. Expected data type: {kind}, Expected match: "
        f"{threshold * 100.0}%. Observed: Only {100.0 * matching / present}% of data is {kind}."
    )


def _completeness(constraint: dict[str, Any], feature: dict[str, Any]) -> tuple[str, str] | None:
    required = constraint.get("completeness")
    common = _stats_block(feature).get("common") or {}
    present = int(common.get("num_present") or 0)
    total = present + int(common.get("num_missing") or 0)
    if required is None or not total or present / total >= float(required) - 1e-12:
        return None
    return COMPLETENESS_CHECK, (
        f"Data completeness requirement is not met. Expected completeness: "
        f"{float(required) * 100.0}%. Observed: Only {100.0 * present / total}% of data is "
        "complete."
    )


def _non_negative(constraint: dict[str, Any], feature: dict[str, Any]) -> tuple[str, str] | None:
    if not (constraint.get("num_constraints") or {}).get("is_non_negative"):
        return None
    block = feature.get("numerical_statistics") or {}
    if "min" not in block or block["min"] >= 0:
        return None
    values, weights = sketch_values(block)
    total = float(weights.sum())
    negative = float(weights[values < 0].sum())
    return NON_NEGATIVE_CHECK, (
        "Data non-negativity requirement is not met. Expected: no negative values. Observed: "
        f"{100.0 * negative / total}% of data is negative (min {block['min']})."
    )


def _domain_content(
    constraint: dict[str, Any], feature: dict[str, Any], settings: dict[str, Any]
) -> tuple[str, str] | None:
    domain = (constraint.get("string_constraints") or {}).get("domains")
    categories = _categories(feature)
    if not domain or not categories:
        return None
    allowed = set(map(str, domain))
    total = sum(categories.values())
    inside = sum(count for value, count in categories.items() if value in allowed)
    threshold = float(settings.get("domain_content_threshold", 1.0))
    if inside / total >= threshold:
        return None
    unknown = sorted(v for v in categories if v not in allowed)[:10]
    return CATEGORICAL_VALUES_CHECK, (
        f"Data domain requirement is not met. Expected match: {threshold * 100.0}%. Observed: "
        f"Only {100.0 * inside / total}% of data is within the baseline domain; values outside "
        f"it include {', '.join(unknown)}."
    )


def _drift_violation(
    name: str,
    distance: float | None,
    baseline: dict[str, Any] | None,
    settings: dict[str, Any],
) -> dict[str, str] | None:
    if distance is None or baseline is None:
        return None
    distribution = settings.get("distribution_constraints") or {}
    threshold = float(distribution.get("comparison_threshold", 0.1))
    if baseline.get("inferred_type") not in NUMERIC_TYPES:
        threshold = float(distribution.get("categorical_comparison_threshold", threshold))
    if distance <= threshold:
        return None
    return _violation(
        name,
        BASELINE_DRIFT_CHECK,
        f"Baseline drift distance: {distance} exceeds threshold: {threshold}",
    )


def _violation(name: str, kind: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": kind, "description": description}


# --- distances ----------------------------------------------------------------------------


def drift_distances(
    current: dict[str, Any], constraints: dict[str, Any], baseline: dict[str, Any]
) -> dict[str, float]:
    """Each compared feature's distance from the baseline (see the module docstring).

    A feature is compared when the constraints' distribution comparison is Enabled for it and
    the baseline and current statistics both hold a distribution of the same kind (a KLL
    sketch, or categorical buckets) with at least one value.
    """
    config = constraints.get("monitoring_config") or {}
    per_feature = {f["name"]: f for f in constraints.get("features") or [] if "name" in f}
    before = {f["name"]: f for f in baseline.get("features") or [] if "name" in f}
    distances: dict[str, float] = {}
    for feature in current.get("features") or []:
        name = feature.get("name")
        if name not in before:
            continue
        settings = _settings(config, per_feature.get(name) or {})
        distribution = settings.get("distribution_constraints") or {}
        if distribution.get("perform_comparison", "Enabled") != "Enabled":
            continue
        robust = _robust(distribution.get("comparison_method", "Robust"), name)
        distance = _distance(before[name], feature, distribution, robust)
        if distance is not None:
            distances[name] = distance
    return distances


def _distance(
    baseline: dict[str, Any], current: dict[str, Any], distribution: dict[str, Any], robust: bool
) -> float | None:
    old_numbers, new_numbers = _numerical(baseline), _numerical(current)
    if old_numbers is not None and new_numbers is not None:
        return numerical_distance(*old_numbers, *new_numbers, robust=robust)
    old_categories, new_categories = _categories(baseline), _categories(current)
    if old_numbers is None and new_numbers is None and old_categories and new_categories:
        method = distribution.get("categorical_drift_method", "LInfinity")
        if method != "LInfinity":
            raise ValueError(
                f"feature {current.get('name')}: categorical_drift_method {method!r} is not "
                "computed locally; use LInfinity"
            )
        return categorical_distance(old_categories, new_categories, robust=robust)
    return None


def _robust(method: Any, name: str) -> bool:
    if method in ("Robust", "linf_robust"):
        return True
    if method in ("Simple", "linf_simple"):
        return False
    raise ValueError(f"feature {name}: comparison_method {method!r}: expected Robust or Simple")


def numerical_distance(
    old_values: np.ndarray,
    old_weights: np.ndarray,
    new_values: np.ndarray,
    new_weights: np.ndarray,
    robust: bool,
) -> float:
    """L-infinity distance of two weighted samples' CDFs, at every point either holds."""
    points = np.union1d(old_values, new_values)
    old_cdf, n = _cdf(old_values, old_weights, points)
    new_cdf, m = _cdf(new_values, new_weights, points)
    return _select(float(np.abs(old_cdf - new_cdf).max()), n, m, robust)


def categorical_distance(old: dict[str, float], new: dict[str, float], robust: bool) -> float:
    """L-infinity distance of two value frequency tables."""
    n, m = sum(old.values()), sum(new.values())
    linf = max(abs(old.get(v, 0.0) / n - new.get(v, 0.0) / m) for v in set(old) | set(new))
    return _select(linf, n, m, robust)


def _select(linf_simple: float, n: float, m: float, robust: bool) -> float:
    if not robust:
        return linf_simple
    return max(0.0, linf_simple - ROBUST_C_ALPHA * math.sqrt((n + m) / (n * m)))


def _cdf(values: np.ndarray, weights: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, float]:
    """The weighted share of values <= each point, and the total weight."""
    order = np.argsort(values, kind="stable")
    ordered, cumulative = values[order], np.cumsum(weights[order])
    total = float(cumulative[-1])
    below = np.searchsorted(ordered, points, side="right")
    return np.where(below > 0, cumulative[np.maximum(below - 1, 0)], 0.0) / total, total


def sketch_values(block: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A numerical_statistics block's KLL sketch as (values, weights): level h weighs 2^h."""
    levels = ((block.get("distribution") or {}).get("kll") or {}).get("sketch", {}).get("data")
    levels = levels or []
    values = np.concatenate([np.asarray(level, dtype=float) for level in levels] or [np.empty(0)])
    weights = np.concatenate(
        [np.full(len(level), 2.0**height) for height, level in enumerate(levels)] or [np.empty(0)]
    )
    return values, weights


def _numerical(feature: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    block = feature.get("numerical_statistics")
    if not isinstance(block, dict):
        return None
    values, weights = sketch_values(block)
    return (values, weights) if len(values) else None


def _categories(feature: dict[str, Any]) -> dict[str, float]:
    block = feature.get("string_statistics") or {}
    buckets = ((block.get("distribution") or {}).get("categorical") or {}).get("buckets") or []
    return {str(b["value"]): float(b["count"]) for b in buckets if float(b.get("count", 0)) > 0}


# --- helpers ------------------------------------------------------------------------------


def _stats_block(feature: dict[str, Any]) -> dict[str, Any]:
    return feature.get("numerical_statistics") or feature.get("string_statistics") or {}


def _settings(config: dict[str, Any], constraint: dict[str, Any]) -> dict[str, Any]:
    """The monitoring_config with the feature's monitoringConfigOverrides applied."""
    overrides = constraint.get("monitoringConfigOverrides") or {}
    merged = {**MONITORING_CONFIG, **config, **overrides}
    merged["distribution_constraints"] = {
        **MONITORING_CONFIG["distribution_constraints"],
        **(config.get("distribution_constraints") or {}),
        **(overrides.get("distribution_constraints") or {}),
    }
    return merged


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in document.items()}
