"""Train the XGBoost regressor of rings; also the inference entry point (model_fn).

SageMaker script mode in the XGBoost 3.0-5 container runs this file with the hyperparameters
as command-line arguments and the data channels in SM_CHANNEL_* directories; on a laptop the
same flags work with explicit paths:

    python scripts/train.py --train out/train --validation out/validation --model-dir model/

Each channel holds one or more headerless CSV files (*.csv, target first), as preprocess.py
writes them. Training stops early on the validation RMSE, and the saved model keeps only the
trees up to the best iteration, so every consumer (evaluate.py, the serving container) predicts
with the best iteration without having to know about early stopping.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

MODEL_FILE = "xgboost-model"


class ChannelError(Exception):
    """A problem with a data channel; its message is the one line shown to the user."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Hyperparameters and paths; unknown arguments SageMaker may add are ignored."""
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.split("\n")[0])
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--gamma", type=float, default=4.0)
    parser.add_argument("--min_child_weight", type=float, default=6.0)
    parser.add_argument("--subsample", type=float, default=0.7)
    parser.add_argument("--num_round", type=int, default=200)
    parser.add_argument("--early_stopping_rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--verbose_eval", type=int, default=10, help="print every N rounds")
    env = os.environ
    parser.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation", default=env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"train.py: ignoring arguments {' '.join(unknown)}", file=sys.stderr)
    return args


def read_channel(name: str, directory: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and features of every *.csv in a channel, sorted by file name, as float32.

    float32 is what XGBoost stores internally, so reading at that width halves memory for
    free. All files must have the same number of columns, or the model would silently see
    shifted features.
    """
    path = Path(directory)
    if not path.is_dir():
        raise ChannelError(f"{path}: {name} channel directory does not exist")
    files = sorted(p for p in path.glob("*.csv") if p.is_file())
    if not files:
        raise ChannelError(
            f"{path}: {name} channel has no *.csv files (expected headerless CSV, target first)"
        )
    blocks = []
    width = None
    for file in files:
        try:
            block = pd.read_csv(file, header=None, dtype=np.float32, engine="c").to_numpy()
        except pd.errors.EmptyDataError:
            continue
        except (ValueError, pd.errors.ParserError) as error:
            raise ChannelError(
                f"{file}: {name} channel: expected numbers only, target first "
                f"({' '.join(str(error).split())})"
            ) from None
        if width is None:
            width, first = block.shape[1], file
        elif block.shape[1] != width:
            raise ChannelError(
                f"{file}: {name} channel: {block.shape[1]} columns, but "
                f"{first.name} has {width} (expected the same in every file)"
            )
        blocks.append(block)
    data = np.concatenate(blocks) if len(blocks) > 1 else (blocks[0] if blocks else None)
    if data is None or len(data) == 0:
        raise ChannelError(f"{path}: {name} channel is empty (expected at least one data row)")
    if data.shape[1] < 2:
        raise ChannelError(f"{path}: {name} channel has 1 column (expected target then features)")
    return data[:, 0], data[:, 1:]


def train(args: argparse.Namespace) -> xgb.Booster:
    """Fit with early stopping and return a booster holding only the best iteration's trees."""
    y_train, x_train = read_channel("train", args.train)
    y_valid, x_valid = read_channel("validation", args.validation)
    if x_valid.shape[1] != x_train.shape[1]:
        raise ChannelError(
            f"{args.validation}: validation channel has {x_valid.shape[1]} "
            f"features (expected {x_train.shape[1]}, as in the train channel)"
        )
    dtrain = xgb.DMatrix(x_train, label=y_train)
    dvalid = xgb.DMatrix(x_valid, label=y_valid)
    del x_train, x_valid
    params = {
        "objective": "reg:squarederror",
        "eval_metric": "rmse",
        "tree_method": "hist",
        "max_depth": args.max_depth,
        "eta": args.eta,
        "gamma": args.gamma,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "seed": args.seed,
    }
    print(
        f"train.py: {dtrain.num_row()} train rows, {dvalid.num_row()} validation rows, "
        f"{dtrain.num_col()} features"
    )
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=args.num_round,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        early_stopping_rounds=args.early_stopping_rounds,
        verbose_eval=args.verbose_eval,
    )
    best = booster.best_iteration
    print(f"train.py: best iteration {best}, best validation rmse {booster.best_score:.6f}")
    # Booster.predict uses every tree by default; slicing makes the best iteration the model.
    return booster[: best + 1]


def save(booster: xgb.Booster, model_dir: str) -> Path:
    """Write <model_dir>/xgboost-model atomically (UBJSON, named by a temporary extension)."""
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / MODEL_FILE
    temporary = directory / f".{MODEL_FILE}.{os.getpid()}.ubj"
    try:
        booster.save_model(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def model_fn(model_dir: str) -> xgb.Booster:
    """SageMaker inference hook: load the saved Booster (default input/predict fns do the rest)."""
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, MODEL_FILE))
    return booster


def main(argv: list[str] | None = None) -> int:
    """Train and save; a bad channel is one stderr line and exit code 1."""
    args = parse_args(argv)
    try:
        booster = train(args)
    except ChannelError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 1
    print(f"train.py: saved {save(booster, args.model_dir)} ({booster.num_boosted_rounds()} trees)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
