"""The SageMaker Pipeline, read top to bottom like its DAG:

Preprocess -> Train -> Evaluate -> QualityGate -> Register | QualityGateFailed
FindChampion ---------> Evaluate (the champion, scored on the same test split)
Preprocess -> DataQualityBaseline --------------> Register (its drift-check baselines)
"""

from __future__ import annotations

import pipelines.sdk  # noqa: F401 - first, so the SDK imports quietly

# isort: split
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession

from core import names
from core.settings import DEFAULT_DATA, Settings
from pipelines import steps
from pipelines.parameters import build_parameters


def default_input_url(settings: Settings, bucket: str) -> str:
    """Where the raw data lives when a run names none."""
    return f"s3://{bucket}/{names.input_prefix(settings)}{DEFAULT_DATA.name}"


def build_pipeline(settings: Settings, session: PipelineSession) -> Pipeline:
    """The whole pipeline; nothing here reads a clock or a step's arguments."""
    params = build_parameters(settings, default_input_url(settings, session.default_bucket()))
    report, comparison = steps.evaluation_report(), steps.comparison_report()
    found = steps.champion_report()

    preprocess = steps.preprocess_step(settings, session, params)
    champion = steps.find_champion_step(settings, session, params, found)
    train = steps.train_step(settings, session, params, preprocess)
    baseline = steps.data_quality_baseline_step(settings, session, preprocess)
    evaluate = steps.evaluate_step(
        settings, session, params, preprocess, train, champion, found, [report, comparison]
    )
    metric = steps.gate_metric(evaluate, report)
    increase = steps.mse_increase(evaluate, comparison)
    register = steps.register_step(settings, session, train, evaluate, baseline)
    gate = steps.quality_gate_step(
        metric,
        increase,
        params,
        if_steps=[register],
        else_steps=[steps.fail_step(metric, increase, params)],
    )

    return Pipeline(
        name=settings.pipeline_name,
        parameters=params.all(),
        steps=[preprocess, champion, train, baseline, evaluate, gate],
        sagemaker_session=session,
    )
