"""Seam 2: SageMaker Pipelines that really run, the calls moto lacks, and fault injection.

moto stores pipelines and marks every execution Succeeded at once. This subclass of moto's
SageMaker backend hands each `StartPipelineExecution` to its account's executor in a thread
(status Executing, then Succeeded or Failed with the executor's FailureReason), makes the
start idempotent on `ClientRequestToken` as SageMaker does, and adds
`ListPipelineExecutionSteps` and `UpdateEndpoint`, which moto lacks. An account's injected
faults make the next N calls of one SageMaker operation fail with a given error code, for
retry and failure-path tests. Executor and faults are the account's (localaws.accounts).

CreateEndpoint answers with the endpoint Creating, as SageMaker does, and InService comes once
its instances have loaded their models, or Failed with a FailureReason when one cannot (moto
makes it InService at once). UpdateEndpoint starts the green fleet the same way, then honours
DeploymentConfig and RetainDeploymentConfig: blue/green traffic shifting with baking periods
and auto-rollback on CloudWatch alarms; without a DeploymentConfig, SageMaker's default,
blue/green all at once (`localaws.deployments`). Deleting the endpoint or resetting the
backend ends its creation or deployment. The alarms are evaluated by `localaws.alarms`, whose
CloudWatch backend `install()` puts in place with this one.

UpdateModelPackage that changes a package's ModelApprovalStatus puts SageMaker's "SageMaker
Model Package State Change" event on the account's default EventBridge bus (moto sends none),
and records the caller as LastModifiedBy: their IAM identity, as SageMaker does for a call
made outside Studio (moto records its fixed Studio user profile "fake-user-profile-name" for
every caller). An update that gives no ModelApprovalStatus or ApprovalDescription keeps the
package's (moto sets both to none). The event is the SageMaker developer guide's "Model
package state change" (awsdocs/amazon-sagemaker-developer-guide, doc_source/automating-
sagemaker-with-eventbridge.md;
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html):
source aws.sagemaker, the package's ARN in resources, and a
detail of the package as DescribeModelPackage describes it, with the fields of the guide's
example (ModelPackageGroupName, ModelPackageVersion, ModelPackageArn, CreationTime,
InferenceSpecification, ModelPackageStatus, ModelPackageStatusDetails, CertifyForMarketplace,
ModelApprovalStatus, MetadataProperties, ModelMetrics, LastModifiedTime; times in ISO 8601).
The example has no LastModifiedBy or ApprovalDescription, so neither does this event: a
reader asks DescribeModelPackage for them. tests/test_localaws_model_registry.py pins these
gaps.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn

from localaws import accounts, alarms, deployments
from localaws.accounts import Account, Executor

__all__ = ["Executor", "LocalSageMakerBackend", "PipelineFailed", "PipelineRun", "install"]

_LOG = logging.getLogger(__name__)

#: The detail-type of SageMaker's events about model packages.
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
#: The detail fields of the developer guide's example event, in its order.
MODEL_PACKAGE_EVENT_FIELDS = (
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "CreationTime",
    "InferenceSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "MetadataProperties",
    "ModelMetrics",
    "LastModifiedTime",
)


class PipelineFailed(Exception):
    """Raised by an executor: the execution fails with str(exc) as its FailureReason."""


@dataclass
class PipelineRun:
    """What an executor receives for one pipeline execution."""

    execution_arn: str
    pipeline_name: str
    definition: dict[str, Any]
    #: Values given at start, by name; defaults are the executor's business.
    parameters: dict[str, str]
    #: The local AWS account the execution runs in: its credentials, endpoint and mirror.
    account: Account
    #: ListPipelineExecutionSteps entries, oldest first; the executor appends and updates.
    steps: list[dict[str, Any]] = field(default_factory=list)

    def changed(self) -> None:
        """Called by the executor after every change to `steps`: wakes pollers at once."""
        self.account.changed.set()


class LocalSageMakerBackend(SageMakerModelBackend):
    """moto's SageMaker backend with pipelines that execute."""

    # moto derives URL routing from the backend's module: keep moto's own.
    __module__ = SageMakerModelBackend.__module__

    _lock = threading.Lock()

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        #: The endpoints' deployments in progress, by endpoint name.
        self._deployments: dict[str, deployments.Deployment] = {}

    def reset(self) -> None:
        deployments.stop(self)
        super().reset()

    @property
    def account(self) -> Account | None:
        """The local AWS account this backend serves (None once it has stopped)."""
        return accounts.account(self.account_id)

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in _OWN_ATTRIBUTES:
            account = accounts.account(object.__getattribute__(self, "account_id"))
            fault = account.take_fault(name) if account is not None else None
            if fault is not None:

                def fail(*_args: Any, **_kwargs: Any) -> Any:
                    raise JsonRESTError(fault.error_code, fault.message)

                return fail
        return object.__getattribute__(self, name)

    def start_pipeline_execution(
        self,
        pipeline_name: str,
        pipeline_execution_display_name: str,
        pipeline_parameters: list[dict[str, str]],
        pipeline_execution_description: str,
        parallelism_configuration: dict[str, int],
        client_request_token: str,
    ) -> dict[str, str]:
        with self._lock:
            existing = self._execution_for_token(pipeline_name, client_request_token)
            if existing is not None:
                return {"PipelineExecutionArn": existing.arn}
            response = super().start_pipeline_execution(
                pipeline_name,
                pipeline_execution_display_name,
                pipeline_parameters,
                pipeline_execution_description,
                parallelism_configuration,
                client_request_token,
            )
        execution = get_pipeline_execution_from_arn(
            self.pipelines, response["PipelineExecutionArn"]
        )
        account = self.account
        if account is None:
            return response
        run = PipelineRun(
            execution_arn=execution.arn,
            pipeline_name=pipeline_name,
            definition=json.loads(execution.pipeline_definition_for_execution),
            parameters={p["Name"]: p["Value"] for p in pipeline_parameters or []},
            account=account,
        )
        execution.local_run = run
        if account.executor is not None:
            execution.pipeline_execution_status = "Executing"
            threading.Thread(
                target=self._execute,
                args=(account.executor, execution, run),
                name=f"pipeline-{execution.arn[-12:]}",
                daemon=True,
            ).start()
        return response

    def _execution_for_token(self, pipeline_name: str, token: str | None) -> Any:
        if not token or pipeline_name not in self.pipelines:
            return None
        for execution in self.pipelines[pipeline_name].pipeline_executions.values():
            if execution.client_request_token == token:
                return execution
        return None

    @staticmethod
    def _execute(executor: Executor, execution: Any, run: PipelineRun) -> None:
        try:
            executor(run)
        except Exception as exc:  # any executor error fails the execution, as on AWS
            execution.pipeline_execution_failure_reason = str(exc) or type(exc).__name__
            execution.pipeline_execution_status = "Failed"
        else:
            execution.pipeline_execution_status = "Succeeded"
        execution.last_modified_time = utcnow()
        run.changed()

    def describe_pipeline_execution(self, pipeline_execution_arn: str) -> dict[str, Any]:
        response = super().describe_pipeline_execution(pipeline_execution_arn)
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        reason = execution.pipeline_execution_failure_reason
        if reason:
            response["FailureReason"] = reason
        else:
            response.pop("FailureReason", None)
        return response

    def list_pipeline_execution_steps(
        self, pipeline_execution_arn: str, sort_order: str | None = None
    ) -> dict[str, Any]:
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        run: PipelineRun | None = getattr(execution, "local_run", None)
        steps = [dict(step) for step in (run.steps if run else [])]
        if (sort_order or "Descending") == "Descending":
            steps.reverse()
        return {"PipelineExecutionSteps": steps}

    def create_endpoint(
        self, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]
    ) -> Any:
        """Create the endpoint Creating; its instances load their models in a thread, then it
        is InService, or Failed with a FailureReason (`localaws.deployments.create`)."""
        deployments.stop(self, endpoint_name)
        endpoint = super().create_endpoint(endpoint_name, endpoint_config_name, tags)
        # DescribeEndpoint lists the endpoint's attributes: they all exist before any thread
        # of a deployment can change them (None is left out of the answer).
        endpoint.last_deployment_config = None
        endpoint.pending_deployment_summary = None
        deployments.create(self, endpoint, self.describe_endpoint_config(endpoint_config_name))
        return endpoint

    def update_endpoint(
        self,
        endpoint_name: str,
        endpoint_config_name: str,
        deployment_config: dict[str, Any] | None = None,
        retain_deployment_config: bool = False,
    ) -> str:
        """Switch the endpoint to another config: at once, or as its DeploymentConfig says."""
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{endpoint_name}'.")
        config = self.describe_endpoint_config(endpoint_config_name)
        return deployments.update(
            self, endpoint, config, deployment_config, retain_deployment_config
        )

    def delete_endpoint(self, endpoint_name: str) -> None:
        deployments.stop(self, endpoint_name)
        super().delete_endpoint(endpoint_name)

    def update_model_package(
        self,
        model_package_arn: str,
        model_approval_status: str | None,
        approval_description: str | None,
        customer_metadata_properties: dict[str, str] | None,
        customer_metadata_properties_to_remove: list[str],
        additional_inference_specifications_to_add: list[Any] | None,
        modified_by: dict[str, Any] | None = None,
    ) -> str:
        """moto's update; `modified_by` (the caller's UserContext) becomes LastModifiedBy, and
        a change of ModelApprovalStatus sends SageMaker's state change event. A status or
        description the update does not give stays as it was (moto erases both)."""
        current = self.describe_model_package(model_package_arn)
        before = current.model_approval_status
        arn = super().update_model_package(
            model_package_arn,
            model_approval_status or before,
            current.approval_description if approval_description is None else approval_description,
            customer_metadata_properties,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )
        package = self.describe_model_package(arn)
        if modified_by is not None:
            package.last_modified_by = modified_by
        if package.model_approval_status != before:
            try:
                _send_model_package_event(self, package)
            except Exception:  # the update succeeded: its event must not fail it
                _LOG.exception("state change of model package %s not sent to EventBridge", arn)
        return arn


def _list_pipeline_execution_steps(self: SageMakerResponse) -> str:
    response = self.sagemaker_backend.list_pipeline_execution_steps(
        self._get_param("PipelineExecutionArn"), self._get_param("SortOrder")
    )
    return json.dumps(response, default=_json_default)


def _update_endpoint(self: SageMakerResponse) -> str:
    arn = self.sagemaker_backend.update_endpoint(
        self._get_param("EndpointName"),
        self._get_param("EndpointConfigName"),
        self._get_param("DeploymentConfig"),
        bool(self._get_param("RetainDeploymentConfig")),
    )
    return json.dumps({"EndpointArn": arn})


def _update_model_package(self: SageMakerResponse) -> ActionResult:
    """UpdateModelPackage, recording the caller as LastModifiedBy."""
    backend = cast(LocalSageMakerBackend, self.sagemaker_backend)
    arn = backend.update_model_package(
        model_package_arn=self._get_param("ModelPackageArn"),
        model_approval_status=self._get_param("ModelApprovalStatus"),
        approval_description=self._get_param("ApprovalDescription"),
        customer_metadata_properties=self._get_param("CustomerMetadataProperties"),
        customer_metadata_properties_to_remove=self._get_param(
            "CustomerMetadataPropertiesToRemove", []
        ),
        additional_inference_specifications_to_add=self._get_param(
            "AdditionalInferenceSpecificationsToAdd"
        ),
        modified_by=caller_context(self),
    )
    return ActionResult({"ModelPackageArn": arn})


def caller_context(response: SageMakerResponse) -> dict[str, Any]:
    """The UserContext SageMaker records for the request's caller outside Studio: the IAM
    identity (Arn, PrincipalId) that STS's GetCallerIdentity gives for its credentials
    (SageMaker API reference, UserContext and IamIdentity)."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    region = response.region
    sts = sts_backends[response.current_account][get_partition(region)]
    principal, arn, _account = sts.get_caller_identity(response.get_access_key(), region)
    return {"IamIdentity": {"Arn": arn, "PrincipalId": principal}}


def model_package_event(package: Any, account_id: str, region: str) -> dict[str, Any]:
    """SageMaker's state change event of a model package, in moto's form (epoch time)."""
    described = package.gen_response_object()
    detail = {
        name: _iso_time(described[name]) if name.endswith("Time") else described[name]
        for name in MODEL_PACKAGE_EVENT_FIELDS
        if described.get(name) is not None
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": MODEL_PACKAGE_STATE_CHANGE,
        "source": "aws.sagemaker",
        "account": account_id,
        "time": time.time(),
        "region": region,
        "resources": [package.arn],
        "detail": detail,
    }


def _send_model_package_event(backend: LocalSageMakerBackend, package: Any) -> None:
    from localaws import events_seam

    if not events_seam.installed():  # EventBridge not loaded yet: no rule can exist
        return
    event = model_package_event(package, backend.account_id, backend.region_name)
    events_seam.publish(backend.account_id, backend.region_name, event)


def _iso_time(value: Any) -> Any:
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def install() -> None:
    """Make every SageMaker (and CloudWatch) backend moto creates from now on the local one
    (idempotent).

    The local AWS calls this before moto has created any backend of its account, so no reset
    is needed (moto's reset would wipe every account of every service).
    """
    SageMakerResponse.list_pipeline_execution_steps = _list_pipeline_execution_steps
    SageMakerResponse.update_endpoint = _update_endpoint
    # moto has this one: replaced (as an attribute, so mypy does not see a method assigned).
    setattr(SageMakerResponse, "update_model_package", _update_model_package)  # noqa: B010
    sagemaker_backends.backend = LocalSageMakerBackend
    alarms.install()


#: Attributes read on every call: never fault-injectable, and cheap to reach.
_OWN_ATTRIBUTES = frozenset({"account", "account_id", "region_name", "pipelines"})
