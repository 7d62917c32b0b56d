"""Score the trained model on the held-out test split and write evaluation.json.

Runs as the SageMaker Processing step after training (XGBoost 3.0-5 container) and, unchanged,
on a laptop:

    python scripts/evaluate.py --model-dir model/ --test-dir out/test --output-dir eval/

evaluation.json has SageMaker's model-quality shape, which both the pipeline's quality gate
(JsonGet on regression_metrics.mse.value) and the model registry read:

    {"regression_metrics": {"mse": {"value": v, "standard_deviation": s}, "rmse": ..,
     "mae": .., "r2": ..}, "test_rows": n, "bootstrap": {"resamples": b, "seed": k}}

Beside it, `comparison.json`: the same metrics for the champion (the model serving today, as
scripts/champion.py found it; `--champion-model-url`), scored on the same rows with the same
bootstrap resamples, and for each metric the difference and which model is better:

    {"champion": {"source", "model_data_url", "model_package_arn", "endpoint_name"} | null,
     "metrics": {"mse": {"challenger": v, "champion": v | null, "difference": c - ch | null,
                         "better": "challenger" | "champion" | "same" | null,
                         "lower_is_better": true}, ...},
     "mse_increase": challenger mse - champion mse (0.0 without a champion),
     "comparable": true | false, "reason": "..", "test_rows": n}

The pipeline's gate may read `mse_increase` (ChampionMseTolerance). A champion that cannot be
scored on these rows (it expects other features) is reported as not comparable, not an error.

And the pictures a reviewer looks at, as SVG in `pictures/` (matplotlib, in the container):
predicted against actual, the residuals' distribution and feature importance (gain), each
with the champion beside the challenger when there is one.

Also `smoke-test/payload.csv` (the first `--smoke-test-rows` feature rows of the test
split, as an endpoint receives them: text/csv, no header, no target) and
`smoke-test/predictions.csv` (this evaluation's prediction for each, one per line). Before a
new model takes traffic, the workflow sends the payload to its endpoint and compares the
answers with these predictions (smoketest/): the endpoint must serve the model evaluated here.

standard_deviation is the bootstrap standard error of each metric: the metric is recomputed on
`--bootstrap-resamples` resamples (with replacement) of the test rows drawn from a seeded
generator, and the standard deviation of those values is reported. It says how much the score
depends on which rows happened to land in the test split, which is what matters when comparing
a model against a fixed threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xgboost as xgb

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODEL_ARCHIVE = "model.tar.gz"
#: The smoke-test sample beside evaluation.json (core/contracts.py holds the same names; this
#: script runs in a container without the project).
SMOKE_TEST_FOLDER = "smoke-test"
SMOKE_TEST_PAYLOAD = "payload.csv"
SMOKE_TEST_PREDICTIONS = "predictions.csv"
MODEL_FILE = "xgboost-model"
COMPARISON_FILE = "comparison.json"
PICTURES_FOLDER = "pictures"
#: Picture files in PICTURES_FOLDER (core/contracts.py PICTURES names the same files).
PICTURES = {
    "predicted_vs_actual": "predicted-vs-actual.svg",
    "residuals": "residuals.svg",
    "feature_importance": "feature-importance.svg",
}
#: Written by scripts/champion.py for what does not apply (job arguments cannot be empty).
NONE = "none"
#: Whether a lower value of each metric is better (r2: higher is better).
LOWER_IS_BETTER = {"mse": True, "rmse": True, "mae": True, "r2": False}
#: Upper bound on indices held in memory at once while bootstrapping (~16 MB of int64).
BOOTSTRAP_CHUNK = 2_000_000


class EvaluationError(Exception):
    """A problem with the model or the test data; its message is the one line shown."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; defaults are the SageMaker Processing container paths."""
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model-dir", default="/opt/ml/processing/model", help=f"directory holding {MODEL_ARCHIVE}"
    )
    parser.add_argument(
        "--test-dir", default="/opt/ml/processing/test", help="headerless CSV files, target first"
    )
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    parser.add_argument("--bootstrap-resamples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument(
        "--champion-model-url",
        default=NONE,
        help="S3 URI of the champion's model.tar.gz (scripts/champion.py), or none",
    )
    parser.add_argument("--champion-source", default=NONE, help="where the champion came from")
    parser.add_argument("--champion-package", default=NONE, help="the champion's model package")
    parser.add_argument(
        "--champion-endpoint", default=NONE, help="the endpoint serving the champion, if any"
    )
    parser.add_argument(
        "--feature-names", default="", help="comma-separated feature names, in column order"
    )
    parser.add_argument(
        "--smoke-test-rows",
        type=int,
        default=100,
        help="test rows (and their predictions) kept for the smoke test of the endpoint",
    )
    args = parser.parse_args(argv)
    if args.bootstrap_resamples < 2:
        parser.error("--bootstrap-resamples must be at least 2")
    if args.smoke_test_rows < 1:
        parser.error("--smoke-test-rows must be at least 1")
    return args


def _unsafe(member: tarfile.TarInfo) -> bool:
    """True for members that could write outside the extraction directory."""
    name = PurePosixPath(member.name)
    return (
        name.is_absolute()
        or member.name.startswith("\\")
        or ".." in name.parts
        or member.issym()
        or member.islnk()
        or member.isdev()
    )


def load_model(model_dir: str) -> xgb.Booster:
    """The Booster inside model.tar.gz, read straight from the archive.

    Nothing is extracted to disk; the archive is still refused if any member is an absolute
    path, climbs out with '..', or is a link or device, since such an archive was not written by
    SageMaker and should not be trusted.
    """
    archive = Path(model_dir) / MODEL_ARCHIVE
    if not archive.is_file():
        raise EvaluationError(
            f"{archive}: model archive not found (expected the training "
            f"job's {MODEL_ARCHIVE} in {model_dir})"
        )
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            unsafe = [m.name for m in members if _unsafe(m)]
            if unsafe:
                raise EvaluationError(
                    f"{archive}: unsafe member {unsafe[0]!r} (expected "
                    "relative paths without '..' and no links)"
                )
            model = [
                m for m in members if m.isfile() and PurePosixPath(m.name).parts == (MODEL_FILE,)
            ]
            if not model:
                raise EvaluationError(
                    f"{archive}: no {MODEL_FILE} in the archive (expected {MODEL_FILE} at its root)"
                )
            handle = tar.extractfile(model[0])
            assert handle is not None  # isfile() members always have a file object
            raw = handle.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise EvaluationError(f"{archive}: not a readable gzip tar archive ({error})") from None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError:
        raise EvaluationError(f"{archive}: {MODEL_FILE} is not an XGBoost model") from None
    return booster


def read_test(test_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and features of every *.csv in the test directory (sorted by name)."""
    path = Path(test_dir)
    if not path.is_dir():
        raise EvaluationError(f"{path}: test directory does not exist")
    blocks = []
    for file in sorted(p for p in path.glob("*.csv") if p.is_file()):
        try:
            blocks.append(pd.read_csv(file, header=None, dtype=np.float32).to_numpy())
        except pd.errors.EmptyDataError:
            continue
        except (ValueError, pd.errors.ParserError) as error:
            raise EvaluationError(
                f"{file}: expected numbers only, target first ({' '.join(str(error).split())})"
            ) from None
        if blocks[-1].shape[1] != blocks[0].shape[1]:
            raise EvaluationError(
                f"{file}: {blocks[-1].shape[1]} columns (expected "
                f"{blocks[0].shape[1]}, as in the first test file)"
            )
    if not blocks or sum(len(b) for b in blocks) == 0:
        raise EvaluationError(
            f"{path}: test set is empty (expected headerless CSV files "
            "with at least one row, target first)"
        )
    data = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return data[:, 0].astype(np.float64), data[:, 1:]


def _metrics(y: np.ndarray, error: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics along the last axis (so one call scores many bootstrap resamples at once)."""
    mse = np.mean(error**2, axis=-1)
    total = np.sum((y - y.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - np.sum(error**2, axis=-1) / total
    return {"mse": mse, "rmse": np.sqrt(mse), "mae": np.mean(np.abs(error), axis=-1), "r2": r2}


def evaluate(y: np.ndarray, predictions: np.ndarray, resamples: int, seed: int) -> dict:
    """Point metrics on all rows and their bootstrap standard deviations."""
    error = predictions - y
    point = _metrics(y, error)
    rng = np.random.default_rng(seed)
    n = len(y)
    per_chunk = max(1, BOOTSTRAP_CHUNK // n)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for start in range(0, resamples, per_chunk):
        index = rng.integers(0, n, size=(min(per_chunk, resamples - start), n))
        for name, values in _metrics(y[index], error[index]).items():
            samples[name].append(values)
    regression = {}
    for name, value in point.items():
        spread = np.concatenate(samples[name])
        regression[name] = {
            "value": _number(value),
            "standard_deviation": _number(np.std(spread[np.isfinite(spread)], ddof=1)),
        }
    return {
        "regression_metrics": regression,
        "test_rows": n,
        "bootstrap": {"resamples": resamples, "seed": seed},
    }


def _number(value: np.floating) -> float | None:
    """A JSON-safe float: None (null) where the metric is undefined, e.g. r2 of constant y."""
    value = float(value)
    return value if np.isfinite(value) else None


def _show(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def write_report(output_dir: str, report: dict) -> Path:
    """Write evaluation.json atomically so a reader never sees half a file."""
    return write_json(Path(output_dir) / "evaluation.json", report)


def write_smoke_test_sample(
    output_dir: str, features: np.ndarray, predictions: np.ndarray, rows: int
) -> Path:
    """The first `rows` feature rows and their predictions, for the endpoint's smoke test.

    Features are written as float32 in their shortest round-trip form, so the endpoint parses
    exactly the values this evaluation predicted on; predictions in Python's repr, exact.
    """
    folder = Path(output_dir) / SMOKE_TEST_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    sample = features[:rows].astype(np.float32)

    def cell(value: np.float32) -> str:
        return "" if np.isnan(value) else np.format_float_positional(value, trim="-")

    payload = "".join(",".join(cell(v) for v in row) + "\n" for row in sample)
    expected = "".join(f"{float(p)!r}\n" for p in predictions[:rows])
    (folder / SMOKE_TEST_PAYLOAD).write_text(payload, encoding="utf-8")
    (folder / SMOKE_TEST_PREDICTIONS).write_text(expected, encoding="utf-8")
    return folder


def download_champion(url: str, folder: Path) -> Path:
    """The champion's model.tar.gz from S3 into `folder` (the job's role reads it)."""
    import boto3  # in the container; only needed when there is a champion

    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise EvaluationError(f"--champion-model-url {url}: expected s3://bucket/key")
    folder.mkdir(parents=True, exist_ok=True)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        boto3.client("s3", region_name=region).download_file(
            bucket, key, str(folder / MODEL_ARCHIVE)
        )
    except Exception as error:  # botocore's errors; a champion we cannot read stops the job
        raise EvaluationError(f"--champion-model-url {url}: cannot be read ({error})") from None
    return folder


def compare(challenger: dict, champion: dict | None) -> dict:
    """Each metric of both models, the difference (challenger - champion) and the better."""
    metrics = {}
    for name, entry in challenger["regression_metrics"].items():
        mine = entry["value"]
        theirs = None if champion is None else champion["regression_metrics"][name]["value"]
        difference = None if mine is None or theirs is None else mine - theirs
        lower = LOWER_IS_BETTER.get(name, True)
        if difference is None:
            better = None
        elif difference == 0:
            better = "same"
        else:
            better = "challenger" if (difference < 0) == lower else "champion"
        metrics[name] = {
            "challenger": mine,
            "champion": theirs,
            "difference": difference,
            "better": better,
            "lower_is_better": lower,
        }
    return metrics


def _svg(figure: Figure, path: Path) -> None:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    figure.tight_layout()
    with path.open("w", encoding="utf-8") as handle:
        # No date in the file: the same evaluation renders the same bytes.
        FigureCanvasSVG(figure).print_svg(handle, metadata={"Date": None})


def draw_pictures(
    folder: Path,
    y: np.ndarray,
    models: dict[str, tuple[np.ndarray, dict[str, float]]],
    feature_names: list[str],
) -> None:
    """The three pictures; `models` maps "challenger" (and "champion") to (predictions,
    feature importance by name)."""
    # Imported here, so the time pictures cost is this function's. matplotlib's object API
    # with the SVG canvas, no pyplot (no GUI backend, a faster import).
    import matplotlib
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    # Text stays text (smaller, selectable); ids are stable between runs.
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "evaluate", "font.size": 9})
    colours = {"challenger": "#1f77b4", "champion": "#ff7f0e"}
    low, high = (
        float(min(y.min(), *(p.min() for p, _ in models.values()))),
        float(max(y.max(), *(p.max() for p, _ in models.values()))),
    )

    figure = Figure(figsize=(3.4 * len(models), 3.2), dpi=100)
    axes = np.atleast_1d(figure.subplots(1, len(models), sharex=True, sharey=True))
    for ax, (name, (predictions, _)) in zip(axes, models.items(), strict=True):
        # The points as one embedded PNG (rasterized), the axes and text as vectors: a
        # scatter of every test row as vectors would be hundreds of kilobytes.
        ax.scatter(y, predictions, s=6, alpha=0.35, linewidths=0, color=colours[name],
                   rasterized=True)  # fmt: skip
        ax.plot([low, high], [low, high], color="black", linewidth=0.8)
        ax.set_title(f"{name}: predicted against actual")
        ax.set_xlabel("actual")
    axes[0].set_ylabel("predicted")
    _svg(figure, folder / PICTURES["predicted_vs_actual"])

    figure = Figure(figsize=(6.8, 3.0), dpi=100)
    ax = figure.subplots()
    residuals = {name: predictions - y for name, (predictions, _) in models.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(residuals.values())), bins=40)
    for name, values in residuals.items():
        ax.hist(values, bins=edges, histtype="step", linewidth=1.4, color=colours[name],
                label=f"{name} (mean {values.mean():+.3g}, sd {values.std():.3g})")  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title("residuals: predicted - actual")
    ax.set_xlabel("residual")
    ax.set_ylabel("test rows")
    ax.legend()
    _svg(figure, folder / PICTURES["residuals"])

    figure = Figure(figsize=(6.8, 0.9 + 0.28 * len(feature_names) * len(models)), dpi=100)
    ax = figure.subplots()
    height = 0.8 / len(models)
    rows = np.arange(len(feature_names))
    for index, (name, (_, importance)) in enumerate(models.items()):
        total = sum(importance.values()) or 1.0
        shares = [importance.get(feature, 0.0) / total for feature in feature_names]
        ax.barh(rows + index * height, shares, height=height, color=colours[name], label=name)
    ax.set_yticks(rows + height * (len(models) - 1) / 2, feature_names)
    ax.invert_yaxis()
    ax.set_xlabel("share of total gain")
    ax.set_title("feature importance (gain)")
    ax.legend()
    _svg(figure, folder / PICTURES["feature_importance"])


def importance(booster: xgb.Booster, feature_names: list[str]) -> dict[str, float]:
    """Total gain per feature, by name (XGBoost names headerless columns f0, f1, ...)."""
    scores = booster.get_score(importance_type="total_gain")
    return {
        name: float(scores.get(name, scores.get(f"f{index}", 0.0)))
        for index, name in enumerate(feature_names)
    }


def score_champion(
    args: argparse.Namespace, work: Path, x: np.ndarray
) -> tuple[xgb.Booster | None, np.ndarray | None, str]:
    """The champion's booster and predictions, or None and why it cannot be compared."""
    if args.champion_model_url == NONE:
        return None, None, "no champion: nothing is deployed or approved yet"
    booster = load_model(str(download_champion(args.champion_model_url, work)))
    if booster.num_features() != x.shape[1]:
        return (
            None,
            None,
            (
                f"the champion expects {booster.num_features()} features, the test split has "
                f"{x.shape[1]}: not comparable on these rows"
            ),
        )
    return booster, booster.predict(xgb.DMatrix(x)).astype(np.float64), ""


def write_json(path: Path, document: dict) -> Path:
    """Write atomically so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Load, predict, score, write; a bad model or test set is one stderr line and exit 1."""
    args = parse_args(argv)
    try:
        booster = load_model(args.model_dir)
        y, x = read_test(args.test_dir)
        if x.shape[1] != booster.num_features():
            raise EvaluationError(
                f"{args.test_dir}: {x.shape[1]} feature columns (expected "
                f"{booster.num_features()}, as the model was trained)"
            )
        with tempfile.TemporaryDirectory(prefix="champion-") as work:
            champion, champion_predictions, reason = score_champion(args, Path(work), x)
    except EvaluationError as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 1
    predictions = booster.predict(xgb.DMatrix(x)).astype(np.float64)
    report = evaluate(y, predictions, args.bootstrap_resamples, args.seed)
    names = [n for n in args.feature_names.split(",") if n]
    if len(names) != x.shape[1]:
        names = [f"f{index}" for index in range(x.shape[1])]
    models = {"challenger": (predictions, importance(booster, names))}
    champion_report = None
    if champion is not None and champion_predictions is not None:
        # The same seed draws the same resamples: both models are scored on the same rows.
        champion_report = evaluate(y, champion_predictions, args.bootstrap_resamples, args.seed)
        models["champion"] = (champion_predictions, importance(champion, names))
    metrics = compare(report, champion_report)
    increase = metrics["mse"]["difference"]
    write_json(
        Path(args.output_dir) / COMPARISON_FILE,
        {
            "champion": None
            if args.champion_model_url == NONE
            else {
                "source": args.champion_source,
                "model_data_url": args.champion_model_url,
                "model_package_arn": args.champion_package,
                "endpoint_name": args.champion_endpoint,
            },
            "comparable": champion_report is not None,
            "reason": reason,
            "metrics": metrics,
            "mse_increase": 0.0 if increase is None else increase,
            "test_rows": len(y),
        },
    )
    drawing = time.perf_counter()
    draw_pictures(Path(args.output_dir) / PICTURES_FOLDER, y, models, names)
    drawn = time.perf_counter() - drawing
    write_smoke_test_sample(args.output_dir, x, predictions, args.smoke_test_rows)
    path = write_report(args.output_dir, report)
    metrics = report["regression_metrics"]
    shown = ", ".join(
        f"{name} {_show(m['value'])} (sd {_show(m['standard_deviation'])})"
        for name, m in metrics.items()
    )
    print(f"evaluate.py: {len(y)} test rows -> {shown}; wrote {path}")
    print(f"evaluate.py: {len(models)} model(s) in the pictures, drawn in {drawn:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
