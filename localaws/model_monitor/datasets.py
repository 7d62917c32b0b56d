"""The datasets Model Monitor analyses, read into frames of text values.

Every value is kept as the text the file holds ("" where it is missing), because the analyzer
infers each feature's type from that text (statistics.py).

- A baselining job's dataset is named by its container Environment, as the sagemaker SDK sets
  it (sagemaker/model_monitor/model_monitoring.py, `ModelMonitor._generate_env_map`):
  `dataset_source` (the folder of the dataset input) and `dataset_format`, the JSON of
  sagemaker/model_monitor/dataset_format.py's `DatasetFormat`: `{"csv": {"header": bool,
  "output_columns_position": ...}}`, `{"json": {"lines": bool}}` or
  `{"sagemakerCaptureJson": {}}`. Every file under the folder is part of the dataset.
- CSV without a header has columns `_c0`, `_c1`, ..., as Spark names them (the names Model
  Monitor's statistics then carry).
- Capture files are the JSON lines SageMaker writes for an endpoint's data capture (developer
  guide, "Capture data from real-time endpoint"; `localaws.runtime_seam.capture_record` writes
  them locally): each line's `captureData.endpointInput` holds `observedContentType`, `mode`,
  `data` and `encoding` (CSV or JSON: the data is the text; BASE64: the bytes, read by the
  observed content type). A CSV request may hold many rows. A JSON request may be an object
  (one row of named features), a list of numbers (one row), a list of rows, or SageMaker's
  `{"instances": [...]}`, whose items may wrap their row as `{"features": [...]}`.
- Rows without names (CSV, JSON lists) take `feature_names` by position, the baseline's
  features in its column order, which is the order of the model's inputs; cells past those
  names are `_c<position>`. A short row leaves its last features missing and a long one adds
  columns, so a request of the wrong width shows up as completeness, missing column or extra
  column findings, not as an error.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

_CSV_TYPES = {"text/csv", "application/csv", "text/x-csv"}
_JSON_TYPES = {"application/json", "text/json"}
_JSON_LINES_TYPES = {"application/jsonlines", "application/x-jsonlines", "application/jsonl"}


def dataset_files(folder: Path) -> list[Path]:
    """Every file under `folder` (or `folder` itself if it is a file), in name order."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file())


def read_dataset(folder: Path, dataset_format: dict[str, Any]) -> pd.DataFrame:
    """The dataset under `folder`, read as `dataset_format` (DatasetFormat's JSON) says."""
    files = dataset_files(folder)
    if not files:
        raise ValueError(f"{folder}: the dataset folder holds no files")
    if "csv" in dataset_format:
        return read_csv(files, header=bool((dataset_format["csv"] or {}).get("header", True)))
    if "json" in dataset_format:
        if not (dataset_format["json"] or {}).get("lines", True):
            raise ValueError("dataset_format json with lines false: only JSON lines is read")
        return read_json_lines(files)
    if "sagemakerCaptureJson" in dataset_format:
        return read_captures(files, [])
    known = "csv, json, sagemakerCaptureJson"
    raise ValueError(f"dataset_format {json.dumps(dataset_format)}: expected one of {known}")


def read_csv(files: Iterable[Path], header: bool) -> pd.DataFrame:
    """CSV files as one frame of text; without a header the columns are _c0, _c1, ..."""
    frames = [_read_csv_file(path, header) for path in files]
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame()
    return _text(pd.concat(frames, ignore_index=True, sort=False))


def _read_csv_file(path: Path, header: bool) -> pd.DataFrame | None:
    try:
        frame = pd.read_csv(
            path,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not readable as CSV: {exc}") from None
    if not header:
        frame.columns = [f"_c{i}" for i in range(frame.shape[1])]
    return frame


def read_json_lines(files: Iterable[Path]) -> pd.DataFrame:
    """JSON lines files, one object (a row of named features) per line."""
    rows: list[dict[str, Any]] = []
    for path in files:
        for number, line in _lines(path):
            document = _json(line, f"{path}:{number}")
            if not isinstance(document, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object per line")
            rows.append(document)
    return _text(pd.DataFrame(rows))


def read_captures(files: Iterable[Path], feature_names: Sequence[str]) -> pd.DataFrame:
    """The requests (`endpointInput`) in capture files as rows; see the module docstring."""
    positional: list[list[Any]] = []
    named: list[dict[str, Any]] = []
    for path in files:
        for number, line in _lines(path):
            where = f"{path}:{number}"
            record = _json(line, where)
            captured = (record.get("captureData") or {}) if isinstance(record, dict) else {}
            request = captured.get("endpointInput")
            if not isinstance(request, dict):
                continue  # an output-only capture holds no input to analyse
            for row in _request_rows(request, where):
                if isinstance(row, dict):
                    named.append(row)
                else:
                    positional.append(row)
    parts = []
    if positional:
        width = max(len(row) for row in positional)
        padded = [row + [None] * (width - len(row)) for row in positional]
        columns = [_position_name(i, feature_names) for i in range(width)]
        parts.append(pd.DataFrame(padded, columns=columns))
    if named:
        parts.append(pd.DataFrame(named))
    if not parts:
        return pd.DataFrame()
    return _text(pd.concat(parts, ignore_index=True, sort=False))


def _position_name(index: int, names: Sequence[str]) -> str:
    return names[index] if index < len(names) else f"_c{index}"


def _request_rows(request: dict[str, Any], where: str) -> list[list[Any] | dict[str, Any]]:
    """One captured request's rows: lists (positional) or dicts (named)."""
    kind = str(request.get("observedContentType") or "").split(";")[0].strip().lower()
    encoding = str(request.get("encoding") or "").upper()
    data = request.get("data")
    if not isinstance(data, str):
        raise ValueError(f"{where}: endpointInput.data is not a string")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"{where}: endpointInput.data is not base64 of UTF-8 text") from None
    elif encoding not in ("CSV", "JSON"):
        raise ValueError(
            f"{where}: endpointInput.encoding {encoding!r}: expected CSV, JSON or BASE64"
        )
    if encoding == "CSV" or (encoding == "BASE64" and kind in _CSV_TYPES):
        return [row for row in csv.reader(io.StringIO(data)) if row]
    if kind in _JSON_LINES_TYPES:
        return [r for n, line in _numbered(data) for r in _json_rows(_json(line, f"{where}.{n}"))]
    if encoding == "JSON" or kind in _JSON_TYPES:
        return _json_rows(_json(data, where))
    raise ValueError(
        f"{where}: content type {kind or '(none)'} is neither CSV nor JSON, the formats Model "
        "Monitor's data quality analysis reads"
    )


def _json_rows(document: Any) -> list[list[Any] | dict[str, Any]]:
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
    if isinstance(document, dict):
        return [_unwrap(document)]
    if isinstance(document, list):
        if all(not isinstance(item, list | dict) for item in document):
            return [document]
        return [_unwrap(item) if isinstance(item, dict) else _row(item) for item in document]
    return [[document]]


def _unwrap(item: dict[str, Any]) -> list[Any] | dict[str, Any]:
    features = item.get("features")
    return features if len(item) == 1 and isinstance(features, list) else item


def _row(item: Any) -> list[Any]:
    return item if isinstance(item, list) else [item]


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text, missing cells as "": CSV cells already are; JSON values are written
    back as JSON (1.0 stays "1.0", true becomes "true", a String)."""
    text = frame.astype(object).where(frame.notna(), "")
    for name in text.columns:
        if pd.api.types.infer_dtype(text[name], skipna=False) != "string":
            text[name] = text[name].map(lambda v: v if isinstance(v, str) else json.dumps(v))
    return text


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    return _numbered(text)


def _numbered(text: str) -> Iterable[tuple[int, str]]:
    return ((n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip())


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where}: not JSON ({exc})") from None
