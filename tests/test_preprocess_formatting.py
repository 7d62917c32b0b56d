"""scripts/preprocess.py reads exported CSVs: spaces and quotes around any value are formatting."""

from __future__ import annotations

import filecmp
from collections.abc import Callable
from pathlib import Path

import pytest

ROWS = 60  # enough for every split (MIN_ROWS is 20)


def _rows(abalone_csv: Path) -> list[list[str]]:
    lines = abalone_csv.read_text().splitlines()[: ROWS + 1]
    return [line.split(",") for line in lines]


#: How spreadsheet exports and hand edits write one cell.
STYLES: dict[str, Callable[[str], str]] = {
    "spaces": lambda cell: f" {cell} ",
    "quotes": lambda cell: f'"{cell}"',
    "spaces inside quotes": lambda cell: f'" {cell} "',
    "spaces around quotes": lambda cell: f' "{cell}" ',
}


def _write(path: Path, rows: list[list[str]], style: Callable[[str], str]) -> Path:
    path.write_text("".join(",".join(style(cell) for cell in row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def plain_output(
    run_script: Callable[..., object], abalone_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("plain")
    data = _write(folder / "plain.csv", _rows(abalone_csv), lambda cell: cell)
    result = run_script("preprocess.py", "--input", data, "--output-dir", folder / "out")
    assert result.returncode == 0, result.stderr
    return folder / "out"


@pytest.mark.parametrize("style", STYLES)
def test_spaces_and_quotes_read_as_the_plain_file(
    style: str,
    run_script: Callable[..., object],
    abalone_csv: Path,
    plain_output: Path,
    tmp_path: Path,
) -> None:
    """` M , 0.455 ,...` and `"M","0.455",...` give byte-identical splits and statistics."""
    data = _write(tmp_path / "styled.csv", _rows(abalone_csv), STYLES[style])
    result = run_script("preprocess.py", "--input", data, "--output-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    files = ["train/train.csv", "validation/validation.csv", "test/test.csv"]
    files.append("statistics/statistics.json")
    same, *_ = filecmp.cmpfiles(plain_output, tmp_path / "out", files, shallow=False)
    assert same == files


@pytest.mark.parametrize(
    ("column", "cell", "expected"),
    [
        (0, " X ", "column 'sex': unknown category 'X' in row 3"),
        (0, ' " " ', "column 'sex': missing value in row 3"),
        (2, " abc ", "column 'diameter': expected numbers, found 'abc' in row 3"),
        (2, ' " " ', "column 'diameter': missing value in row 3"),
        (3, " inf ", "column 'height': expected finite numbers, found inf in row 3"),
        (8, " 7.5 ", "column 'rings': expected whole numbers, found 7.5 in row 3"),
    ],
)
def test_a_bad_padded_value_is_one_line_naming_file_row_and_column(
    column: int,
    cell: str,
    expected: str,
    run_script: Callable[..., object],
    abalone_csv: Path,
    tmp_path: Path,
) -> None:
    rows = [[f" {value} " for value in row] for row in _rows(abalone_csv)]
    rows[3][column] = cell
    data = _write(tmp_path / "padded.csv", rows, lambda value: value)
    result = run_script("preprocess.py", "--input", data, "--output-dir", tmp_path / "out")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"preprocess.py: error: {data}: ")
    assert expected in line
    assert not (tmp_path / "out").exists()
