"""Abalone-shaped synthetic data of any size, for benchmarks and scale tests.

Rows are real Abalone rows drawn with replacement by a seeded generator, with small
multiplicative noise on the measurements. That keeps the schema, the value ranges, the
correlations between measurements and the learnable relation to rings of the real data, so
preprocess/train/evaluate see realistic input at any row count. Everything is vectorised and
deterministic in (rows, seed): 1,000,000 rows take about a second to generate.

    python -m mlops.synthetic --rows 1000000 --out /tmp/abalone-1m.csv
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import DEFAULT_DATA, SCRIPTS_DIR


def _schema() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The measurement and input columns, from the script that validates them."""
    spec = importlib.util.spec_from_file_location("preprocess", SCRIPTS_DIR / "preprocess.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SCRIPTS_DIR / 'preprocess.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MEASUREMENTS, module.INPUT_COLUMNS


MEASUREMENTS, COLUMNS = _schema()
#: Relative standard deviation of the noise on each measurement (2 %).
NOISE = 0.02
#: Decimals kept, as in the source data; shorter numbers also keep the CSV small.
DECIMALS = 4


def _source(path: Path = DEFAULT_DATA) -> pd.DataFrame:
    dtypes = {c: "float64" for c in MEASUREMENTS} | {"sex": "category", "rings": "int64"}
    return pd.read_csv(path, dtype=dtypes)[list(COLUMNS)]


def generate(rows: int, seed: int = 0, source: Path = DEFAULT_DATA) -> pd.DataFrame:
    """`rows` synthetic Abalone rows, identical for identical (rows, seed, source)."""
    if rows < 0:
        raise ValueError(f"rows must be non-negative, got {rows}")
    base = _source(source)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), size=rows)
    noise = rng.normal(1.0, NOISE, size=(rows, len(MEASUREMENTS)))
    values = base[list(MEASUREMENTS)].to_numpy()[pick] * noise
    np.clip(values, 0.0, None, out=values)
    np.round(values, DECIMALS, out=values)
    frame = pd.DataFrame(values, columns=list(MEASUREMENTS))
    sex = base["sex"].cat
    # Categorical codes keep the column at one byte a row instead of a Python string each.
    frame.insert(0, "sex", pd.Categorical.from_codes(sex.codes.to_numpy()[pick], sex.categories))
    frame["rings"] = base["rings"].to_numpy()[pick]
    return frame


def write_csv(path: str | Path, rows: int, seed: int = 0) -> Path:
    """Write `generate(rows, seed)` as a CSV with the Abalone header; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed).to_csv(path, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """`python -m mlops.synthetic --rows N --out PATH`."""
    parser = argparse.ArgumentParser(prog="python -m mlops.synthetic", description=__doc__)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be non-negative")
    print(f"wrote {write_csv(args.out, args.rows, args.seed)} ({args.rows} rows)")


if __name__ == "__main__":
    main()
