"""One function per pipeline step. Each takes what flows into it and returns the step.

Container paths follow the SageMaker Processing and Training contracts. Processing scripts get
every path as an explicit argument (they default to the same container paths when run by
hand), so the definition says where each file goes and the local executor can map it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pipelines.sdk  # noqa: F401 - first, so the SDK imports quietly

# isort: split
from sagemaker import image_uris
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import (
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionOr,
)
from sagemaker.workflow.entities import PipelineVariable
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.step_collections import StepCollection
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, Step, TrainingStep
from sagemaker.xgboost import XGBoost

from core import contracts
from core.settings import PROCESSING_ROOT, SCRIPTS_DIR, Settings
from pipelines.names import (
    BASELINE,
    BASELINE_STEP,
    CHAMPION,
    CHAMPION_FILE,
    COMPARISON_FILE,
    EVALUATE_STEP,
    EVALUATION,
    EVALUATION_FILE,
    FIND_CHAMPION_STEP,
    GATE_METRIC_PATH,
    MODEL_FEATURES,
    MSE_INCREASE_PATH,
    PICTURES_FOLDER,
    PREPROCESS_STEP,
    SPLITS,
    STATISTICS,
    TRAIN_STEP,
)
from pipelines.parameters import PipelineParameters

CSV = "text/csv"
#: Every registered package waits for a person: the status is fixed, never a parameter, so
#: nothing but the human decision (workflow/approval.py) approves a model.
PENDING_MANUAL_APPROVAL = "PendingManualApproval"


def _processor(
    settings: Settings, session: PipelineSession, params: PipelineParameters, job: str
) -> ScriptProcessor:
    """A Python processor on the same XGBoost image the model trains and serves in."""
    return ScriptProcessor(
        image_uri=xgboost_image(settings),
        command=["python3"],
        role=settings.role_arn,
        instance_type=params.processing_instance_type,
        instance_count=params.processing_instance_count,
        base_job_name=f"{settings.project}-{job}",
        sagemaker_session=session,
    )


def script_args(**options: object) -> list[str | PipelineVariable]:
    """Command-line options for a script: script_args(output_dir=x) -> ["--output-dir", x].

    A pipeline variable (a parameter, JsonGet) stays one, resolved when the job starts.
    """
    return [
        part
        for name, value in options.items()
        for part in (
            f"--{name.replace('_', '-')}",
            value if isinstance(value, PipelineVariable) else str(value),
        )
    ]


def xgboost_image(settings: Settings) -> str:
    """The SageMaker XGBoost framework container for this region."""
    return image_uris.retrieve("xgboost", settings.region, version=settings.xgboost_version)


def cache_config(settings: Settings) -> CacheConfig:
    return CacheConfig(
        enable_caching=settings.cache_enabled, expire_after=settings.cache_expire_after
    )


def preprocess_step(
    settings: Settings, session: PipelineSession, params: PipelineParameters
) -> ProcessingStep:
    """Validate the raw CSV, one-hot encode, split into train/validation/test."""
    processor = _processor(settings, session, params, "preprocess")
    return ProcessingStep(
        name=PREPROCESS_STEP,
        step_args=processor.run(
            code=str(SCRIPTS_DIR / "preprocess.py"),
            inputs=[
                ProcessingInput(
                    source=params.input_data_url, destination=f"{PROCESSING_ROOT}/input"
                )
            ],
            outputs=[
                ProcessingOutput(output_name=name, source=f"{PROCESSING_ROOT}/{name}")
                for name in (*SPLITS, BASELINE, STATISTICS)
            ],
            arguments=script_args(
                input=f"{PROCESSING_ROOT}/input",
                output_dir=PROCESSING_ROOT,
                seed=settings.split_seed,
            ),
        ),
        cache_config=cache_config(settings),
    )


def train_step(
    settings: Settings,
    session: PipelineSession,
    params: PipelineParameters,
    preprocess: ProcessingStep,
) -> TrainingStep:
    """XGBoost in script mode, early stopping on the validation split."""
    estimator = XGBoost(
        entry_point=str(SCRIPTS_DIR / "train.py"),
        framework_version=settings.xgboost_version,
        role=settings.role_arn,
        instance_type=params.training_instance_type,
        instance_count=params.training_instance_count,
        base_job_name=f"{settings.project}-train",
        hyperparameters={
            "max_depth": params.max_depth,
            "eta": params.eta,
            "gamma": params.gamma,
            "min_child_weight": params.min_child_weight,
            "subsample": params.subsample,
            "num_round": params.num_round,
            "early_stopping_rounds": params.early_stopping_rounds,
        },
        output_path=f"s3://{session.default_bucket()}/{settings.prefix('models')}",
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    return TrainingStep(
        name=TRAIN_STEP,
        step_args=estimator.fit(
            inputs={
                split: TrainingInput(s3_data=outputs[split].S3Output.S3Uri, content_type=CSV)
                for split in ("train", "validation")
            }
        ),
        cache_config=cache_config(settings),
    )


def champion_report() -> PropertyFile:
    """champion.json: which model is serving today, read by Evaluate through JsonGet."""
    return PropertyFile(name="ChampionReport", output_name=CHAMPION, path=CHAMPION_FILE)


def find_champion_step(
    settings: Settings, session: PipelineSession, params: PipelineParameters, found: PropertyFile
) -> ProcessingStep:
    """The model the new one must beat: the endpoint's, else the latest Approved package.

    Never cached: what is deployed or approved changes between runs while this step's
    arguments do not. Evaluate gets the answer as arguments, so its own cache key changes
    exactly when the champion does.
    """
    processor = _processor(settings, session, params, "champion")
    return ProcessingStep(
        name=FIND_CHAMPION_STEP,
        step_args=processor.run(
            code=str(SCRIPTS_DIR / "champion.py"),
            outputs=[
                ProcessingOutput(output_name=CHAMPION, source=f"{PROCESSING_ROOT}/{CHAMPION}")
            ],
            arguments=script_args(
                endpoint_name=settings.endpoint_name,
                model_package_group=settings.model_package_group,
                output_dir=f"{PROCESSING_ROOT}/{CHAMPION}",
            ),
        ),
        property_files=[found],
        cache_config=CacheConfig(enable_caching=False),
    )


def evaluate_step(
    settings: Settings,
    session: PipelineSession,
    params: PipelineParameters,
    preprocess: ProcessingStep,
    train: TrainingStep,
    champion: ProcessingStep,
    found: PropertyFile,
    reports: Sequence[PropertyFile],
) -> ProcessingStep:
    """Score the model, and the champion, on the held-out test split.

    Writes evaluation.json (the challenger, SageMaker's model-quality format), comparison.json
    and the pictures.
    """
    processor = _processor(settings, session, params, "evaluate")
    test_split = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri

    def champion_field(name: str) -> JsonGet:
        return JsonGet(step_name=champion.name, property_file=found, json_path=name)

    return ProcessingStep(
        name=EVALUATE_STEP,
        step_args=processor.run(
            code=str(SCRIPTS_DIR / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination=f"{PROCESSING_ROOT}/model",
                ),
                ProcessingInput(source=test_split, destination=f"{PROCESSING_ROOT}/test"),
            ],
            outputs=[
                ProcessingOutput(output_name=EVALUATION, source=f"{PROCESSING_ROOT}/{EVALUATION}")
            ],
            arguments=script_args(
                model_dir=f"{PROCESSING_ROOT}/model",
                test_dir=f"{PROCESSING_ROOT}/test",
                output_dir=f"{PROCESSING_ROOT}/{EVALUATION}",
                feature_names=",".join(MODEL_FEATURES),
                champion_model_url=champion_field("model_data_url"),
                champion_source=champion_field("source"),
                champion_package=champion_field("model_package_arn"),
                champion_endpoint=champion_field("endpoint_name"),
            ),
        ),
        property_files=list(reports),
        cache_config=cache_config(settings),
    )


def data_quality_baseline_step(
    settings: Settings, session: PipelineSession, preprocess: ProcessingStep
) -> QualityCheckStep:
    """Model Monitor's data-quality baseline of the features the model is trained on.

    SageMaker's native step for it (QualityCheckStep, DATA_QUALITY): the analyzer computes
    statistics.json and constraints.json from Preprocess's `baseline` output (the training
    split's features, with their names). No check against an earlier baseline (skip_check):
    new training data may differ, and that is what retraining is for. The new baseline is the
    one registered with the model (register_new_baseline), so monitoring compares the
    endpoint's traffic with the data its model learned from.
    """
    dataset = preprocess.properties.ProcessingOutputConfig.Outputs[BASELINE].S3Output.S3Uri
    output = Join(
        on="/",
        values=[
            "s3:/",
            session.default_bucket(),
            settings.pipeline_name,
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            BASELINE_STEP,
        ],
    )
    return QualityCheckStep(
        name=BASELINE_STEP,
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=dataset,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=output,
        ),
        check_job_config=CheckJobConfig(
            role=settings.role_arn,
            instance_count=1,
            instance_type=settings.processing_instance_type,
            volume_size_in_gb=30,
            sagemaker_session=session,
        ),
        skip_check=True,
        register_new_baseline=True,
        model_package_group_name=settings.model_package_group,
        cache_config=cache_config(settings),
    )


def evaluation_report() -> PropertyFile:
    """evaluation.json, readable by later steps through JsonGet."""
    return PropertyFile(name="EvaluationReport", output_name=EVALUATION, path=EVALUATION_FILE)


def comparison_report() -> PropertyFile:
    """comparison.json, beside evaluation.json: the challenger against the champion."""
    return PropertyFile(name="ComparisonReport", output_name=EVALUATION, path=COMPARISON_FILE)


def gate_metric(evaluate: ProcessingStep, report: PropertyFile) -> JsonGet:
    """The test MSE, read from this execution's evaluation.json."""
    return JsonGet(step_name=evaluate.name, property_file=report, json_path=GATE_METRIC_PATH)


def mse_increase(evaluate: ProcessingStep, comparison: PropertyFile) -> JsonGet:
    """How much higher the test MSE is than the champion's (0 without a champion)."""
    return JsonGet(step_name=evaluate.name, property_file=comparison, json_path=MSE_INCREASE_PATH)


def register_step(
    settings: Settings,
    session: PipelineSession,
    train: TrainingStep,
    evaluate: ProcessingStep,
    baseline: QualityCheckStep,
) -> ModelStep:
    """Register the model with its metrics and data baseline as PendingManualApproval: a
    person decides.

    The container serves `xgboost-model` in algorithm mode, so no repack step is needed; the
    metrics URI is joined from Evaluate's output property, never a path fixed at build time.
    The data-quality baseline goes in twice, as SageMaker's MLOps templates register it: the
    calculated one as the model's data-quality metrics, the one used for drift checks as its
    drift-check baselines (what monitoring of its endpoint compares traffic with).
    """
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION].S3Output.S3Uri
    properties = baseline.properties
    # Beside the model-quality report, registered with the package so a reviewer (and the
    # approval page) finds them from the package alone: the comparison with the champion
    # and the pictures (names in core.contracts, read by the workflow and the run).
    review_files = {
        contracts.PACKAGE_COMPARISON: Join(on="/", values=[evaluation_uri, COMPARISON_FILE]),
        contracts.PACKAGE_PICTURES: Join(on="/", values=[evaluation_uri, PICTURES_FOLDER]),
    }

    def json_at(uri: str | PipelineVariable) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    metrics = ModelMetrics(
        model_statistics=json_at(Join(on="/", values=[evaluation_uri, EVALUATION_FILE])),
        model_data_statistics=json_at(properties.CalculatedBaselineStatistics),
        model_data_constraints=json_at(properties.CalculatedBaselineConstraints),
    )
    drift = DriftCheckBaselines(
        model_data_statistics=json_at(properties.BaselineUsedForDriftCheckStatistics),
        model_data_constraints=json_at(properties.BaselineUsedForDriftCheckConstraints),
    )
    model = Model(
        image_uri=xgboost_image(settings),
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=settings.role_arn,
        name=f"{settings.project}-model",
        sagemaker_session=session,
    )
    return ModelStep(
        name="Register",
        step_args=model.register(
            content_types=[CSV],
            response_types=[CSV],
            inference_instances=[settings.inference_instance_type],
            transform_instances=[settings.inference_instance_type],
            model_package_group_name=settings.model_package_group,
            approval_status=PENDING_MANUAL_APPROVAL,
            model_metrics=metrics,
            drift_check_baselines=drift,
            customer_metadata_properties=review_files,
            description=f"XGBoost regression of rings, {settings.project}",
        ),
    )


def fail_step(metric: JsonGet, increase: JsonGet, params: PipelineParameters) -> FailStep:
    """Stop the execution, saying which values missed which thresholds."""
    return FailStep(
        name="QualityGateFailed",
        error_message=Join(
            on=" ",
            values=[
                "Test MSE",
                metric,
                "must be at most MseThreshold =",
                params.mse_threshold,
                "and at most ChampionMseTolerance =",
                params.champion_mse_tolerance,
                "above the champion's (it is",
                increase,
                "above; a negative tolerance turns that check off)",
            ],
        ),
    )


def quality_gate_step(
    metric: JsonGet,
    increase: JsonGet,
    params: PipelineParameters,
    if_steps: Sequence[ModelStep],
    else_steps: Sequence[FailStep],
) -> ConditionStep:
    """Register only a model whose test MSE is at most the threshold and, when the champion
    check is on (ChampionMseTolerance not negative), at most that much above the champion's."""
    tolerance = params.champion_mse_tolerance
    return ConditionStep(
        name="QualityGate",
        # JsonGet is a valid left operand (the SDK's annotation leaves it out).
        conditions=[
            ConditionLessThanOrEqualTo(left=metric, right=params.mse_threshold),  # type: ignore[arg-type]
            ConditionOr(
                conditions=[
                    ConditionLessThan(left=tolerance, right=0.0),
                    ConditionLessThanOrEqualTo(left=increase, right=tolerance),  # type: ignore[arg-type]
                ]
            ),
        ],
        if_steps=list[Step | StepCollection](if_steps),
        else_steps=list[Step | StepCollection](else_steps),
    )
