"""Feature engineering for Abalone, written for the SageMaker scikit-learn container.

Reads the raw CSV that the ProcessingInput placed under /opt/ml/processing/input and writes
train, validation and test CSVs (label first, no header: the built-in XGBoost algorithm's CSV
contract, https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html#InputOutput-XGBoost)
to the folders the ProcessingOutputs upload. The paths are the container's, hard-coded, as
AWS's examples write them.
"""

import glob
import logging
import os

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)

BASE_DIR = "/opt/ml/processing"
COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "rings",
]
LABEL = "rings"


def read_raw(folder):
    """The one CSV in the input folder, with or without its header row."""
    paths = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if len(paths) != 1:
        raise ValueError(f"expected one CSV in {folder}, found {paths}")
    frame = pd.read_csv(paths[0], header=None, names=COLUMNS)
    if frame.iloc[0, 0] == COLUMNS[0]:  # the file has its own header
        frame = frame.iloc[1:]
    numeric = [c for c in COLUMNS if c != "sex"]
    frame[numeric] = frame[numeric].astype(np.float64)
    return frame


if __name__ == "__main__":
    df = read_raw(f"{BASE_DIR}/input")
    logger.info("read %d rows", len(df))
    y = df.pop(LABEL).to_numpy()
    numeric = [c for c in df.columns if c != "sex"]
    transform = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["sex"],
            ),
        ]
    )
    X = transform.fit_transform(df)
    data = np.concatenate([y.reshape(-1, 1), X], axis=1)
    np.random.default_rng(42).shuffle(data)
    train, validation, test = np.split(data, [int(0.7 * len(data)), int(0.85 * len(data))])
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        os.makedirs(f"{BASE_DIR}/{name}", exist_ok=True)
        pd.DataFrame(part).to_csv(f"{BASE_DIR}/{name}/{name}.csv", header=False, index=False)
        logger.info("wrote %d %s rows", len(part), name)
