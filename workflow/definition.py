"""The state machine, in the order it runs, and its ASL text.

    apply_defaults             execution input merged over defaults; per-execution names
    describe_drift             a drift-started run: what drifted, from the monitoring report
    run_pipeline               StartPipeline -> Wait -> DescribePipelineExecution -> status
    find_model_package         the package THIS execution's RegisterModel step created
    tag_project                the SageMaker project's tags on the pipeline and the package
                               group, when the input names a project
    name_review_files          where the package keeps its comparison and pictures
    read_metrics               its evaluation.json, for the reviewer
    request_approval           HumanApproval (lambda:invoke.waitForTaskToken, with timeout)
      timed out                -> DescribeModelPackage: a decision taken in the model
                               registry stands (approved or rejected), else rejected
      rejected / timed out     -> RejectModelPackage (unless rejected in the registry) ->
                               notify -> Succeed "rejected"
    approve_model              UpdateModelPackage Approved (unless approved in the registry)
    create_model_and_config    CreateModel -> CreateEndpointConfig (instances or serverless)
    create_or_update_endpoint  ListEndpoints -> CreateEndpoint (the new endpoint, or a
                               temporary one when it exists) -> wait until InService ->
                               SmokeTest (lambda:invoke) -> failed: delete it, fail;
                               passed on a temporary endpoint: delete it, UpdateEndpoint
                               (blue/green: all at once, canary or linear, auto-rollback on
                               the endpoint's alarms) -> wait until the rollout settles
    monitor_endpoint           the endpoint's data-quality monitoring schedule, created or
                               updated with the deployed model's baseline
    report_deployment          notify -> Succeed "approved"
    any error                  "<Task>Error" -> NotifyFailure -> Fail (original error, cause)

State data, top-level keys: config, names (ApplyDefaults), pipeline, poll, package,
projectTags (when tagging failed), reviewFiles, evaluation, decision, registry (after a
timeout), existing, target, smokeTest, routing, endpoint, monitoring, failure, result.
See workflow/README.md.
"""

from __future__ import annotations

import json
from typing import Any

from core import names
from core.settings import Settings
from workflow.approval import approve_model, reject_model, request_approval
from workflow.endpoint import (
    create_model_and_config,
    create_or_update_endpoint,
    report_deployment,
)
from workflow.inputs import apply_defaults
from workflow.monitoring import describe_drift, monitor_endpoint
from workflow.notifications import Failures
from workflow.package import find_model_package, name_review_files, read_metrics
from workflow.pipeline import run_pipeline
from workflow.project import tag_project
from workflow.sdk import Chain, Graph
from workflow.segment import link


def build_definition(settings: Settings) -> Chain:
    """The state machine as a chain of Data Science SDK states, starting at ApplyDefaults."""
    failures = Failures(subject=f"{settings.project}: MLOps workflow failed")
    return link(
        apply_defaults(settings),
        describe_drift(settings.prefix(names.MONITORING_FOLDER)),
        run_pipeline(failures),
        find_model_package(failures),
        tag_project(),
        name_review_files(),
        read_metrics(),
        request_approval(
            failures,
            rejected=reject_model(failures, subject=f"{settings.project}: model rejected"),
        ),
        approve_model(failures),
        create_model_and_config(failures),
        create_or_update_endpoint(failures),
        monitor_endpoint(failures),
        report_deployment(failures, subject=f"{settings.project}: model deployed"),
    )


def definition_dict(settings: Settings) -> dict[str, Any]:
    """The ASL as a dict, each state's "Type" first for readability."""
    graph = Graph(
        build_definition(settings),
        comment=(
            f"{settings.project}: run the SageMaker Pipeline, ask a human to approve the model, "
            "deploy it (built by workflow/ with the Step Functions Data Science SDK)"
        ),
    ).to_dict()
    graph["States"] = {
        name: {"Type": state["Type"], **state} for name, state in graph["States"].items()
    }
    return graph


def asl(settings: Settings) -> str:
    """The ASL JSON text with `${Placeholder}`s: deterministic (no timestamps, fixed order)."""
    return json.dumps(definition_dict(settings), indent=2) + "\n"
