"""scripts/preprocess.py on the real Abalone data, its bad-input contract, and mlops.synthetic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes.job_scripts import load_script

from core.settings import PROJECT_ROOT
from mlops import synthetic

MEASUREMENTS = [
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
OUTPUT_COLUMNS = ["rings", *MEASUREMENTS, "sex_F", "sex_I", "sex_M"]
SPLITS = ("train", "validation", "test")
OUTPUT_FILES = [f"{s}/{s}.csv" for s in SPLITS] + [
    "baseline/baseline.csv",
    "statistics/statistics.json",
]


def read_split(out: Path, split: str) -> pd.DataFrame:
    return pd.read_csv(out / split / f"{split}.csv", header=None, names=OUTPUT_COLUMNS)


def expected_encoding(raw: pd.DataFrame) -> pd.DataFrame:
    """The encoding preprocess.py must produce, computed independently of it."""
    out = raw[["rings", *MEASUREMENTS]].copy()
    for category in "FIM":
        out[f"sex_{category}"] = (raw["sex"] == category).astype(int)
    return out


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), kind="mergesort").reset_index(drop=True)


def test_splits_cover_input_exactly_once_with_correct_one_hot(abalone_splits, abalone_csv):
    raw = pd.read_csv(abalone_csv)
    splits = {s: read_split(abalone_splits, s) for s in SPLITS}
    assert [len(splits[s]) for s in SPLITS] == [2923, 626, 628]
    assert sum(len(f) for f in splits.values()) == len(raw)
    combined = pd.concat(splits.values(), ignore_index=True)
    pd.testing.assert_frame_equal(
        sorted_rows(combined), sorted_rows(expected_encoding(raw)), check_dtype=False
    )
    one_hot = combined[["sex_F", "sex_I", "sex_M"]].to_numpy()
    assert set(np.unique(one_hot)) == {0, 1}
    assert (one_hot.sum(axis=1) == 1).all()


def test_output_is_headerless_target_first(abalone_splits):
    first = (abalone_splits / "train" / "train.csv").read_text().splitlines()[0].split(",")
    assert len(first) == len(OUTPUT_COLUMNS)
    assert first[0].isdigit()  # rings, an integer, not a header name
    assert all(v in {"0", "1"} for v in first[-3:])


def test_no_row_is_shared_between_splits(abalone_splits):
    keys = {s: set(map(tuple, read_split(abalone_splits, s).to_numpy())) for s in SPLITS}
    assert len(keys["train"]) == 2923  # Abalone has no duplicate rows
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]


def test_same_seed_gives_identical_bytes_and_other_seed_differs(
    run_script, abalone_csv, abalone_splits, tmp_path
):
    again, other = tmp_path / "again", tmp_path / "other"
    assert (
        run_script("preprocess.py", "--input", abalone_csv, "--output-dir", again).returncode == 0
    )
    result = run_script(
        "preprocess.py", "--input", abalone_csv, "--output-dir", other, "--seed", "7"
    )
    assert result.returncode == 0, result.stderr
    for name in OUTPUT_FILES:
        assert (again / name).read_bytes() == (abalone_splits / name).read_bytes(), name
    for split in SPLITS:
        assert (other / f"{split}/{split}.csv").read_bytes() != (
            abalone_splits / f"{split}/{split}.csv"
        ).read_bytes()
    assert len(read_split(other, "test")) == 628


def test_statistics_describe_the_train_split(abalone_splits):
    stats = json.loads((abalone_splits / "statistics" / "statistics.json").read_text())
    train = read_split(abalone_splits, "train")
    assert stats["columns_in_order"] == OUTPUT_COLUMNS
    assert stats["rows"] == {"train": 2923, "validation": 626, "test": 628}
    for column in OUTPUT_COLUMNS:
        values = train[column].to_numpy(dtype=float)
        got = stats["columns"][column]
        assert got["count"] == len(values)
        assert got["mean"] == pytest.approx(values.mean())
        assert got["std"] == pytest.approx(values.std(ddof=1))
        assert got["min"] == values.min()
        assert got["max"] == values.max()
        assert got["quantiles"]["p50"] == pytest.approx(np.median(values))
        assert got["quantiles"]["p95"] == pytest.approx(np.quantile(values, 0.95))
    sex = stats["categories"]["sex"]
    assert sex["counts"] == {c: int(train[f"sex_{c}"].sum()) for c in "FIM"}
    assert sum(sex["frequencies"].values()) == pytest.approx(1.0)


def test_directory_input_is_concatenated_in_name_order(
    run_script, abalone_csv, abalone_splits, tmp_path
):
    raw = pd.read_csv(abalone_csv, dtype=str)
    folder = tmp_path / "input"
    folder.mkdir()
    # Names sort in file order; written with the source's exact text so outputs can match.
    raw.iloc[:1500].to_csv(folder / "part-a.csv", index=False)
    raw.iloc[1500:].to_csv(folder / "part-b.csv", index=False)
    (folder / "notes.txt").write_text("not data\n")
    out = tmp_path / "out"
    result = run_script("preprocess.py", "--input", folder, "--output-dir", out)
    assert result.returncode == 0, result.stderr
    for name in OUTPUT_FILES:
        assert (out / name).read_bytes() == (abalone_splits / name).read_bytes(), name


def test_the_pipeline_names_the_features_the_script_writes():
    from pipelines.names import MODEL_FEATURES

    script = load_script("preprocess")
    assert MODEL_FEATURES == tuple(script.FEATURES) == tuple(OUTPUT_COLUMNS[1:])


def test_the_baseline_dataset_is_the_training_features_with_their_names(abalone_splits):
    """What the data-quality baseline is computed on: the rows an endpoint receives, named."""
    baseline = pd.read_csv(abalone_splits / "baseline" / "baseline.csv")
    train = read_split(abalone_splits, "train")
    assert list(baseline.columns) == list(OUTPUT_COLUMNS[1:])
    pd.testing.assert_frame_equal(
        baseline, train.drop(columns=[OUTPUT_COLUMNS[0]]), check_dtype=False
    )


def test_summary_line_and_no_leftover_files(run_script, abalone_csv, tmp_path):
    result = run_script("preprocess.py", "--input", abalone_csv, "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "preprocess: 4177 rows -> train 2923, validation 626, test 628 (seed 42)"
    ]
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted(OUTPUT_FILES)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--train-ratio", "1.2"], "expected a number in (0, 1)"),
        (["--train-ratio", "0.8", "--validation-ratio", "0.2"], "must be below 1"),
        (["--validation-ratio", "0"], "expected a number in (0, 1)"),
    ],
)
def test_bad_ratios_are_usage_errors(run_script, abalone_csv, tmp_path, args, expected):
    out = tmp_path / "out"
    result = run_script("preprocess.py", "--input", abalone_csv, "--output-dir", out, *args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert not out.exists()


# --- bad input: one stderr line naming the file, the column and what was expected ---------

HEADER = "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight,rings"


def abalone_lines(rows: int = 40) -> list[str]:
    """The header and the first `rows` data rows of the real file."""
    return (PROJECT_ROOT / "data" / "abalone.csv").read_text().splitlines()[: rows + 1]


def with_cell(lines: list[str], row: int, column: str, value: str) -> list[str]:
    """Copy of lines with data row `row` (1-based) having `value` in `column`."""
    lines = list(lines)
    index = lines[0].split(",").index(column)
    cells = lines[row].split(",")
    cells[index] = value
    lines[row] = ",".join(cells)
    return lines


def drop_column(lines: list[str], column: str) -> list[str]:
    index = lines[0].split(",").index(column)
    return [",".join(c for i, c in enumerate(line.split(",")) if i != index) for line in lines]


BASE = abalone_lines()
BAD_INPUTS = {
    "missing_column": (drop_column(BASE, "rings"), ["missing column 'rings'", "expected columns"]),
    "extra_column": (
        [BASE[0] + ",color"] + [line + ",red" for line in BASE[1:]],
        ["unexpected column 'color'", "expected columns"],
    ),
    "duplicate_column": (
        [BASE[0] + ",height"] + [line + ",0.1" for line in BASE[1:]],
        ["column 'height' appears more than once"],
    ),
    "non_numeric": (
        with_cell(BASE, 17, "height", "abc"),
        ["column 'height': expected numbers, found 'abc' in row 17"],
    ),
    "empty_file": ([], ["empty file", "expected a header line"]),
    "header_only": ([HEADER], ["header only, no data rows", "expected at least 20 rows"]),
    "too_few_rows": (BASE[:11], ["too few rows: 10", "expected at least 20"]),
    "unknown_sex": (
        with_cell(BASE, 5, "sex", "X"),
        ["column 'sex': unknown category 'X' in row 5", "expected one of M, F, I"],
    ),
    "all_empty_column": (
        [BASE[0]] + [line.rsplit(",", 2)[0] + ",," + line.rsplit(",", 1)[1] for line in BASE[1:]],
        ["column 'shell_weight': all 40 values are empty", "expected values in every row"],
    ),
    "semicolon": (
        [line.replace(",", ";") for line in BASE],
        ["expected comma-separated values, found a semicolon-separated header"],
    ),
    "tab": (
        [line.replace(",", "\t") for line in BASE],
        ["expected comma-separated values, found a tab-separated header"],
    ),
    "missing_value": (
        with_cell(BASE, 5, "diameter", ""),
        ["column 'diameter': missing value in row 5", "expected a value in every row"],
    ),
    "negative": (
        with_cell(BASE, 3, "whole_weight", "-0.5"),
        ["column 'whole_weight': expected non-negative numbers, found -0.5 in row 3"],
    ),
    "fractional_rings": (
        with_cell(BASE, 9, "rings", "7.5"),
        ["column 'rings': expected whole numbers, found 7.5 in row 9"],
    ),
    "ragged_row": (
        [*BASE[:5], BASE[5] + ",1", *BASE[6:]],
        ["line 6 has 10 fields (expected 9"],
    ),
    "no_header": (BASE[1:], ["first line is data, not a header", "expected a header line"]),
}


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("preprocess.py: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_1_and_writes_nothing(run_script, tmp_path, case):
    lines, fragments = BAD_INPUTS[case]
    bad = tmp_path / f"{case}.csv"
    bad.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "out"
    out.mkdir()
    result = run_script("preprocess.py", "--input", bad, "--output-dir", out)
    assert_one_line_error(result, str(bad), *fragments)
    assert list(out.iterdir()) == []


def test_missing_input_path(run_script, tmp_path):
    missing = tmp_path / "nope.csv"
    result = run_script("preprocess.py", "--input", missing, "--output-dir", tmp_path / "out")
    assert_one_line_error(result, f"{missing}: input path does not exist", "expected a CSV file")
    assert not (tmp_path / "out").exists()


def test_directory_without_csv_files(run_script, tmp_path):
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello\n")
    result = run_script("preprocess.py", "--input", folder, "--output-dir", tmp_path / "out")
    assert_one_line_error(result, f"{folder}: no *.csv files")


def test_bad_file_in_directory_is_named(run_script, tmp_path):
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join(BASE) + "\n")
    (folder / "b.csv").write_text("\n".join(with_cell(BASE, 2, "sex", "m")) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    result = run_script("preprocess.py", "--input", folder, "--output-dir", out)
    assert_one_line_error(result, f"{folder / 'b.csv'}: column 'sex': unknown category 'm'")
    assert list(out.iterdir()) == []


# --- mlops.synthetic --------------------------------------------------------------------


def test_synthetic_is_deterministic_with_abalone_schema():
    first = synthetic.generate(2000, seed=3)
    pd.testing.assert_frame_equal(first, synthetic.generate(2000, seed=3))
    assert not first.equals(synthetic.generate(2000, seed=4))
    assert list(first.columns) == ["sex", *MEASUREMENTS, "rings"]
    assert len(first) == 2000
    assert set(first["sex"].astype(str)) == {"M", "F", "I"}
    assert first["rings"].dtype == np.int64
    assert first["rings"].between(1, 29).all()
    assert first["length"].between(0.05, 0.9).all()
    assert (first[MEASUREMENTS] >= 0).all().all()
    # A learnable relation: shell weight tracks age as in the real data (r is about 0.63).
    assert first["shell_weight"].corr(first["rings"]) > 0.5


def test_synthetic_cli_output_passes_preprocess(run_script, tmp_path):
    data = tmp_path / "synthetic.csv"
    cli = subprocess.run(
        [sys.executable, "-m", "mlops.synthetic", "--rows", "3000", "--out", str(data)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert data.read_text().splitlines()[0] == HEADER
    pd.testing.assert_frame_equal(
        pd.read_csv(data), synthetic.generate(3000).astype({"sex": str}), check_dtype=False
    )
    result = run_script("preprocess.py", "--input", data, "--output-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "3000 rows -> train 2100, validation 450, test 450" in result.stdout
