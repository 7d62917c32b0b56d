"""The pipeline's parameters: every knob a user tunes per run, with defaults from Settings.

Each one must be a `Parameter*` object listed in `Pipeline(parameters=...)`: SageMaker drops
plain values silently. Step caching is not here: SageMaker requires `CacheConfig.Enabled` to be
a literal boolean, so it is a build setting (`Settings.cache_enabled`).
"""

from __future__ import annotations

import pipelines.sdk  # noqa: F401 - first, so the SDK imports quietly

# isort: split
from dataclasses import dataclass, fields

from sagemaker.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from core.settings import Settings


@dataclass(frozen=True)
class PipelineParameters:
    """The Parameter objects, named as they appear in the definition and in `--param`."""

    input_data_url: ParameterString
    processing_instance_type: ParameterString
    processing_instance_count: ParameterInteger
    training_instance_type: ParameterString
    training_instance_count: ParameterInteger
    model_approval_status: ParameterString
    mse_threshold: ParameterFloat
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
        model_approval_status=ParameterString(
            "ModelApprovalStatus",
            default_value="PendingManualApproval",
            enum_values=["PendingManualApproval", "Approved", "Rejected"],
        ),
        mse_threshold=ParameterFloat("MseThreshold", default_value=settings.mse_threshold),
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
