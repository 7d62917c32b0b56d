"""Built-in algorithm mode: which Training steps run an image's own algorithm, and which can.

A Training step is in script mode when its hyperparameters name `sagemaker_program` (what the
SDK's framework estimators add); otherwise the image's own `train` runs, which is algorithm
mode. The local executor runs one built-in algorithm, XGBoost (the `sagemaker-xgboost` images,
e.g. 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1), by its documented
contract (see `xgboost_algorithm.py`); any other algorithm is refused before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from localaws.executor.errors import DefinitionError

#: The job program that stands in for the XGBoost image's `train`.
XGBOOST_TRAIN = Path(__file__).with_name("xgboost_algorithm.py")
#: ECR repositories of the SageMaker XGBoost images (algorithm and framework mode alike).
XGBOOST_REPOSITORIES = ("sagemaker-xgboost",)
#: One metrics line per round, as the algorithm prints it: `[3]#011train-rmse:2.1#011...`.
_ROUND = re.compile(r"^\[\d+\](.*)$", re.MULTILINE)
_METRIC = re.compile(r"#011(train|validation)-([^:#\s]+):([^#\s]+)")


def repository(image: str) -> str:
    """An image URI's repository: `sagemaker-xgboost` for `<registry>/sagemaker-xgboost:1.7-1`."""
    path = image.split("/", 1)[1] if "/" in image else image
    return path.split("@", 1)[0].rsplit(":", 1)[0]


def is_xgboost(image: Any) -> bool:
    return isinstance(image, str) and repository(image) in XGBOOST_REPOSITORIES


def is_script_mode(hyperparameters: Any) -> bool:
    """Script mode: the SDK's framework estimators pass the entry point as `sagemaker_program`."""
    return isinstance(hyperparameters, dict) and "sagemaker_program" in hyperparameters


def check_training(step: str, arguments: dict[str, Any]) -> None:
    """Refuse, before anything runs, a Training step whose built-in algorithm cannot run here.

    Images given by an expression (a parameter, say) are left to the step itself.
    """
    if is_script_mode(arguments.get("HyperParameters")):
        return
    spec = arguments.get("AlgorithmSpecification") or {}
    if spec.get("AlgorithmName"):
        raise DefinitionError(
            f"step {step}: AlgorithmName {spec['AlgorithmName']} (a Marketplace or custom "
            "algorithm resource) needs its container; the local executor runs the built-in "
            "XGBoost algorithm (sagemaker-xgboost images) and script mode only"
        )
    image = spec.get("TrainingImage")
    if isinstance(image, str) and not is_xgboost(image):
        raise DefinitionError(f"step {step}: {unsupported_image(image)}")


def unsupported_image(image: str) -> str:
    return (
        f"image {image} runs a built-in algorithm (no sagemaker_program hyperparameter), "
        "which needs its container; the local executor runs the built-in XGBoost algorithm "
        "(sagemaker-xgboost images) and script mode (an estimator with an entry_point) only"
    )


def final_metrics(log_text: str) -> list[dict[str, Any]]:
    """FinalMetricDataList of an XGBoost algorithm job: each metric's value in the last round.

    Names are `<channel>:<metric>` (validation:rmse, train:rmse), as the algorithm declares
    them (sagemaker-xgboost-container `algorithm_mode/metrics.py`).
    """
    last: dict[str, float] = {}
    for line in _ROUND.findall(log_text):
        for channel, metric, value in _METRIC.findall(line):
            try:
                last[f"{channel}:{metric}"] = float(value)
            except ValueError:
                continue
    return [{"MetricName": name, "Value": value} for name, value in last.items()]
