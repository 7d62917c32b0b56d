"""Validate the raw Abalone CSV and split it into the train/validation/test files XGBoost reads.

Runs as the SageMaker Processing step (XGBoost 3.0-5 container) and, unchanged, on a laptop:

    python scripts/preprocess.py --input data/abalone.csv --output-dir out/

Outputs under --output-dir: train/train.csv, validation/validation.csv, test/test.csv (target
`rings` first, then the features, no header, no index: the built-in XGBoost CSV layout),
baseline/baseline.csv (the training split's features with a header row and no target: the
rows an endpoint receives, named, the dataset of the pipeline's data-quality baseline) and
statistics/statistics.json (column statistics of the training split). Every input is
validated before anything is written, because a bad file caught here
costs seconds while a bad file caught by training costs a job. A bad input ends with one line
on stderr and exit code 1; outputs are staged under temporary names and only renamed into place
once all of them are complete, so a failure never leaves half-written artifacts. "Row N" in
messages is the N-th data row of the named file (the header is not counted).

Spaces around a value and quotes around it are formatting, as spreadsheet exports write them:
` M , 0.455 ,...`, `"M","0.455",...` and `" M ", "0.455"` all read as M and 0.455, in the
header and in every column, the category included.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TARGET = "rings"
CATEGORICAL = "sex"
SEX_CATEGORIES = ("F", "I", "M")
MEASUREMENTS = (
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
)
INPUT_COLUMNS = (CATEGORICAL, *MEASUREMENTS, TARGET)
#: What a prediction needs (`mlops predict` reads raw rows with this module): no target.
FEATURE_INPUT_COLUMNS = (CATEGORICAL, *MEASUREMENTS)
FEATURES = (*MEASUREMENTS, *(f"{CATEGORICAL}_{c}" for c in SEX_CATEGORIES))
OUTPUT_COLUMNS = (TARGET, *FEATURES)
#: Fewest rows accepted: enough for every split to get rows with the default ratios.
MIN_ROWS = 20
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SPLITS = ("train", "validation", "test")
#: The data-quality baseline's dataset: the training split's features, named.
BASELINE = "baseline"


class InputError(Exception):
    """A problem with the input data; its message is the one line shown to the user."""


def _ratio(text: str) -> float:
    """argparse type: a float strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; defaults are the SageMaker Processing container paths."""
    parser = argparse.ArgumentParser(prog="preprocess.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--input",
        default="/opt/ml/processing/input",
        help="a CSV file or a directory of *.csv files (each with a header)",
    )
    parser.add_argument("--output-dir", default="/opt/ml/processing")
    parser.add_argument("--train-ratio", type=_ratio, default=0.7)
    parser.add_argument("--validation-ratio", type=_ratio, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.train_ratio + args.validation_ratio >= 1.0:
        parser.error(
            "--train-ratio + --validation-ratio must be below 1 (the test split is "
            f"the rest), got {args.train_ratio} + {args.validation_ratio}"
        )
    return args


def input_files(path: Path) -> list[Path]:
    """The CSV files to read: the file itself, or a directory's *.csv sorted by name."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not files:
            raise InputError(f"{path}: no *.csv files in directory (expected at least one)")
        return files
    if path.is_file():
        return [path]
    raise InputError(
        f"{path}: input path does not exist (expected a CSV file or a directory of *.csv files)"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_header(
    path: Path, columns: tuple[str, ...] = INPUT_COLUMNS, optional: tuple[str, ...] = ()
) -> list[str]:
    """The header's column names, after checking delimiter, names and duplicates.

    Every one of `columns` must be present; `optional` ones may be.
    """
    expected = ",".join(columns)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            line = handle.readline()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (expected a comma-separated CSV file)") from None
    if not line.strip():
        raise InputError(f"{path}: empty file (expected a header line: {expected})")
    names = [name.strip() for name in next(csv.reader([line], skipinitialspace=True))]
    if len(names) == 1:
        for sep, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in names[0]:
                raise InputError(
                    f"{path}: expected comma-separated values, found a {label}-separated header"
                )
    if any(_is_number(name) for name in names):
        raise InputError(
            f"{path}: first line is data, not a header (expected a header line: {expected})"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(
            f"{path}: column '{duplicated[0]}' appears more than once "
            f"(expected each of {expected} once)"
        )
    missing = [c for c in columns if c not in names]
    extra = [n for n in names if n not in columns and n not in optional]
    problems = []
    if missing:
        problems.append("missing column " + ", ".join(f"'{c}'" for c in missing))
    if extra:
        problems.append("unexpected column " + ", ".join(f"'{c}'" for c in extra))
    if problems:
        raise InputError(f"{path}: {'; '.join(problems)} (expected columns: {expected})")
    return names


def _first_row(mask: np.ndarray) -> int:
    """1-based data row of the first True in mask."""
    return int(np.flatnonzero(mask)[0]) + 1


def _diagnose_numbers(
    path: Path, names: list[str], numeric: tuple[str, ...] = (*MEASUREMENTS, TARGET)
) -> InputError:
    """Find the cell that made the fast typed read fail (slow path, only on bad input)."""
    raw = pd.read_csv(
        path, header=0, names=names, dtype=str, encoding="utf-8-sig", skipinitialspace=True
    )
    for column in numeric:
        values = raw[column].str.strip()
        blank = (values == "").to_numpy()  # a quoted blank, such as " "
        if blank.any():
            row = _first_row(blank)
            return InputError(
                f"{path}: column '{column}': missing value in row {row} (rows with missing "
                "values are rejected, expected a value in every row)"
            )
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        bad = values.notna().to_numpy() & np.isnan(numbers)
        if bad.any():
            row = _first_row(bad)
            return InputError(
                f"{path}: column '{column}': expected numbers, found "
                f"{values.iloc[row - 1]!r} in row {row}"
            )
        infinite = np.isinf(numbers)  # ' inf ': the C parser reads 'inf' only without spaces
        if infinite.any():
            row = _first_row(infinite)
            return InputError(
                f"{path}: column '{column}': expected finite numbers, found "
                f"{float(numbers[row - 1])!r} in row {row}"
            )
    return InputError(
        f"{path}: could not read numbers (expected numeric columns {', '.join(numeric)})"
    )


def read_file(path: Path, target: bool = True) -> pd.DataFrame:
    """Read one CSV with explicit dtypes and reject anything the model should not see.

    With `target` False (rows to predict) the target column may be absent; if present it is
    not read at all, and one data row is enough.
    """
    columns = INPUT_COLUMNS if target else FEATURE_INPUT_COLUMNS
    names = read_header(path, columns, optional=() if target else (TARGET,))
    numeric = (*MEASUREMENTS, TARGET) if target else MEASUREMENTS
    dtypes = {c: "float64" for c in numeric}
    dtypes[CATEGORICAL] = "category"
    try:
        # skipinitialspace drops the spaces before a value (and so finds a quote after them);
        # the C parser's float conversion ignores those after a number. Categories keep
        # trailing spaces, which _strip_categories removes.
        frame = pd.read_csv(
            path,
            header=0,
            names=names,
            dtype=dtypes,
            encoding="utf-8-sig",
            engine="c",
            skipinitialspace=True,
            usecols=None if target else list(columns),
        )
    except pd.errors.ParserError as error:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if found:
            expected, line, saw = found.groups()
            raise InputError(
                f"{path}: line {line} has {saw} fields (expected {expected}, one per column)"
            ) from None
        raise InputError(f"{path}: not a valid CSV file ({' '.join(str(error).split())})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (expected a comma-separated CSV file)") from None
    except ValueError:
        raise _diagnose_numbers(path, names, numeric) from None
    if frame.empty:
        wanted = MIN_ROWS if target else 1
        raise InputError(f"{path}: header only, no data rows (expected at least {wanted} rows)")
    frame[CATEGORICAL] = _strip_categories(frame[CATEGORICAL])
    check_values(path, frame, columns)
    return frame[list(columns)]


def _strip_categories(column: pd.Series) -> pd.Series:
    """' M', 'M ' and 'M' are one category; a blank one is a missing value.

    Each distinct category is stripped once and the rows take theirs by code, so the cost
    grows with the categories, not the rows.
    """
    stripped = column.cat.categories.astype(str).str.strip()
    labels = np.append(np.where(stripped == "", None, stripped).astype(object), None)
    codes = column.cat.codes.to_numpy()  # -1 for a missing value: the appended None
    return pd.Series(pd.Categorical(labels[codes]), index=column.index, name=column.name)


def check_values(path: Path, frame: pd.DataFrame, columns: tuple[str, ...] = INPUT_COLUMNS) -> None:
    """Column-wise checks on a typed frame; each names the column, the row and what is wanted."""
    for column in columns:
        if frame[column].isna().all():
            raise InputError(
                f"{path}: column '{column}': all {len(frame)} values are empty "
                "(expected values in every row)"
            )
    for column in columns:
        missing = frame[column].isna().to_numpy()
        if missing.any():
            raise InputError(
                f"{path}: column '{column}': missing value in row "
                f"{_first_row(missing)} (rows with missing values are rejected, "
                "expected a value in every row)"
            )
    for column in (c for c in (*MEASUREMENTS, TARGET) if c in columns):
        values = frame[column].to_numpy()
        for bad, wanted in (
            (~np.isfinite(values), "finite numbers"),
            (values < 0, "non-negative numbers"),
        ):
            if bad.any():
                row = _first_row(bad)
                raise InputError(
                    f"{path}: column '{column}': expected {wanted}, found "
                    f"{float(values[row - 1])!r} in row {row}"
                )
    if TARGET in columns:
        rings = frame[TARGET].to_numpy()
        fractional = rings != np.floor(rings)
        if fractional.any():
            row = _first_row(fractional)
            raise InputError(
                f"{path}: column '{TARGET}': expected whole numbers, found "
                f"{float(rings[row - 1])!r} in row {row}"
            )
    sex = frame[CATEGORICAL]
    unknown = ~sex.isin(SEX_CATEGORIES).to_numpy()
    if unknown.any():
        row = _first_row(unknown)
        raise InputError(
            f"{path}: column '{CATEGORICAL}': unknown category "
            f"{str(sex.iloc[row - 1])!r} in row {row} (expected one of M, F, I)"
        )


def split_sizes(rows: int, train_ratio: float, validation_ratio: float) -> tuple[int, int, int]:
    """Rows per split: floor of each ratio for train and validation, the rest for test."""
    n_train = math.floor(rows * train_ratio)
    n_validation = math.floor(rows * validation_ratio)
    return n_train, n_validation, rows - n_train - n_validation


def minimum_rows(train_ratio: float, validation_ratio: float) -> int:
    """Fewest rows for which every split is non-empty, and never fewer than MIN_ROWS."""
    needed = MIN_ROWS
    while 0 in split_sizes(needed, train_ratio, validation_ratio):
        needed += 1
    return needed


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features (FEATURES): measurements, then a fixed one-hot of sex."""
    out = pd.DataFrame({column: frame[column].to_numpy() for column in MEASUREMENTS})
    sex = frame[CATEGORICAL].astype(object).to_numpy()
    for category in SEX_CATEGORIES:
        out[f"{CATEGORICAL}_{category}"] = (sex == category).astype(np.uint8)
    return out


def encode(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's table: target first, then the features."""
    out = features(frame)
    out.insert(0, TARGET, frame[TARGET].to_numpy().astype(np.int64))
    return out


def statistics(train: pd.DataFrame, sex: pd.Series, sizes: dict[str, int], seed: int) -> dict:
    """Training-split baseline for drift checks (std is the sample std, ddof=1)."""
    quantiles = train.quantile(list(QUANTILES))
    columns = {}
    for column in OUTPUT_COLUMNS:
        values = train[column]
        columns[column] = {
            "count": int(values.count()),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            "quantiles": {
                f"p{round(q * 100):02d}": float(quantiles.at[q, column]) for q in QUANTILES
            },
        }
    counts = sex.astype(object).value_counts()
    frequencies = {c: int(counts.get(c, 0)) for c in SEX_CATEGORIES}
    return {
        "target": TARGET,
        "columns_in_order": list(OUTPUT_COLUMNS),
        "rows": sizes,
        "seed": seed,
        "columns": columns,
        "categories": {
            CATEGORICAL: {
                "counts": frequencies,
                "frequencies": {c: n / len(train) for c, n in frequencies.items()},
            }
        },
    }


def write_outputs(
    output_dir: Path, tables: dict[str, pd.DataFrame], stats: dict, baseline: pd.DataFrame
) -> None:
    """Stage every file under a temporary name next to its target, then rename all of them.

    Temporary files sit in the final directories (not one staging tree) so that os.replace
    never crosses a file system: SageMaker may mount each output directory separately.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for name, table in tables.items():
            target = output_dir / name / f"{name}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staged.append((temporary, target))
            table.to_csv(temporary, header=False, index=False, lineterminator="\n")
        target = output_dir / BASELINE / f"{BASELINE}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        staged.append((temporary, target))
        baseline.to_csv(temporary, header=True, index=False, lineterminator="\n")
        target = output_dir / "statistics" / "statistics.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        staged.append((temporary, target))
        temporary.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
        for temporary, target in staged:
            os.replace(temporary, target)
        staged.clear()
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> str:
    """Validate, split and write; returns the summary line."""
    source = Path(args.input)
    frames = [read_file(path) for path in input_files(source)]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    needed = minimum_rows(args.train_ratio, args.validation_ratio)
    if len(frame) < needed:
        raise InputError(
            f"{source}: too few rows: {len(frame)} (expected at least {needed} so "
            "that train, validation and test each get rows)"
        )
    encoded = encode(frame)
    sizes = split_sizes(len(frame), args.train_ratio, args.validation_ratio)
    order = np.random.default_rng(args.seed).permutation(len(frame))
    bounds = np.cumsum((0, *sizes))
    indices = {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(SPLITS)}
    tables = {name: encoded.iloc[idx] for name, idx in indices.items()}
    counts = {name: len(table) for name, table in tables.items()}
    stats = statistics(
        tables["train"], frame[CATEGORICAL].iloc[indices["train"]], counts, args.seed
    )
    baseline = tables["train"].drop(columns=[TARGET])
    write_outputs(Path(args.output_dir), tables, stats, baseline)
    return (
        f"preprocess: {len(frame)} rows -> train {counts['train']}, validation "
        f"{counts['validation']}, test {counts['test']} (seed {args.seed})"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input is one stderr line and exit code 1, never a traceback."""
    args = parse_args(argv)
    try:
        print(run(args))
    except InputError as error:
        print(f"preprocess.py: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk or an unwritable output: the outputs are not staged
        where = f": {error.filename}" if error.filename else ""
        print(f"preprocess.py: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
