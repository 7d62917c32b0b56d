"""The SageMaker XGBoost algorithm's `train`, as a job program: run in the job's interpreter.

Standalone on purpose (standard library, numpy, scipy and xgboost only, never localaws): it
runs in the job's own process, where the image's `train` entry point would run, so a crash,
a long fit or xgboost's threads never touch the local AWS process.

The contract follows aws/sagemaker-xgboost-container (read at commit cb8df91c, written here
from its facts, not its code):

- `algorithm_mode/train.py`: channels `train` (required) and `validation` (optional) under
  /opt/ml/input/data; the model is `Booster.save_model("/opt/ml/model/xgboost-model")`;
  one line per round from xgboost's EvaluationMonitor, `[i]<TAB>train-rmse:x<TAB>...` with
  5 decimals; CloudWatch shows the tab as `#011`, and the algorithm's metric regexes
  (`algorithm_mode/metrics.py`: `.*\\[[0-9]+\\].*#011validation-rmse:(\\S+)`) match that form,
  so it is printed so here.
- `algorithm_mode/hyperparameter_validation.py` (via `sagemaker_algorithm_toolkit`): values
  arrive as strings; `num_round` is required; aliases (learning_rate -> eta, min_split_loss ->
  gamma, reg_lambda -> lambda, reg_alpha -> alpha); any other name fails with "Extraneous
  hyperparameter found"; no defaults are filled in, so xgboost's own apply (objective
  reg:squarederror, eta 0.3, max_depth 6, subsample 1, ...).
- `data_utils.py`: ContentType absent -> libsvm; `text/csv` (`label_size` must be 1) or
  `csv`; `text/libsvm`, `libsvm`, `text/x-libsvm`; CSV has the label in column 0, no header,
  the delimiter sniffed from the first line, instance weights in column 1 when
  `csv_weights=1`; files whose names start with '.' or '_' are skipped.
- `callback.py`: `early_stopping_rounds` watches the last `eval_metric` on `validation`,
  maximising the metrics in `constants/xgb_constants.py` XGB_MAXIMIZE_METRICS.

Paths come from the SM_* variables the executor sets (the container's own paths otherwise).
On failure the reason is written to /opt/ml/output/failure, as the container does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

MODEL_NAME = "xgboost-model"
INTEGERS = {
    "num_round", "csv_weights", "early_stopping_rounds", "verbosity", "nthread", "max_depth",
    "refresh_leaf", "max_leaves", "max_bin", "one_drop", "num_class", "_kfold",
    "_num_cv_round", "seed", "num_parallel_tree", "prob_buffer_row",
}  # fmt: skip
FLOATS = {
    "eta", "gamma", "min_child_weight", "max_delta_step", "subsample", "colsample_bytree",
    "colsample_bylevel", "colsample_bynode", "lambda", "alpha", "sketch_eps",
    "scale_pos_weight", "rate_drop", "skip_drop", "lambda_bias", "tweedie_variance_power",
    "base_score", "aft_loss_distribution_scale",
}  # fmt: skip
STRINGS = {
    "booster", "tree_method", "updater", "dsplit", "process_type", "grow_policy", "predictor",
    "monotone_constraints", "interaction_constraints", "sample_type", "normalize_type",
    "objective", "_tuning_objective_metric", "eval_metric", "save_model_on_termination",
    "aft_loss_distribution", "deterministic_histogram", "sampling_method",
    "use_dask_gpu_training",
}  # fmt: skip
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda"}
ALIASES["reg_alpha"] = "alpha"
#: Not xgboost parameters: read by the algorithm itself.
ALGORITHM_ONLY = {
    "num_round", "csv_weights", "early_stopping_rounds", "save_model_on_termination",
    "_tuning_objective_metric", "_kfold", "_num_cv_round", "use_dask_gpu_training",
}  # fmt: skip
MAXIMIZE = {
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map",
    "ndcg", "precision", "r2", "recall", "precision_macro", "precision_micro",
    "recall_macro", "recall_micro",
}  # fmt: skip


class UserError(Exception):
    """What the container reports as a ClientError: the job's input is wrong."""


def validate(raw: dict[str, str]) -> dict[str, Any]:
    """Hyperparameters as the algorithm reads them: aliases, required, types."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        name = ALIASES.get(name, name)
        try:
            if name in INTEGERS:
                values[name] = int(value)
            elif name in FLOATS:
                values[name] = float(value)
            elif name in STRINGS:
                values[name] = str(value)
            else:
                raise UserError(f"Extraneous hyperparameter found: {name}")
        except ValueError:
            raise UserError(f"Hyperparameter {name}: could not parse value") from None
    if "num_round" not in values:
        raise UserError("Missing required hyperparameter: num_round")
    if values["num_round"] < 1:
        raise UserError(f"Hyperparameter num_round: {values['num_round']} is not in [1, inf)")
    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    return values


def content_type(value: str | None) -> str:
    """'csv' or 'libsvm' from a channel's ContentType, as data_utils.get_content_type reads it."""
    if value is None:
        return "libsvm"
    main, *params = [part.strip() for part in value.lower().split(";")]
    options = dict(p.split("=", 1) for p in params if "=" in p)
    if main in ("csv", "text/csv"):
        if options.get("label_size", "1") != "1":
            raise UserError(
                f"{value} is not an accepted csv ContentType. "
                "Optional parameter label_size must be equal to 1"
            )
        return "csv"
    if main in ("libsvm", "text/libsvm", "text/x-libsvm"):
        return "libsvm"
    raise UserError(
        f"{value} is not an accepted ContentType here: text/csv, text/libsvm "
        "(parquet and recordio-protobuf need the algorithm's container)"
    )


def data_files(folder: Path) -> list[Path]:
    """The channel's data files, skipping names starting with '.' or '_' as the algorithm does."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))


def load(folder: Path, kind: str, csv_weights: int) -> Any:
    """The channel as an xgboost DMatrix, or None when it holds no data."""
    import numpy as np
    import xgboost as xgb

    files = [f for f in data_files(folder) if f.stat().st_size > 0]
    if not files:
        return None
    if kind == "libsvm":
        features, labels, weights = libsvm_matrix("\n".join(f.read_text() for f in files))
        return xgb.DMatrix(features, label=labels, weight=weights)
    first = files[0].open(encoding="utf-8").readline()
    try:
        delimiter = csv.Sniffer().sniff(first).delimiter
    except csv.Error as exc:
        raise UserError(f"Could not determine delimiter on line {first[:50]}:\n{exc}") from None
    blocks = []
    for path in files:
        with path.open(encoding="utf-8") as handle:
            rows = np.genfromtxt(handle, delimiter=delimiter, dtype=np.float32, ndmin=2)
        blocks.append(rows)
    data = np.vstack(blocks)
    start = 2 if csv_weights == 1 else 1
    weights = data[:, 1] if csv_weights == 1 else None
    return xgb.DMatrix(data[:, start:], label=data[:, 0], weight=weights, missing=np.nan)


def libsvm_matrix(text: str) -> tuple[Any, Any, Any]:
    """(features as CSR, labels, weights) from libsvm text; indices all >= 1 are taken as one-based.

    dmlc-core's libsvm parser (what the algorithm's `?format=libsvm` uses) auto-detects
    one-based indices the same way, as does the container's serving (`serve_utils.py`).
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    labels: list[float] = []
    weights: list[float] = []
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        label, _, weight = parts[0].partition(":")
        labels.append(float(label))
        weights.append(float(weight) if weight else 1.0)
        for item in parts[1:]:
            index, _, value = item.partition(":")
            rows.append(len(labels) - 1)
            cols.append(int(index))
            values.append(float(value))
    columns = np.asarray(cols, dtype=np.int64)
    if columns.size and columns.min() >= 1:
        columns = columns - 1
    shape = (len(labels), int(columns.max()) + 1 if columns.size else 0)
    matrix = csr_matrix((np.asarray(values, dtype=np.float32), (rows, columns)), shape=shape)
    return matrix, np.asarray(labels), np.asarray(weights)


def train(config: Path, channels: Path, model_dir: Path) -> None:
    """Fit and save as the algorithm does; prints one metrics line per round."""
    import xgboost as xgb

    raw = json.loads((config / "hyperparameters.json").read_text(encoding="utf-8"))
    data_config = json.loads((config / "inputdataconfig.json").read_text(encoding="utf-8"))
    settings = validate({k: str(v) for k, v in raw.items()})
    if "train" not in data_config:
        raise UserError("Missing required channel: train")
    extra = sorted(set(data_config) - {"train", "validation"})
    if extra:
        raise UserError(f"Extraneous channel(s) found: {', '.join(extra)}")
    kind = content_type(data_config["train"].get("ContentType"))
    weights = settings.get("csv_weights", 0)
    dtrain = load(channels / "train", kind, weights)
    if dtrain is None:
        raise UserError(f"No data in training channel path {channels / 'train'}")
    dval = None
    if "validation" in data_config:
        dval = load(channels / "validation", kind, weights)
        if dval is None:
            raise UserError(f"No data in validation channel path {channels / 'validation'}")
    print(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns", flush=True)

    params = {k: v for k, v in settings.items() if k not in ALGORITHM_ONLY}
    metrics = [m.strip() for m in str(params.pop("eval_metric", "")).split(",") if m.strip()]
    if metrics:
        params["eval_metric"] = metrics
    callbacks: list[Any] = [_monitor()]
    rounds = settings.get("early_stopping_rounds")
    if rounds and dval is not None and metrics:
        metric = metrics[-1]
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=rounds,
                data_name="validation",
                metric_name=metric,
                maximize=metric.split("@")[0] in MAXIMIZE,
                save_best=True,
            )
        )
    evals = [(dtrain, "train")] + ([(dval, "validation")] if dval is not None else [])
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=settings["num_round"],
        evals=evals,
        callbacks=callbacks,
        verbose_eval=False,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / MODEL_NAME))
    print(f"Stored trained model at {model_dir / MODEL_NAME}", flush=True)


def _monitor() -> Any:
    """EvaluationMonitor's line, with the tab as CloudWatch shows it (#011)."""
    import xgboost as xgb

    class Monitor(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
            line = io.StringIO()
            line.write(f"[{epoch}]")
            for data, metrics in evals_log.items():
                for name, log in metrics.items():
                    score = log[-1][0] if isinstance(log[-1], tuple) else log[-1]
                    line.write(f"#011{data}-{name}:{score:.5f}")
            print(line.getvalue(), flush=True)
            return False

    return Monitor()


def main() -> int:
    root = Path("/opt/ml")
    config = Path(os.environ.get("SM_INPUT_CONFIG_DIR", root / "input" / "config"))
    channels = Path(os.environ.get("SM_INPUT_DATA_DIR", root / "input" / "data"))
    model_dir = Path(os.environ.get("SM_MODEL_DIR", root / "model"))
    output = Path(os.environ.get("SM_OUTPUT_DIR", root / "output"))
    try:
        train(config, channels, model_dir)
    except UserError as exc:
        return _fail(output, f"ClientError: {exc}")
    except Exception as exc:  # the container reports these as AlgorithmError
        return _fail(output, f"AlgorithmError: {type(exc).__name__}: {exc}")
    return 0


def _fail(output: Path, reason: str) -> int:
    print(reason, file=sys.stderr, flush=True)
    output.mkdir(parents=True, exist_ok=True)
    (output / "failure").write_text(reason + "\n", encoding="utf-8")
    return 1


if __name__ == "__main__":
    sys.exit(main())
