"""The run report's metrics: each against the quality gate and against the champion.

summary.json's `metrics` (SageMaker's model-quality shape, of any kind: regression, binary or
multiclass classification), `quality_gate` ({"metric", "threshold", and the tolerance over the
champion}) and `champion` (the evaluation's comparison.json).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from mlops.history import PastRun
from mlops.report_html import as_mapping, as_number, as_text, facts, fmt, note, plain, section


def metrics_section(run: PastRun) -> str:
    """The metrics of each kind, against the quality gate and the champion when recorded."""
    title = "Metrics"
    metrics = run.field("metrics")
    if not isinstance(metrics, dict) or not metrics:
        why = (
            "No metrics: the pipeline did not get to its evaluation."
            if run.field("status") == "Failed"
            else "No metrics recorded for this run."
        )
        return section("metrics", title, note(why))
    gate = as_mapping(run.field("quality_gate"))
    report = as_mapping(run.field("champion"))
    compared = as_mapping(report.get("metrics"))
    body = [
        _gate_line(metrics, gate, compared),
        _champion_line(report, run.field("champion_run")),
    ]
    for group, values in metrics.items():
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            continue
        body.append(
            f"<h3>{escape(str(group).replace('_', ' '))}</h3>"
            + _metrics_table(values, gate, compared)
        )
    other = {k: v for k, v in metrics.items() if not isinstance(v, dict) and v not in (None, "")}
    if other:
        body.append(facts((k.replace("_", " "), v) for k, v in other.items()))
    return section("metrics", title, *body)


def _metrics_table(
    values: Mapping[str, dict[str, Any]], gate: Mapping[str, Any], compared: Mapping[str, Any]
) -> str:
    """One row per metric: its value, and against the champion and the gate when there are."""
    with_champion = any(
        as_mapping(compared.get(name)).get("champion") is not None for name in values
    )
    with_gate = gate.get("metric") in values
    head = ["metric", "this model", "± standard deviation"]
    head += ["champion", "difference", "better"] if with_champion else []
    head += ["gate"] if with_gate else []
    rows = []
    for name, value in values.items():
        against = as_mapping(compared.get(name))
        cells = [fmt(value.get("value")), fmt(value.get("standard_deviation"))]
        if with_champion:
            cells += [
                fmt(against.get("champion")),
                fmt(against.get("difference")),
                escape(as_text(against.get("better"))),
            ]
        if with_gate:
            cells.append(escape(_gate_cell(str(name), value.get("value"), gate, against)))
        rows.append(
            f'<tr data-metric="{escape(str(name))}"><th>{escape(str(name))}</th>'
            + "".join(f"<td>{cell}</td>" for cell in cells)
            + "</tr>"
        )
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        f'<table class="metrics"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


#: The gate's comparisons (its condition step's Type) as a person reads them.
_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "LessThanOrEqualTo": ("at most", lambda v, t: v <= t),
    "LessThan": ("under", lambda v, t: v < t),
    "GreaterThanOrEqualTo": ("at least", lambda v, t: v >= t),
    "GreaterThan": ("over", lambda v, t: v > t),
}


#: How much worse than the champion the gate lets the new model be; negative turns that
#: check off (pipelines/steps.py, ChampionMseTolerance; summary.json's quality_gate).
TOLERANCE = "champion_mse_tolerance"


def _tolerance(gate: Mapping[str, Any]) -> float | None:
    return as_number(gate.get(TOLERANCE))


def _gate_checks(
    value: Any, gate: Mapping[str, Any], against: Mapping[str, Any]
) -> list[tuple[str, bool | None]]:
    """The gate's tests of `value`: (what, passed or None when it cannot be said)."""
    words, test = _COMPARISONS.get(
        str(gate.get("comparison") or "LessThanOrEqualTo"), _COMPARISONS["LessThanOrEqualTo"]
    )
    checks: list[tuple[str, bool | None]] = []
    threshold, number = as_number(gate.get("threshold")), as_number(value)
    if threshold is not None:
        passed = None if number is None else test(number, threshold)
        checks.append((f"{words} {plain(threshold)}", passed))
    increase = _tolerance(gate)
    champion = as_number(against.get("champion"))
    if increase is not None and increase >= 0:
        if champion is None:
            checks.append((f"at most the champion's + {plain(increase)} (no champion)", True))
        else:
            limit = champion + increase
            passed = None if number is None else number <= limit
            checks.append((f"at most the champion's + {plain(increase)} = {plain(limit)}", passed))
    return checks


def _gate_cell(name: str, value: Any, gate: Mapping[str, Any], against: Mapping[str, Any]) -> str:
    if name != gate.get("metric"):
        return ""
    return "; ".join(
        f"{what}: {'passes' if ok else 'fails' if ok is False else 'unknown'}"
        for what, ok in _gate_checks(value, gate, against)
    )


def _gate_line(
    metrics: Mapping[str, Any], gate: Mapping[str, Any], compared: Mapping[str, Any]
) -> str:
    metric = gate.get("metric")
    if not metric:
        return note("No quality gate recorded (a user's pipeline gates with its own conditions).")
    value = next(
        (
            group[metric].get("value")
            for group in metrics.values()
            if isinstance(group, dict) and isinstance(group.get(metric), dict)
        ),
        None,
    )
    against = as_mapping(compared.get(metric))
    checks = _gate_checks(value, gate, against)
    if not checks:
        return note(f"Quality gate on {metric}: no threshold recorded.")
    verdict = (
        "passed"
        if all(ok for _, ok in checks)
        else "failed"
        if any(ok is False for _, ok in checks)
        else "unknown"
    )
    tests = " and ".join(what for what, _ in checks)
    tolerance = _tolerance(gate)
    off = (
        " The check against the champion is off (its tolerance is negative)."
        if tolerance is not None and tolerance < 0
        else ""
    )
    return (
        f'<p class="gate {verdict}">Quality gate: {escape(str(metric))} {fmt(value)} must be '
        f"{escape(tests)}: <strong>{verdict}</strong>.{off}</p>"
    )


def _champion_line(report: Mapping[str, Any], champion_run: Any) -> str:
    if not report:
        return note("Champion: not recorded for this run.")
    champion = report.get("champion")
    if not isinstance(champion, dict):
        return note(
            "Champion: none (no endpoint serving and no approved package): the first model."
        )
    source = champion.get("source")
    where = (
        f"the model serving on endpoint {champion.get('endpoint_name')}"
        if source == "endpoint"
        else f"the latest approved package {champion.get('model_package_arn')}"
        if source == "approved-package"
        else f"{source or 'unknown source'}"
    )
    rows = (
        f", scored on the same {report.get('test_rows')} test rows"
        if report.get("test_rows")
        else ""
    )
    if champion_run:
        where += f" (the model of run {champion_run})"
    line = f"Champion: {where}{rows}."
    if report.get("comparable") is False:
        line += f" Not comparable: {report.get('reason') or 'no reason given'}."
    return f"<p>{escape(line)}</p>"
