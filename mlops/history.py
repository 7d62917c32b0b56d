"""Past runs, read back from their folders: `mlops runs` lists them, `mlops show RUN` prints one.

Every published run folder holds `summary.json` (what `mlops run` wrote at the end); hidden
folders are runs still being written or left by a killed one, and are not runs. A folder
whose summary cannot be read is listed as unreadable rather than stopping the list.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core.errors import UsageError

SUMMARY = "summary.json"
#: The run's report page (mlops/report.py renders it; `mlops show RUN --open` opens it).
REPORT = "report.html"
#: Where runs are written and read back unless --runs-dir says otherwise.
RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class PastRun:
    """One run folder and its summary (None when unreadable)."""

    folder: Path
    summary: dict[str, Any] | None

    @property
    def run_id(self) -> str:
        return self.folder.name

    @property
    def started(self) -> str:
        """When the run started, from its id (`YYYYmmdd-HHMMSS-xxxxxx`, UTC)."""
        try:
            when = dt.datetime.strptime(self.run_id[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            return "-"
        return when.strftime("%Y-%m-%d %H:%M:%S")

    def field(self, *path: str) -> Any:
        value: Any = self.summary
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value


def past_runs(runs_dir: Path) -> Iterator[PastRun]:
    """The published runs in `runs_dir`, oldest first (run ids sort by time)."""
    if not runs_dir.is_dir():
        raise UsageError(f"--runs-dir {runs_dir}: no such folder (run `mlops run` first)")
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if folder.name.startswith(".") or not (folder / SUMMARY).is_file():
            continue
        try:
            summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = None
        yield PastRun(folder, summary if isinstance(summary, dict) else None)


def find_run(runs_dir: Path, name: str) -> PastRun:
    """A run by its id, a unique prefix of it, or a folder path."""
    given = Path(name)
    if given.is_dir() and (given / SUMMARY).is_file():
        return next(r for r in past_runs(given.parent) if r.folder.samefile(given))
    matches = [r for r in past_runs(runs_dir) if r.run_id.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"RUN {name}: no run in {runs_dir} has that id (see `mlops runs`)")
    listed = ", ".join(r.run_id for r in matches[:5])
    raise UsageError(f"RUN {name}: {len(matches)} runs start with it ({listed}); give more")


def _metric(run: PastRun) -> str:
    metric = run.field("quality_gate", "metric") or "mse"
    value = run.field("metrics", "regression_metrics", metric, "value")
    return f"{metric} {value:.4f}" if isinstance(value, int | float) else "-"


def _seconds(run: PastRun) -> str:
    total = run.field("timings", "total")
    return f"{total:.1f} s" if isinstance(total, int | float) else "-"


def print_runs(runs_dir: Path, out: TextIO) -> int:
    """A table of past runs: id, when (UTC), status, decision, metric, duration."""
    rows = [
        (
            run.run_id,
            run.started,
            str(run.field("status") or "unreadable"),
            str(run.field("decision") or "-"),
            _metric(run),
            _seconds(run),
        )
        for run in past_runs(runs_dir)
    ]
    if not rows:
        print(f"No runs in {runs_dir} yet: `mlops run` makes one.", file=out)
        return 0
    header = ("RUN", "STARTED (UTC)", "STATUS", "DECISION", "METRIC", "DURATION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)), file=out
        )
    return 0


def print_run(run: PastRun, out: TextIO) -> int:
    """One run: what it did, decided and deployed, and where its files are."""
    if run.summary is None:
        raise UsageError(f"RUN {run.run_id}: {run.folder / SUMMARY} is not readable JSON")
    lines = [
        ("Run", run.run_id),
        ("Started (UTC)", run.started),
        ("Status", run.field("status")),
        ("Pipeline", run.field("pipeline_name")),
        ("Execution", run.field("pipeline_execution_arn")),
        ("Metric", _metric(run)),
        ("Quality gate", _gate(run)),
        ("Champion", champion_line(run.field("champion"), run.field("champion_run"))),
        ("Model package", run.field("model_package_arn")),
        ("Decision", decision_line(run)),
        ("Endpoint", endpoint_line(run)),
        ("Duration", _seconds(run)),
        ("Cost", _cost(run)),
        ("Failure", run.field("failure_reason") or run.field("execution_cause")),
        ("Folder", str(run.folder)),
        ("Report", str(run.folder / REPORT) if (run.folder / REPORT).is_file() else None),
    ]
    for label, value in lines:
        if value:
            print(f"{label + ':':15} {value}", file=out)
    steps = run.field("steps") or []
    if steps:
        print("Steps:", file=out)
        for step in steps:
            if isinstance(step, dict):
                seconds = step.get("seconds")
                took = f"{seconds:.1f} s" if isinstance(seconds, int | float) else ""
                print(f"  {step.get('name', '?'):28} {step.get('status', '?'):12} {took}", file=out)
    return 0


#: How many of a run's charges the Cost line names, largest first.
COST_ITEMS_SHOWN = 3


def _cost(run: PastRun) -> str | None:
    """The run's estimated cost (summary.json's `cost`, mlops/cost.py) and its largest items."""
    total, currency = run.field("cost", "total"), run.field("cost", "currency") or "USD"
    if not isinstance(total, int | float):
        return None
    items = [i for i in run.field("cost", "items") or [] if isinstance(i, dict)]
    priced = [i for i in items if isinstance(i.get("amount"), int | float) and i["amount"] > 0]
    largest = sorted(priced, key=lambda i: -i["amount"])[:COST_ITEMS_SHOWN]
    named = ", ".join(f"{i.get('what', '?')} {money(i['amount'], currency)}" for i in largest)
    unpriced = sum(1 for i in items if i.get("amount") is None)
    return (
        f"{money(total, currency)} estimated at list prices"
        + (f"; largest: {named}" if named else "")
        + (f"; {unpriced} item(s) not priced" if unpriced else "")
    )


def money(amount: float, currency: str = "USD") -> str:
    """An amount as the cost line shows it: a run's charges are fractions of a cent."""
    sign = "$" if currency == "USD" else f"{currency} "
    if 0 < amount < 0.0001:
        return f"<{sign}0.0001"
    return f"{sign}{amount:.4f}"


def _gate(run: PastRun) -> str | None:
    """'mse at most 6.0', and the champion check when it was on (a tolerance not negative)."""
    threshold = run.field("quality_gate", "threshold")
    if threshold is None:
        return None
    line = f"{run.field('quality_gate', 'metric')} at most {threshold}"
    tolerance = run.field("quality_gate", "champion_mse_tolerance")
    if isinstance(tolerance, int | float) and tolerance >= 0:
        line += f", and at most {tolerance} above the champion's"
    return line


def decision_line(run: PastRun) -> str | None:
    """'approved by <who>', as the run recorded it."""
    decision = run.field("decision")
    if not decision:
        return None
    by = run.field("decided_by")
    return f"{decision} by {by}" if by else str(decision)


def endpoint_line(run: PastRun) -> str | None:
    """'<endpoint> (<status>)', as the run left it."""
    name = run.field("endpoint_name")
    if not name:
        return None
    status = run.field("endpoint_status")
    return f"{name} ({status})" if status else str(name)


def champion_line(comparison: Any, champion_run: Any = None) -> str | None:
    """Which model was the champion, and the verdict on the gate's metric, in one line."""
    if not isinstance(comparison, dict):
        return None
    found = comparison.get("champion")
    if not isinstance(found, dict):
        return "none (nothing deployed or approved before this run)"
    where = f"run {champion_run}'s model" if champion_run else str(found.get("model_data_url"))
    if not comparison.get("comparable"):
        return f"{where}, not comparable ({comparison.get('reason')})"
    mse = (comparison.get("metrics") or {}).get("mse") or {}
    champion, challenger = mse.get("champion"), mse.get("challenger")
    if not isinstance(champion, int | float) or not isinstance(challenger, int | float):
        return where
    better = {"same": "the same", None: "not compared"}.get(
        mse.get("better"), f"{mse.get('better')} better"
    )
    return f"{where}, test MSE {champion:.4f}; this model's {challenger:.4f} ({better})"
