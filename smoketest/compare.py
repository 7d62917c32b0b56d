"""Reading an endpoint's answer and comparing it with the evaluation's predictions.

Standard library only (the function's zip holds this package and core/contracts.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

#: An answer may differ from the evaluation's prediction by this much (absolute, or relative
#: to predictions larger than 1): the same model on the same rows answers the same float32
#: values, so anything beyond rounding in the text means another model or other features.
DEFAULT_TOLERANCE = 1e-4


class AnswerError(ValueError):
    """The endpoint's answer is not a list of numbers; the message says what it was."""


@dataclass(frozen=True)
class Comparison:
    rows: int
    max_abs_diff: float | None
    #: The first row (0-based) outside the tolerance, or None when all agree.
    first_mismatch: int | None

    def passed(self) -> bool:
        return self.first_mismatch is None


def numbers(body: bytes, content_type: str) -> list[float]:
    """Every number of an answer, in order: one per line or comma-separated (text/csv, as the
    SageMaker XGBoost container answers), or the numeric leaves of a JSON document
    (`{"predictions": [{"score": v}, ...]}`, a list, JSON lines)."""
    text = body.decode("utf-8", errors="replace").strip()
    if "json" in content_type.lower() or text[:1] in ("{", "["):
        values: list[float] = []
        for line in text.splitlines() if "jsonlines" in content_type.lower() else [text]:
            try:
                _leaves(json.loads(line), values)
            except json.JSONDecodeError as exc:
                raise AnswerError(f"answer is not JSON ({exc.msg})") from None
        return values
    values = []
    for cell in text.replace(",", "\n").split():
        try:
            values.append(float(cell))
        except ValueError:
            raise AnswerError(f"answer holds {cell[:40]!r}, not a number") from None
    return values


def _leaves(value: Any, into: list[float]) -> None:
    if isinstance(value, bool):
        raise AnswerError(f"answer holds {value!r}, not a number")
    if isinstance(value, int | float):
        into.append(float(value))
    elif isinstance(value, dict):
        for item in value.values():
            _leaves(item, into)
    elif isinstance(value, list):
        for item in value:
            _leaves(item, into)
    else:
        raise AnswerError(f"answer holds {str(value)[:40]!r}, not a number")


def compare(answers: list[float], expected: list[float], tolerance: float) -> Comparison:
    """Row by row: |answer - expected| <= tolerance * max(1, |expected|)."""
    if len(answers) != len(expected):
        raise AnswerError(f"{len(answers)} predictions for {len(expected)} rows")
    worst: float | None = None
    first = None
    for row, (got, want) in enumerate(zip(answers, expected, strict=True)):
        diff = abs(got - want)
        if not math.isfinite(diff):
            diff = math.inf
        worst = diff if worst is None else max(worst, diff)
        if first is None and diff > tolerance * max(1.0, abs(want)):
            first = row
    return Comparison(len(expected), worst, first)
