"""`mlops predict`: the predictions of the model a run deployed, or of an endpoint, for rows in
a CSV file.

With `--endpoint NAME` the rows go to a real endpoint (InvokeEndpoint) in the account the
standard AWS environment names (credentials, region and AWS_ENDPOINT_URL as boto3 finds them,
or --profile/--region): an endpoint on AWS, or one served by a local AWS that runs on.

The run folder keeps what serving needs (summary.json's `model`: the package's image,
environment and model data, copied as model.tar.gz), so the model is served here exactly as
its endpoint serves it: `localaws.hosting` loads the archive with the container's contract
(`localaws.serving`) and the rows go in as the endpoint's `text/csv` request.

A FILE holds either feature rows (no header, the model's columns, as the endpoint takes them)
or raw rows in the training data's schema (with a header; the target column may be there and
is ignored), which become features through the pipeline's own preprocessing code,
scripts/preprocess.py, loaded from its file as the processing container runs it.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from core.errors import UsageError
from core.settings import SCRIPTS_DIR
from localaws import hosting, serving
from mlops import history

#: The image a run from before summary.json named its model's serves with (algorithm mode).
DEFAULT_IMAGE = "sagemaker-xgboost"
_PREPROCESS: ModuleType | None = None


@dataclass(frozen=True)
class RunModel:
    """A run's deployed model: where it is and how its container serves it."""

    run_dir: Path
    archive: Path
    image: str
    environment: dict[str, str]

    def load(self) -> serving.Served:
        """The model loaded as its container loads it (cached per archive, image, env)."""
        try:
            return hosting.load_archive(
                self.archive, hosting.file_identity(self.archive), self.image, self.environment
            )
        except serving.ServingError as exc:
            raise UsageError(f"--run {self.run_dir}: the model does not load: {exc}") from None


def latest_run(runs_dir: Path) -> Path:
    """The newest complete run folder (run ids sort by time) that has a model."""
    runs = list(history.past_runs(runs_dir)) if runs_dir.is_dir() else []
    for run in reversed(runs):
        if (run.folder / "model.tar.gz").is_file():
            return run.folder
    raise UsageError(f"no run with a model in {runs_dir} (run `mlops run` first, or give --run)")


def run_model(run_dir: Path | None, runs_dir: Path = history.RUNS_DIR) -> RunModel:
    """The model `run_dir` (default: the latest run in `runs_dir`) registered and deployed."""
    run_dir = latest_run(runs_dir) if run_dir is None else run_dir
    summary_file = run_dir / "summary.json"
    if not summary_file.is_file():
        raise UsageError(f"--run {run_dir}: not a run folder (no summary.json)")
    try:
        summary: dict[str, Any] = json.loads(summary_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--run {run_dir}: summary.json is not JSON ({exc})") from None
    model = summary.get("model") or {}
    archive = run_dir / str(model.get("archive") or "model.tar.gz")
    if not archive.is_file():
        raise UsageError(
            f"--run {run_dir}: no model in this run ({archive.name} is missing: the run "
            "failed before training ended)"
        )
    return RunModel(
        run_dir,
        archive,
        str(model.get("image") or DEFAULT_IMAGE),
        {str(k): str(v) for k, v in (model.get("environment") or {}).items()},
    )


def preprocess_module() -> ModuleType:
    """scripts/preprocess.py, the pipeline's preprocessing code, imported from its file."""
    global _PREPROCESS
    if _PREPROCESS is None:
        path = SCRIPTS_DIR / "preprocess.py"
        spec = importlib.util.spec_from_file_location("_mlops_preprocess", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _PREPROCESS = module
    return _PREPROCESS


def feature_rows(path: Path) -> str:
    """The file's rows as the endpoint's text/csv request: one row of features per line.

    A first line with a cell that is not a number is a header: the rows are raw and go
    through preprocess.read_file and preprocess.features. Otherwise every row must hold the
    model's features (an empty cell is a missing value, as the XGBoost container reads it).
    Raises UsageError naming the row and column of the first bad cell.
    """
    if not path.is_file():
        raise UsageError(f"--data {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"--data {path}: not UTF-8 text (expected a CSV file)") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UsageError(f"--data {path}: empty file (expected rows to predict)")
    preprocess = preprocess_module()
    first = next(csv.reader([lines[0]], skipinitialspace=True))
    if any(not _number(cell) for cell in first):
        try:
            frame = preprocess.features(preprocess.read_file(path, target=False))
        except preprocess.InputError as exc:
            raise UsageError(f"--data {exc}") from None
        stream = io.StringIO()
        frame.to_csv(stream, header=False, index=False, lineterminator="\n")
        return stream.getvalue()
    return _checked_features(path, lines, tuple(preprocess.FEATURES))


def _number(cell: str) -> bool:
    try:
        float(cell.strip())
    except ValueError:
        return cell.strip() == ""
    return True


def _checked_features(path: Path, lines: list[str], names: tuple[str, ...]) -> str:
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in next(csv.reader([line], skipinitialspace=True))]
        if len(cells) != len(names):
            raise UsageError(
                f"--data {path}: row {number} has {len(cells)} columns (expected "
                f"{len(names)} features: {','.join(names)}; or raw rows with a header)"
            )
        for column, (name, cell) in enumerate(zip(names, cells, strict=True), 1):
            if not _number(cell):
                raise UsageError(
                    f"--data {path}: row {number}, column {column} ('{name}'): expected a "
                    f"number, found {cell!r}"
                )
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def predict(model: RunModel, data: Path) -> bytes:
    """The endpoint's text/csv answer for the file's rows: one prediction per line."""
    body = feature_rows(data).encode("utf-8")
    served = model.load()
    try:
        response = served.invoke(body, serving.CSV, serving.CSV)
    except serving.ServingError as exc:
        raise UsageError(
            f"--data {data}: the model refused the rows ({exc.status}): {exc}"
        ) from None
    return response.body


#: InvokeEndpoint takes at most 6 MB per request (API reference, InvokeEndpoint, Body): a
#: larger file goes in requests of whole rows up to this size.
MAX_REQUEST_BYTES = 5 * 1024 * 1024


def requests(rows: str, limit: int = MAX_REQUEST_BYTES) -> list[bytes]:
    """The rows as text/csv request bodies of whole lines, each at most `limit` bytes."""
    bodies: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in rows.encode("utf-8").splitlines(keepends=True):
        if current and size + len(line) > limit:
            bodies.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        bodies.append(b"".join(current))
    return bodies


def predict_endpoint(runtime: Any, endpoint: str, rows: str) -> bytes:
    """The endpoint's text/csv answers for feature rows (feature_rows), in order, one per
    line."""
    from botocore.exceptions import ClientError

    answers = []
    for body in requests(rows):
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType=serving.CSV, Accept=serving.CSV, Body=body
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Error"), error.get("Message", str(exc))
            raise UsageError(f"--endpoint {endpoint}: {code}: {message}") from None
        text = answer["Body"].read()
        answers.append(text if text.endswith(b"\n") else text + b"\n")
    return b"".join(answers)


def main(run_dir: Path | None, data: Path, runs_dir: Path = history.RUNS_DIR) -> int:
    """Print the predictions; bad input raises UsageError (one line, exit 2)."""
    answer = predict(run_model(run_dir, runs_dir), data)
    sys.stdout.write(answer.decode("utf-8"))
    return 0


def main_endpoint(endpoint: str, data: Path, profile: str | None, region: str | None) -> int:
    """Print an endpoint's predictions for the file's rows (the rows are checked first)."""
    from clients.session import aws_account

    rows = feature_rows(data)  # bad input is refused before any AWS call
    runtime = aws_account(profile, region).client("sagemaker-runtime")
    sys.stdout.write(predict_endpoint(runtime, endpoint, rows).decode("utf-8"))
    return 0
