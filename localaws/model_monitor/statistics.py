"""statistics.json: a dataset's per-feature statistics as Model Monitor's analyzer writes them.

The document follows "Schema for Statistics (statistics.json file)" (SageMaker developer
guide, model-monitor-byoc-statistics): `version`, `dataset.item_count`, and per feature its
`name`, `inferred_type`, and either `numerical_statistics` (common {num_present, num_missing},
mean, sum, std_dev, min, max, distribution.kll {buckets, sketch {parameters {c, k}, data}}) or
`string_statistics` (common, distinct_count, distribution.categorical.buckets [{value,
count}]). "By default, the distribution is materialized in 10 buckets": ten equal-width
buckets over [min, max], the last one closed.

Types are inferred from each value's text as Deequ's DataType analyzer does (the analyzer is
built on Deequ): a column is Unknown when no value is present, String when any present value
is not a number, else Fractional when any is a decimal number, else Integral. Missing means
empty (or only spaces), as Spark reads an empty CSV field as null.

Exact where Model Monitor approximates: sum, mean, min and max are the same; std_dev is the
population standard deviation (Deequ's StandardDeviation); distinct_count and the categorical
buckets are exact counts where Deequ's distinct count is approximate (HyperLogLog). The KLL
sketch keeps its documented shape, levels of items where an item of level h stands for 2^h
values (Deequ's QuantileNonSample, parameters c 0.64 and k 2048 as the analyzer writes them),
but it is not a random KLL compaction: up to `EXACT_SKETCH_VALUES` values per feature it is the
sorted values themselves (level 0, exact), and above that the sorted values are cut into
blocks of 2^h whose middle values go to level h, so every rank it answers is within 2^(h-1) of
the true one. Distances computed from it are therefore exact up to that size.

Beyond the schema, and allowed by its "provision for custom stats", each feature carries
`data_type_counts` (present values that read as Integral, Fractional and String), which the
data type check needs: Model Monitor reports "Only 90.0% of data is Integral" from the same
counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

VERSION = 0.0
BUCKETS = 10
SKETCH_PARAMETERS = {"c": 0.64, "k": 2048.0}
#: Values per feature kept one by one in the sketch; larger features are compacted.
EXACT_SKETCH_VALUES = 10_000

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)
_INTEGRAL_TEXT = r"[-+]?\d+"
_DECIMAL_TEXT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def statistics(frame: pd.DataFrame) -> dict[str, Any]:
    """statistics.json of `frame`, one feature per column in column order."""
    return {
        "version": VERSION,
        "dataset": {"item_count": len(frame)},
        "features": [feature_statistics(str(name), frame[name]) for name in frame.columns],
    }


def as_text(column: pd.Series) -> pd.Series:
    """Each value as the text a CSV file would hold; missing values as ""."""
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        filled = column.where(column.notna(), "")
        return filled.astype(str)
    return column.astype(str).where(column.notna(), "")


def classify(column: pd.Series) -> pd.DataFrame:
    """Per value: its stripped text, whether it is present, Integral, Fractional."""
    text = as_text(column).str.strip()
    present = text.ne("")
    integral = text.str.fullmatch(_INTEGRAL_TEXT)
    fractional = ~integral & text.str.fullmatch(_DECIMAL_TEXT)
    return pd.DataFrame(
        {"text": text, "present": present, "integral": integral, "fractional": fractional}
    )


def infer_type(counts: dict[str, int]) -> str:
    """Deequ's rule from the present values' type counts."""
    if not any(counts.values()):
        return UNKNOWN
    if counts[STRING]:
        return STRING
    return FRACTIONAL if counts[FRACTIONAL] else INTEGRAL


def feature_statistics(name: str, column: pd.Series) -> dict[str, Any]:
    """One feature's entry of statistics.json."""
    kinds = classify(column)
    present = int(kinds["present"].sum())
    integral = int(kinds["integral"].sum())
    fractional = int(kinds["fractional"].sum())
    counts = {INTEGRAL: integral, FRACTIONAL: fractional, STRING: present - integral - fractional}
    inferred = infer_type(counts)
    common = {"num_present": present, "num_missing": len(kinds) - present}
    feature: dict[str, Any] = {"name": name, "inferred_type": inferred}
    if inferred in NUMERIC_TYPES:
        values = pd.to_numeric(kinds["text"][kinds["present"]]).to_numpy(dtype=float)
        feature["numerical_statistics"] = {"common": common, **_numerical(values)}
    else:
        raw = as_text(column)[kinds["present"]]
        feature["string_statistics"] = {"common": common, **_categorical(raw)}
    feature["data_type_counts"] = counts
    return feature


def _numerical(values: np.ndarray) -> dict[str, Any]:
    ordered = np.sort(values)
    low, high = float(ordered[0]), float(ordered[-1])
    return {
        "mean": float(ordered.mean()),
        "sum": float(ordered.sum()),
        "std_dev": float(ordered.std()),
        "min": low,
        "max": high,
        "distribution": {
            "kll": {
                "buckets": _buckets(ordered, low, high),
                "sketch": {"parameters": dict(SKETCH_PARAMETERS), "data": sketch_levels(ordered)},
            }
        },
    }


def _buckets(values: np.ndarray, low: float, high: float) -> list[dict[str, float]]:
    """Ten equal-width buckets over [low, high]; a constant feature fills the first one."""
    if high > low:
        counts, edges = np.histogram(values, bins=BUCKETS, range=(low, high))
    else:
        counts = np.zeros(BUCKETS, dtype=int)
        counts[0] = len(values)
        edges = np.full(BUCKETS + 1, low)
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(c)}
        for i, c in enumerate(counts)
    ]


def sketch_levels(ordered: np.ndarray) -> list[list[float]]:
    """The sketch's `data`: level h holds items that each stand for 2^h of the sorted values.

    Up to EXACT_SKETCH_VALUES values: all of them at level 0. Above: blocks of 2^h values
    (h the least that leaves at most EXACT_SKETCH_VALUES blocks) each give their middle value
    to level h, and the remainder, split by the binary digits of its length, gives one middle
    value per smaller block to the lower levels, so the weights add up to the count exactly.
    """
    count = len(ordered)
    if count <= EXACT_SKETCH_VALUES:
        return [ordered.tolist()]
    height = math.ceil(math.log2(count / EXACT_SKETCH_VALUES))
    block = 1 << height
    full = count // block
    levels: list[list[float]] = [[] for _ in range(height + 1)]
    levels[height] = ordered[block // 2 + block * np.arange(full)].tolist()
    start = full * block
    for level in reversed(range(height)):
        size = 1 << level
        if (count - full * block) & size:
            levels[level].append(float(ordered[start + size // 2]))
            start += size
    return levels


def _categorical(values: pd.Series) -> dict[str, Any]:
    """distinct_count and one bucket per value, the most frequent first (ties by value)."""
    counts = values.value_counts(sort=False)
    table = pd.DataFrame({"value": counts.index.astype(str), "count": counts.to_numpy()})
    table = table.sort_values(["count", "value"], ascending=[False, True], kind="stable")
    buckets = [
        {"value": value, "count": float(count)}
        for value, count in zip(table["value"], table["count"], strict=True)
    ]
    return {
        "distinct_count": float(len(table)),
        "distribution": {"categorical": {"buckets": buckets}},
    }
