"""Evaluation of the trained model, written for the SageMaker XGBoost container.

Unpacks model.tar.gz from /opt/ml/processing/model (the algorithm saves `xgboost-model`
there, https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html), scores the test CSV
(label first, no header) and writes evaluation.json in SageMaker's model-quality metrics
shape (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html)
for the pipeline's PropertyFile and the model package.
"""

import json
import logging
import os
import tarfile

import numpy as np
import pandas as pd
import xgboost

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)

BASE_DIR = "/opt/ml/processing"

if __name__ == "__main__":
    with tarfile.open(f"{BASE_DIR}/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = xgboost.Booster()
    model.load_model("xgboost-model")

    df = pd.read_csv(f"{BASE_DIR}/test/test.csv", header=None)
    y_test = df.iloc[:, 0].to_numpy()
    predictions = model.predict(xgboost.DMatrix(df.iloc[:, 1:].to_numpy()))

    mse = float(np.mean((y_test - predictions) ** 2))
    std = float(np.std(y_test - predictions))
    report = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": std}}}
    logger.info("test MSE %.4f", mse)

    os.makedirs(f"{BASE_DIR}/evaluation", exist_ok=True)
    with open(f"{BASE_DIR}/evaluation/evaluation.json", "w") as f:
        f.write(json.dumps(report))
