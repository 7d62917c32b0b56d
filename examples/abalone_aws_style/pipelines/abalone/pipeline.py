"""The Abalone pipeline, written the way AWS's examples write it.

    Preprocess -> Train (built-in XGBoost) -> Evaluate -> CheckMSE
        MSE <= threshold: CreateModel -> Transform (batch scoring), RegisterModel
        otherwise:        Fail

The shape follows the SageMaker Projects seed code (`pipelines/abalone/pipeline.py`, run with
`run-pipeline --module-name pipelines.abalone.pipeline --kwargs '{...}'`) and the
"sagemaker-pipelines abalone" example of amazon-sagemaker-examples: a module-level
`get_pipeline(region, role, default_bucket, ...)` that returns a
`sagemaker.workflow.pipeline.Pipeline`. Nothing in it knows about the local AWS: it talks to
whatever AWS the standard environment names (`mlops run --module-name` points that at the
embedded local AWS).
"""

import os

import boto3
import sagemaker
import sagemaker.session
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

BASE_DIR = os.path.dirname(os.path.realpath(__file__))


def get_session(region, default_bucket):
    """A SageMaker session for the region (the bucket is created if it does not exist)."""
    boto_session = boto3.Session(region_name=region)
    return sagemaker.session.Session(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        sagemaker_runtime_client=boto_session.client("sagemaker-runtime"),
        default_bucket=default_bucket,
    )


def get_pipeline_session(region, default_bucket):
    """A PipelineSession: job requests become step arguments instead of API calls."""
    boto_session = boto3.Session(region_name=region)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        default_bucket=default_bucket,
    )


def get_pipeline(
    region,
    role=None,
    default_bucket=None,
    model_package_group_name="AbalonePackageGroup",
    pipeline_name="AbalonePipeline",
    base_job_prefix="Abalone",
    processing_instance_type="ml.m5.xlarge",
    training_instance_type="ml.m5.xlarge",
    num_round=50,
):
    """The Abalone pipeline: a SageMaker Pipeline instance."""
    sagemaker_session = get_session(region, default_bucket)
    default_bucket = sagemaker_session.default_bucket()
    if role is None:
        role = sagemaker.session.get_execution_role(sagemaker_session)
    pipeline_session = get_pipeline_session(region, default_bucket)

    # Parameters of an execution.
    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    model_approval_status = ParameterString(
        name="ModelApprovalStatus", default_value="PendingManualApproval"
    )
    input_data = ParameterString(
        name="InputDataUrl",
        default_value=f"s3://{default_bucket}/{base_job_prefix}/input/abalone-dataset.csv",
    )
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

    # Feature engineering in the scikit-learn container.
    sklearn_processor = SKLearnProcessor(
        framework_version="1.2-1",
        instance_type=processing_instance_type,
        instance_count=processing_instance_count,
        base_job_name=f"{base_job_prefix}/sklearn-abalone-preprocess",
        sagemaker_session=pipeline_session,
        role=role,
    )
    step_process = ProcessingStep(
        name="PreprocessAbaloneData",
        step_args=sklearn_processor.run(
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
            ],
            code=os.path.join(BASE_DIR, "preprocess.py"),
        ),
    )

    # Training with the built-in XGBoost algorithm (no entry point: algorithm mode).
    image_uri = sagemaker.image_uris.retrieve(
        framework="xgboost",
        region=region,
        version="1.7-1",
        py_version="py3",
        instance_type=training_instance_type,
    )
    xgb_train = Estimator(
        image_uri=image_uri,
        instance_type=training_instance_type,
        instance_count=1,
        output_path=f"s3://{default_bucket}/{base_job_prefix}/AbaloneTrain",
        base_job_name=f"{base_job_prefix}/abalone-train",
        sagemaker_session=pipeline_session,
        role=role,
    )
    xgb_train.set_hyperparameters(
        objective="reg:squarederror",
        num_round=num_round,
        max_depth=5,
        eta=0.2,
        gamma=4,
        min_child_weight=6,
        subsample=0.7,
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="TrainAbaloneModel",
        step_args=xgb_train.fit(
            inputs={
                "train": TrainingInput(
                    s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"
                ),
                "validation": TrainingInput(
                    s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"
                ),
            },
        ),
    )

    # Evaluation in the XGBoost container; its report is a PropertyFile for the condition.
    script_eval = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{base_job_prefix}/script-abalone-eval",
        sagemaker_session=pipeline_session,
        role=role,
    )
    evaluation_report = PropertyFile(
        name="AbaloneEvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    step_eval = ProcessingStep(
        name="EvaluateAbaloneModel",
        step_args=script_eval.run(
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[
                ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation"),
            ],
            code=os.path.join(BASE_DIR, "evaluate.py"),
        ),
        property_files=[evaluation_report],
    )

    # The model: created for batch scoring, registered for approval. The report's URI is
    # joined from the step's properties at run time, so the definition stays the same from
    # one build to the next.
    model = Model(
        image_uri=image_uri,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        sagemaker_session=pipeline_session,
        role=role,
    )
    step_create_model = ModelStep(
        name="CreateAbaloneModel",
        step_args=model.create(instance_type="ml.m5.large"),
    )
    transformer = Transformer(
        model_name=step_create_model.properties.ModelName,
        instance_type="ml.m5.large",
        instance_count=1,
        accept="text/csv",
        assemble_with="Line",
        # As many lines per request as fit in MaxPayloadInMB (CreateTransformJob's
        # BatchStrategy), rather than one request per line.
        strategy="MultiRecord",
        output_path=f"s3://{default_bucket}/{base_job_prefix}/AbaloneTransform",
        sagemaker_session=pipeline_session,
    )
    step_transform = TransformStep(
        name="TransformAbaloneTest",
        step_args=transformer.transform(
            data=outputs["test"].S3Output.S3Uri,
            content_type="text/csv",
            split_type="Line",
            # Score the features (the label is the first column), then keep the label beside
            # its prediction.
            input_filter="$[1:]",
            join_source="Input",
            output_filter="$[0,-1]",
        ),
    )
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(
                on="/",
                values=[
                    step_eval.properties.ProcessingOutputConfig.Outputs[
                        "evaluation"
                    ].S3Output.S3Uri,
                    "evaluation.json",
                ],
            ),
            content_type="application/json",
        )
    )
    step_register = ModelStep(
        name="RegisterAbaloneModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=model_package_group_name,
            approval_status=model_approval_status,
            model_metrics=model_metrics,
        ),
    )

    # The quality gate.
    step_fail = FailStep(
        name="AbaloneMSEFail",
        error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
    )
    step_cond = ConditionStep(
        name="CheckMSEAbaloneEvaluation",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step_name=step_eval.name,
                    property_file=evaluation_report,
                    json_path="regression_metrics.mse.value",
                ),
                right=mse_threshold,
            )
        ],
        if_steps=[step_create_model, step_transform, step_register],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[
            processing_instance_count,
            model_approval_status,
            input_data,
            mse_threshold,
        ],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=pipeline_session,
    )
