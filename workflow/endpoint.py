"""Endpoint deployment of the approved package: new model, new endpoint config, then create or
update the endpoint.

The model and the endpoint config get names unique to this execution, so nothing the
endpoint currently uses is touched until the final UpdateEndpoint switches it; if any step
fails, the endpoint keeps serving its previous config (and SageMaker itself rolls back a
failed update, leaving the endpoint InService on the old config with a FailureReason).

Whether the endpoint exists is decided with ListEndpoints, not by catching
DescribeEndpoint's error: a missing endpoint is SageMaker's generic ValidationException,
which moto and AWS name differently and which cannot be told apart from throttling.
"""

from __future__ import annotations

from workflow import errors
from workflow.approval import DECISION, RESULT
from workflow.notifications import Failures, publish
from workflow.package import MODEL_PACKAGE_ARN
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Choice, ChoiceRule, Pass, Succeed, Wait
from workflow.segment import Segment, exit_on, exits
from workflow.substitutions import SAGEMAKER_ROLE_ARN, ref
from workflow.tasks import sagemaker

#: The latest DescribeEndpoint response.
ENDPOINT = "$.endpoint"
MODEL_NAME = "$.names.Model"
CONFIG_NAME = "$.names.EndpointConfig"
ENDPOINT_NAME = "$.names.Endpoint"
DATA_CAPTURE_URI = "$.names.DataCaptureS3Uri"
VARIANT_NAME = "AllTraffic"


def create_model_and_config(failures: Failures) -> Segment:
    """CreateModel from the package, then its endpoint config: instances or serverless.

    An instance endpoint captures requests and responses (DataCaptureConfig: input and output,
    CSV and JSON kept as text, the execution input's sampling percentage) to the execution's
    `names.DataCaptureS3Uri`. Serverless endpoints do not support data capture (SageMaker
    developer guide, "Serverless Inference", feature exclusions), so theirs has none.
    """
    create_model = failures.guard(
        sagemaker(
            "CreateModel",
            "createModel",
            parameters={
                "ModelName.$": MODEL_NAME,
                "ExecutionRoleArn": ref(SAGEMAKER_ROLE_ARN),
                "Containers": [{"ModelPackageName.$": MODEL_PACKAGE_ARN}],
            },
            result_path=None,
        )
    )
    endpoint = "$.config.Endpoint"
    instances = failures.guard(
        sagemaker(
            "CreateEndpointConfig",
            "createEndpointConfig",
            parameters={
                "EndpointConfigName.$": CONFIG_NAME,
                "ProductionVariants": [
                    {
                        "VariantName": VARIANT_NAME,
                        "ModelName.$": MODEL_NAME,
                        "InstanceType.$": f"{endpoint}.InstanceType",
                        "InitialInstanceCount.$": f"{endpoint}.InitialInstanceCount",
                    }
                ],
                "DataCaptureConfig": {
                    "EnableCapture": True,
                    "InitialSamplingPercentage.$": f"{endpoint}.DataCaptureSamplingPercentage",
                    "DestinationS3Uri.$": DATA_CAPTURE_URI,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {
                        "CsvContentTypes": ["text/csv"],
                        "JsonContentTypes": ["application/json"],
                    },
                },
            },
            result_path=None,
        )
    )
    serverless = failures.guard(
        sagemaker(
            "CreateServerlessEndpointConfig",
            "createEndpointConfig",
            parameters={
                "EndpointConfigName.$": CONFIG_NAME,
                "ProductionVariants": [
                    {
                        "VariantName": VARIANT_NAME,
                        "ModelName.$": MODEL_NAME,
                        "ServerlessConfig": {
                            "MemorySizeInMB.$": f"{endpoint}.Serverless.MemorySizeInMB",
                            "MaxConcurrency.$": f"{endpoint}.Serverless.MaxConcurrency",
                        },
                    }
                ],
            },
            result_path=None,
        )
    )
    kind = Choice("InstancesOrServerless")
    kind.add_choice(ChoiceRule.IsNull(f"{endpoint}.Serverless", True), instances)
    kind.default_choice(serverless)
    create_model.next(kind)
    return Segment(create_model, exits(instances.next, serverless.next))


def create_or_update_endpoint(failures: Failures) -> Segment:
    """UpdateEndpoint when the endpoint exists, else CreateEndpoint; both with the new config."""
    existing = "$.existing"
    list_endpoints = failures.guard(
        sagemaker(
            "FindEndpoint",
            "listEndpoints",
            parameters={"NameContains.$": ENDPOINT_NAME, "MaxResults": 100},
            result_selector={"Names.$": "$.Endpoints[*].EndpointName"},
            result_path=existing,
        )
    )
    exists = Pass(
        "CheckEndpointExists",
        parameters={"Exists.$": f"States.ArrayContains({existing}.Names, {ENDPOINT_NAME})"},
        result_path=existing,
    )
    names = {"EndpointName.$": ENDPOINT_NAME, "EndpointConfigName.$": CONFIG_NAME}
    create = failures.guard(
        sagemaker("CreateEndpoint", "createEndpoint", parameters=names, result_path=None)
    )
    update = failures.guard(
        sagemaker("UpdateEndpoint", "updateEndpoint", parameters=names, result_path=None)
    )
    create_or_update = Choice("EndpointExists")
    create_or_update.add_choice(ChoiceRule.BooleanEquals(f"{existing}.Exists", True), update)
    create_or_update.default_choice(create)
    list_endpoints.next(exists)
    exists.next(create_or_update)
    return Segment(list_endpoints, exits(create.next, update.next))


def wait_for_endpoint(failures: Failures) -> Segment:
    """Poll DescribeEndpoint until it is InService on the new config, or failed/rolled back."""
    wait = Wait("WaitForEndpoint", seconds_path="$.config.PollSeconds")
    describe = failures.guard(
        sagemaker(
            "DescribeEndpoint",
            "describeEndpoint",
            parameters={"EndpointName.$": ENDPOINT_NAME},
            result_path=ENDPOINT,
        )
    )
    status = f"{ENDPOINT}.EndpointStatus"
    serving = f"{ENDPOINT}.EndpointConfigName"
    # Failed, or InService on another config: the update was rolled back.
    settled = ChoiceRule.Or(
        [ChoiceRule.StringEquals(status, "Failed"), ChoiceRule.StringEquals(status, "InService")]
    )
    check = Choice("EndpointStatus")
    check.add_choice(
        ChoiceRule.And([settled, ChoiceRule.IsPresent(f"{ENDPOINT}.FailureReason", True)]),
        failures.failure(
            "EndpointFailed", errors.ENDPOINT_FAILED, cause_from=f"{ENDPOINT}.FailureReason"
        ),
    )
    check.add_choice(
        settled,
        failures.failure(
            "EndpointNotUpdated",
            errors.ENDPOINT_FAILED,
            cause_from=(
                "States.Format('Endpoint {} is {} with config {} instead of {}', "
                f"{ENDPOINT_NAME}, {status}, {serving}, {CONFIG_NAME})"
            ),
        ),
    )
    check.default_choice(wait)
    wait.next(describe)
    describe.next(check)
    ready = ChoiceRule.And(
        [
            ChoiceRule.StringEquals(status, "InService"),
            ChoiceRule.StringEqualsPath(serving, CONFIG_NAME),
        ]
    )
    return Segment(wait, exit_on(check, ready))


def report_deployment(failures: Failures, subject: str) -> Segment:
    """The execution's output, the same as the notification's message, then Succeed."""
    result = Pass(
        "DeploymentResult",
        parameters={
            "decision": "approved",
            "decided_by.$": f"{DECISION}.decided_by",
            "decided_at.$": f"{DECISION}.decided_at",
            "comment.$": f"{DECISION}.comment",
            "modelPackageArn.$": MODEL_PACKAGE_ARN,
            "pipelineExecutionArn.$": PIPELINE_EXECUTION_ARN,
            "modelName.$": MODEL_NAME,
            "endpointConfigName.$": CONFIG_NAME,
            "endpointName.$": ENDPOINT_NAME,
            "endpointArn.$": f"{ENDPOINT}.EndpointArn",
            "endpointStatus.$": f"{ENDPOINT}.EndpointStatus",
            "executionArn.$": "$$.Execution.Id",
        },
        result_path=RESULT,
    )
    notify = failures.guard(publish("NotifyDeployed", subject, RESULT, output_path=RESULT))
    done = Succeed("ModelDeployed")
    return Segment.ending(result, notify, done)
