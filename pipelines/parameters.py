"""The pipeline's parameters: every knob a user tunes per run, with defaults from Settings.

Each one must be a `Parameter*` object listed in `Pipeline(parameters=...)`: SageMaker drops
plain values silently. Step caching is not here: SageMaker requires `CacheConfig.Enabled` to be
a literal boolean, so it is a build setting (`Settings.cache_enabled`).

The model's approval status is no parameter: the pipeline always registers
`PendingManualApproval`, so only the human decision (workflow/approval.py) approves a package.

`DECLARED` and `LIMITS` are readable without the SageMaker SDK (it is imported by
`build_parameters` only), so the CLI checks `--param` before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from sagemaker.workflow.parameters import (
        Parameter,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

#: Every parameter's name and type as the definition declares them, in definition order.
DECLARED: dict[str, str] = {
    "InputDataUrl": "String",
    "ProcessingInstanceType": "String",
    "ProcessingInstanceCount": "Integer",
    "TrainingInstanceType": "String",
    "TrainingInstanceCount": "Integer",
    "MseThreshold": "Float",
    "ChampionMseTolerance": "Float",
    "MaxDepth": "Integer",
    "Eta": "Float",
    "Gamma": "Float",
    "MinChildWeight": "Float",
    "Subsample": "Float",
    "NumRound": "Integer",
    "EarlyStoppingRounds": "Integer",
}


@dataclass(frozen=True)
class Limit:
    """The values a numeric parameter may take; `source` says who sets the rule."""

    low: float
    high: float = math.inf
    #: True when `low` itself is excluded, as in XGBoost's subsample range (0, 1].
    low_open: bool = False
    source: str = ""

    def allows(self, value: float) -> bool:
        """Inside the range; never inf or nan (compared exactly, so huge integers work too)."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        """'in (0, 1]', 'from 1 to 100' or 'at least 1', as a person reads a range."""
        if math.isinf(self.low):
            return "of any sign" if math.isinf(self.high) else f"at most {_number(self.high)}"
        if self.low_open:
            return f"in ({_number(self.low)}, {_number(self.high)}]"
        if math.isinf(self.high):
            return f"at least {_number(self.low)}"
        return f"from {_number(self.low)} to {_number(self.high)}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


#: The SageMaker API's `Integer` is a 32-bit signed integer (Smithy `integer`).
INT32_MAX = 2**31 - 1
#: https://xgboost.readthedocs.io/en/stable/parameter.html (XGBoost 3.0, the container's)
_XGBOOST = "XGBoost's documented range"

#: What SageMaker's API and XGBoost accept for each numeric parameter, checked before a run.
LIMITS: dict[str, Limit] = {
    # ProcessingClusterConfig.InstanceCount: "Minimum value of 1. Maximum value of 100."
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProcessingClusterConfig.html
    "ProcessingInstanceCount": Limit(1, 100, source="SageMaker ProcessingClusterConfig"),
    # ResourceConfig.InstanceCount: "Minimum value of 0", where 0 is only for heterogeneous
    # clusters (InstanceGroups), which this pipeline does not use; no maximum beyond quotas.
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html
    "TrainingInstanceCount": Limit(1, INT32_MAX, source="SageMaker ResourceConfig"),
    # The gate compares a mean squared error, never negative.
    "MseThreshold": Limit(0, source="the gate compares a mean squared error"),
    # Any finite number: a negative one turns the champion check off.
    "ChampionMseTolerance": Limit(-math.inf, source="negative turns the champion check off"),
    # max_depth: range [0, inf], 0 meaning no limit (allowed with tree_method hist, which
    # scripts/train.py uses).
    "MaxDepth": Limit(0, INT32_MAX, source=_XGBOOST),
    "Eta": Limit(0, 1, source=_XGBOOST),  # eta (learning_rate): range [0, 1]
    "Gamma": Limit(0, source=_XGBOOST),  # gamma (min_split_loss): range [0, inf]
    "MinChildWeight": Limit(0, source=_XGBOOST),  # min_child_weight: range [0, inf]
    "Subsample": Limit(0, 1, low_open=True, source=_XGBOOST),  # subsample: range (0, 1]
    # num_boost_round: zero rounds train no tree, and early stopping then has no best
    # iteration for scripts/train.py to keep.
    "NumRound": Limit(1, INT32_MAX, source="XGBoost num_boost_round"),
    # early_stopping_rounds: 0 or less disables early stopping in xgboost.train, and
    # scripts/train.py keeps the best iteration only early stopping records.
    "EarlyStoppingRounds": Limit(1, INT32_MAX, source="XGBoost early_stopping_rounds"),
}


@dataclass(frozen=True)
class PipelineParameters:
    """The Parameter objects, named as they appear in the definition and in `--param`."""

    input_data_url: ParameterString
    processing_instance_type: ParameterString
    processing_instance_count: ParameterInteger
    training_instance_type: ParameterString
    training_instance_count: ParameterInteger
    mse_threshold: ParameterFloat
    #: How much higher than the champion's the test MSE may be; negative: no such check.
    champion_mse_tolerance: ParameterFloat
    max_depth: ParameterInteger
    eta: ParameterFloat
    gamma: ParameterFloat
    min_child_weight: ParameterFloat
    subsample: ParameterFloat
    num_round: ParameterInteger
    early_stopping_rounds: ParameterInteger

    def all(self) -> list[Parameter]:
        """Every parameter, in definition order."""
        return [getattr(self, f.name) for f in fields(self)]


def build_parameters(settings: Settings, input_data_url: str) -> PipelineParameters:
    """The parameters with this deployment's defaults."""
    import pipelines.sdk  # noqa: F401 - first, so the SDK imports quietly

    # isort: split
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString

    hp = settings.hyperparameters
    return PipelineParameters(
        input_data_url=ParameterString("InputDataUrl", default_value=input_data_url),
        processing_instance_type=ParameterString(
            "ProcessingInstanceType", default_value=settings.processing_instance_type
        ),
        processing_instance_count=ParameterInteger("ProcessingInstanceCount", default_value=1),
        training_instance_type=ParameterString(
            "TrainingInstanceType", default_value=settings.training_instance_type
        ),
        training_instance_count=ParameterInteger("TrainingInstanceCount", default_value=1),
        mse_threshold=ParameterFloat("MseThreshold", default_value=settings.mse_threshold),
        champion_mse_tolerance=ParameterFloat(
            "ChampionMseTolerance", default_value=settings.champion_mse_tolerance
        ),
        max_depth=ParameterInteger("MaxDepth", default_value=hp.max_depth),
        eta=ParameterFloat("Eta", default_value=hp.eta),
        gamma=ParameterFloat("Gamma", default_value=hp.gamma),
        min_child_weight=ParameterFloat("MinChildWeight", default_value=hp.min_child_weight),
        subsample=ParameterFloat("Subsample", default_value=hp.subsample),
        num_round=ParameterInteger("NumRound", default_value=hp.num_round),
        early_stopping_rounds=ParameterInteger(
            "EarlyStoppingRounds", default_value=hp.early_stopping_rounds
        ),
    )
