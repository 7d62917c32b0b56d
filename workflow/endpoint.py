"""Endpoint deployment of the approved package: new model, new endpoint config, a smoke test
on an endpoint without traffic, then create or update (with a guarded rollout) the endpoint.

The model and the endpoint config get names unique to this execution, so nothing the
endpoint currently uses is touched until the final UpdateEndpoint switches it; if any step
fails, the endpoint keeps serving its previous config (and SageMaker itself rolls back a
failed update or a rollout whose alarm went off, leaving the endpoint InService on the old
config with a FailureReason).

Whether the endpoint exists is decided with ListEndpoints, not by catching
DescribeEndpoint's error: a missing endpoint is SageMaker's generic ValidationException,
which moto and AWS name differently and which cannot be told apart from throttling.
"""

from __future__ import annotations

from core import contracts
from core.names import ERRORS_ALARM_SUFFIX, LATENCY_ALARM_SUFFIX
from workflow import errors
from workflow.approval import DECISION, RESULT
from workflow.notifications import Failures, publish
from workflow.package import MODEL_PACKAGE_ARN, STATISTICS_URI
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Catch, Choice, ChoiceRule, Pass, State, Succeed, Wait
from workflow.segment import Segment, exit_on, exits, link
from workflow.substitutions import ENDPOINT_NAME as ENDPOINT_NAME_PLACEHOLDER
from workflow.substitutions import SAGEMAKER_ROLE_ARN, SMOKE_TEST_FUNCTION_ARN, ref
from workflow.tasks import LAMBDA_INVOKE, ApiTask, aws_sdk, sagemaker

#: The latest DescribeEndpoint response.
ENDPOINT = "$.endpoint"
MODEL_NAME = "$.names.Model"
CONFIG_NAME = "$.names.EndpointConfig"
ENDPOINT_NAME = "$.names.Endpoint"
DATA_CAPTURE_URI = "$.names.DataCaptureS3Uri"
#: The endpoint the smoke test runs on: {"Endpoint": name, "Temporary": bool}.
TARGET = "$.target"
TARGET_ENDPOINT = f"{TARGET}.Endpoint"
#: The smoke-test function's result (core.contracts.OUT_SMOKE_TEST describes it).
SMOKE_TEST = "$.smokeTest"
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
    """Serve the new config: test it on an endpoint without traffic, then let it take traffic.

    A first deployment creates the endpoint, which has no traffic yet, and smoke-tests it. An
    update creates a temporary endpoint (named after the new config) for the smoke test,
    deletes it, and only then updates the live endpoint with the rollout the execution input
    chose. A failed smoke test deletes the endpoint it tested, so the live endpoint keeps its
    previous config (or, on a first deployment, no endpoint serves an untested model).
    """
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
    on_new = Pass(
        "TestOnNewEndpoint",
        parameters={"Endpoint.$": ENDPOINT_NAME, "Temporary": False},
        result_path=TARGET,
    )
    on_temporary = Pass(
        "TestOnTemporaryEndpoint",
        parameters={"Endpoint.$": CONFIG_NAME, "Temporary": True},
        result_path=TARGET,
    )
    which = Choice("EndpointExists")
    which.add_choice(ChoiceRule.BooleanEquals(f"{existing}.Exists", True), on_temporary)
    which.default_choice(on_new)
    create = failures.guard(
        sagemaker(
            "CreateEndpoint",
            "createEndpoint",
            parameters={"EndpointName.$": TARGET_ENDPOINT, "EndpointConfigName.$": CONFIG_NAME},
            result_path=None,
        )
    )
    in_service = wait_for_endpoint(failures, "Endpoint", TARGET_ENDPOINT, delete_on_failure=True)
    tested = smoke_test(failures)
    temporary = ChoiceRule.BooleanEquals(f"{TARGET}.Temporary", True)
    after_test = Choice("TestedOnTemporaryEndpoint")
    delete_temporary = failures.guard(
        sagemaker(
            "DeleteTemporaryEndpoint",
            "deleteEndpoint",
            parameters={"EndpointName.$": TARGET_ENDPOINT},
            result_path=None,
        )
    )
    rollout = roll_out(failures)
    after_test.add_choice(temporary, delete_temporary)
    list_endpoints.next(exists)
    exists.next(which)
    on_new.next(create)
    on_temporary.next(create)
    link(Segment.chain(create), in_service, tested, Segment(after_test, None))
    delete_temporary.next(rollout.entry)
    assert rollout.connect is not None
    return Segment(list_endpoints, exits(after_test.default_choice, rollout.connect))


def smoke_test(failures: Failures) -> Segment:
    """Invoke the smoke-test function on the target endpoint; a failure deletes that endpoint.

    No evaluation report on the package (a pipeline that registers none): nothing to compare
    with, so the test is skipped and says so. An error of the function itself counts as a
    failed test: an endpoint that could not be tested does not take traffic.
    """
    invoked, skipped_state, error_state = contracts.SMOKE_TEST_RESULT_STATES
    invoke = ApiTask(
        invoked,
        resource=LAMBDA_INVOKE,
        parameters={
            "FunctionName": ref(SMOKE_TEST_FUNCTION_ARN),
            "Payload": {
                "EndpointName.$": TARGET_ENDPOINT,
                "EvaluationReport.$": STATISTICS_URI,
                "Tolerance.$": "$.config.SmokeTest.Tolerance",
            },
        },
        result_selector={
            field: f"$.Payload.{name}"
            for field, name in (
                ("status.$", "status"),
                ("rows.$", "rows"),
                ("max_abs_diff.$", "max_abs_diff"),
                ("endpoint.$", "endpoint"),
                ("reason.$", "reason"),
            )
        },
        result_path=SMOKE_TEST,
    )
    skipped = Pass(
        skipped_state,
        parameters={
            "status": "skipped",
            "rows": 0,
            "max_abs_diff": None,
            "endpoint.$": TARGET_ENDPOINT,
            "reason": "the model package has no evaluation report to compare the endpoint with",
        },
        result_path=SMOKE_TEST,
    )
    errored = Pass(
        error_state,
        parameters={
            "status": "failed",
            "rows": 0,
            "max_abs_diff": None,
            "endpoint.$": TARGET_ENDPOINT,
            "reason.$": (
                f"States.Format('the smoke-test function failed with {{}}', {SMOKE_TEST}.Error)"
            ),
        },
        result_path=SMOKE_TEST,
    )
    invoke.add_catch(Catch(error_equals=[errors.ALL], next_step=errored, result_path=SMOKE_TEST))
    has_report = Choice(contracts.SMOKE_TEST_FIRST_STATE)
    has_report.add_choice(ChoiceRule.IsPresent(STATISTICS_URI, True), invoke)
    has_report.default_choice(skipped)
    verdict = Choice(contracts.SMOKE_TEST_VERDICT_STATE)
    invoke.next(verdict)
    skipped.next(verdict)
    errored.next(verdict)
    failed = failures.failure(
        "SmokeTestFailed",
        errors.SMOKE_TEST_FAILED,
        cause_from=(
            "States.Format('Smoke test of endpoint {} failed: {}. The endpoint it tested was "
            f"deleted; the live endpoint was not changed.', {TARGET_ENDPOINT}, "
            f"{SMOKE_TEST}.reason)"
        ),
    )
    verdict.default_choice(delete_endpoint("DeleteTestedEndpoint", TARGET_ENDPOINT, then=failed))
    status = f"{SMOKE_TEST}.status"
    passed = [ChoiceRule.StringEquals(status, value) for value in ("passed", "skipped")]
    return Segment(has_report, exit_on(verdict, ChoiceRule.Or(passed)))


def delete_endpoint(state_id: str, endpoint_name: str, then: State) -> ApiTask:
    """DeleteEndpoint on the way to a failure, then `then`. Best effort: its own error must
    not hide why the deployment failed, so it goes on to `then` whatever happens."""
    delete = ApiTask(
        state_id,
        resource=aws_sdk("sagemaker", "deleteEndpoint"),
        parameters={"EndpointName.$": endpoint_name},
        result_path=None,
    )
    delete.add_catch(Catch(error_equals=[errors.ALL], next_step=then, result_path="$.cleanup"))
    delete.next(then)
    return delete


def roll_out(failures: Failures) -> Segment:
    """UpdateEndpoint with the chosen traffic shifting, then wait for the rollout to settle.

    Instance endpoints update with SageMaker's deployment guardrails: a blue/green deployment
    that shifts traffic all at once, as a canary, or linearly (execution input `Rollout`),
    bakes after each shift, and rolls back by itself when one of the endpoint's alarms (5XX
    error rate, model latency; the template creates them) goes off. Serverless endpoints take
    no deployment config (guardrails apply to real-time instance endpoints) and switch at once.
    """
    rollout = "$.config.Rollout"
    routing = "$.routing"
    shift = Choice("RolloutType")
    by_type = {
        kind: Pass(
            f"{label}Routing",
            parameters={
                "Type": kind,
                "WaitIntervalInSeconds.$": f"{rollout}.WaitIntervalInSeconds",
                **(
                    {size: {"Type": "CAPACITY_PERCENT", "Value.$": f"{rollout}.StepPercent"}}
                    if size
                    else {}
                ),
            },
            result_path=routing,
        )
        for kind, label, size in (
            ("CANARY", "Canary", "CanarySize"),
            ("LINEAR", "Linear", "LinearStepSize"),
            ("ALL_AT_ONCE", "AllAtOnce", None),
        )
    }
    names = {"EndpointName.$": ENDPOINT_NAME, "EndpointConfigName.$": CONFIG_NAME}
    guarded = failures.guard(
        sagemaker(
            "UpdateEndpoint",
            "updateEndpoint",
            parameters={
                **names,
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration.$": routing,
                        "TerminationWaitInSeconds.$": f"{rollout}.TerminationWaitInSeconds",
                        "MaximumExecutionTimeoutInSeconds.$": (
                            f"{rollout}.MaximumExecutionTimeoutInSeconds"
                        ),
                    },
                    "AutoRollbackConfiguration": {
                        "Alarms": [
                            {"AlarmName": f"{ref(ENDPOINT_NAME_PLACEHOLDER)}{suffix}"}
                            for suffix in (ERRORS_ALARM_SUFFIX, LATENCY_ALARM_SUFFIX)
                        ]
                    },
                },
            },
            result_path=None,
        )
    )
    at_once = failures.guard(
        sagemaker("UpdateServerlessEndpoint", "updateEndpoint", parameters=names, result_path=None)
    )
    serverless = Choice("ServerlessUpdate")
    serverless.add_choice(ChoiceRule.IsNull("$.config.Endpoint.Serverless", False), at_once)
    serverless.default_choice(shift)
    for kind, routing in by_type.items():
        shift.add_choice(ChoiceRule.StringEquals(f"{rollout}.Type", kind), routing)
    shift.default_choice(
        failures.failure(
            "UnknownRolloutType",
            errors.ENDPOINT_FAILED,
            cause_from=(
                f"States.Format('Rollout.Type is {{}}; expected ALL_AT_ONCE, CANARY or "
                f"LINEAR', {rollout}.Type)"
            ),
        )
    )
    for state in by_type.values():
        state.next(guarded)
    settled = wait_for_endpoint(failures, "Rollout", ENDPOINT_NAME)
    guarded.next(settled.entry)
    at_once.next(settled.entry)
    return Segment(serverless, settled.connect)


def wait_for_endpoint(
    failures: Failures, label: str, endpoint_name: str, delete_on_failure: bool = False
) -> Segment:
    """Poll DescribeEndpoint until `endpoint_name` is InService on the new config, or failed
    or rolled back (InService on another config, with a FailureReason).

    `label` names the states ("WaitFor<label>", "Describe<label>", "<label>Status"), so the
    workflow can wait for its test endpoint and for the rollout with the same loop. With
    `delete_on_failure` an endpoint that failed to come up (the new one, or the temporary
    one of an update) is deleted before the failure is reported: a Failed endpoint serves
    nothing, and only DeleteEndpoint clears it for the next run.
    """
    wait = Wait(f"WaitFor{label}", seconds_path="$.config.PollSeconds")
    describe = failures.guard(
        sagemaker(
            f"Describe{label}",
            "describeEndpoint",
            parameters={"EndpointName.$": endpoint_name},
            result_path=ENDPOINT,
        )
    )
    status = f"{ENDPOINT}.EndpointStatus"
    serving = f"{ENDPOINT}.EndpointConfigName"
    settled = ChoiceRule.Or(
        [ChoiceRule.StringEquals(status, "Failed"), ChoiceRule.StringEquals(status, "InService")]
    )
    check = Choice(f"{label}Status")
    check.add_choice(
        ChoiceRule.And([settled, ChoiceRule.IsPresent(f"{ENDPOINT}.FailureReason", True)]),
        failures.failure(
            f"{label}Failed", errors.ENDPOINT_FAILED, cause_from=f"{ENDPOINT}.FailureReason"
        ),
    )
    check.add_choice(
        settled,
        failures.failure(
            f"{label}NotUpdated",
            errors.ENDPOINT_FAILED,
            cause_from=(
                "States.Format('Endpoint {} is {} with config {} instead of {}', "
                f"{endpoint_name}, {status}, {serving}, {CONFIG_NAME})"
            ),
        ),
    )
    if delete_on_failure:
        delete = delete_endpoint(f"DeleteFailed{label}", endpoint_name, then=failures.notify)
        for _, failure in check.choices:
            failure.next(delete)
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
            "trigger.$": "$.config.Trigger",
            "modelPackageArn.$": MODEL_PACKAGE_ARN,
            "pipelineExecutionArn.$": PIPELINE_EXECUTION_ARN,
            "modelName.$": MODEL_NAME,
            "endpointConfigName.$": CONFIG_NAME,
            "endpointName.$": ENDPOINT_NAME,
            "endpointArn.$": f"{ENDPOINT}.EndpointArn",
            "endpointStatus.$": f"{ENDPOINT}.EndpointStatus",
            f"{contracts.OUT_SMOKE_TEST}.$": SMOKE_TEST,
            "monitoringSchedule.$": "$.monitoring.Schedule",
            "executionArn.$": "$$.Execution.Id",
        },
        result_path=RESULT,
    )
    notify = failures.guard(publish("NotifyDeployed", subject, RESULT, output_path=RESULT))
    done = Succeed("ModelDeployed")
    return Segment.ending(result, notify, done)
