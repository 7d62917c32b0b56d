"""Live progress lines and the closing summary table of a run."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

#: AWS step statuses, as a person reads them.
_STATUS_WORDS = {
    "Starting": "running",
    "Executing": "running",
    "Stopping": "stopping",
    "Stopped": "stopped",
    "Failed": "failed",
    "Succeeded": "succeeded",
}


@dataclass(frozen=True)
class StepReport:
    """One step as summary.json records it."""

    name: str
    type: str
    status: str
    seconds: float | None
    cache_hit: bool

    @property
    def word(self) -> str:
        if self.cache_hit and self.status == "Succeeded":
            return "cached"
        return _STATUS_WORDS.get(self.status, self.status.lower())


class Progress:
    """Prints one line whenever a step changes state (works in a terminal and in CI logs).

    The lines only inform: once the terminal or pipe they go to is gone (`mlops run 2>&1 |
    head`), they stop, and the run goes on to write its folder.
    """

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self._out: TextIO | None = out
        self._seen: dict[str, str] = {}

    def plan(self, names: Iterable[str]) -> None:
        for name in names:
            self.line(name, "waiting")

    def update(self, steps: Iterable[StepReport]) -> None:
        for step in steps:
            if self._seen.get(step.name) == step.word:
                continue
            self._seen[step.name] = step.word
            done = step.word not in {"running", "stopping"}
            self.line(step.name, step.word, step.seconds if done else None)

    def note(self, text: str) -> None:
        """A free-form line, such as a failure's error and cause."""
        self._print(f"  {text}")

    def line(self, name: str, word: str, seconds: float | None = None) -> None:
        elapsed = f"{seconds:6.1f} s" if seconds is not None else ""
        self._print(f"  {name:<28} {word:<10} {elapsed}".rstrip())

    def _print(self, text: str) -> None:
        if self._out is None:
            return
        try:
            print(text, file=self._out, flush=True)
        except (OSError, ValueError):  # closed pipe or stream: stop printing, keep running
            self._out = None


def summary_table(steps: Iterable[StepReport]) -> str:
    """A plain-text table of the steps, for the end of a run."""
    rows = [("Step", "Type", "Status", "Seconds")]
    rows += [
        (s.name, s.type, s.word, "-" if s.seconds is None else f"{s.seconds:.1f}") for s in steps
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def metric_line(metrics: dict[str, Any] | None, threshold: float | None) -> str:
    """'MSE 4.52 (gate: at most 6.0)' or an empty string without metrics."""
    if not metrics:
        return ""
    mse = metrics.get("regression_metrics", {}).get("mse", {}).get("value")
    if mse is None:
        return ""
    gate = f" (gate: at most {threshold})" if threshold is not None else ""
    return f"test MSE {mse:.4f}{gate}"
