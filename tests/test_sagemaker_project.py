"""A deployment that belongs to a SageMaker project carries the project's tags everywhere.

SageMaker's project templates give CodeBuild SAGEMAKER_PROJECT_NAME and SAGEMAKER_PROJECT_ID;
the settings read them, `mlops upsert` tags the pipeline, `mlops deploy` tags the stack (and
CloudFormation its resources) and every run the stack starts names the project, so the
workflow tags the model package group too (tests/test_workflow.py runs that part).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes.stack import deploy

from clients import sagemaker as sm
from core import names
from core.settings import Settings
from deploy import template as tpl
from localaws import LocalAWS, local_aws

PROJECT_ENV = {
    "SAGEMAKER_PROJECT_NAME": "abalone-project",
    "SAGEMAKER_PROJECT_ID": "p-1a2b3c4d5e6f",
}
TAGS = {"sagemaker:project-name": "abalone-project", "sagemaker:project-id": "p-1a2b3c4d5e6f"}


@pytest.fixture
def aws() -> Iterator[LocalAWS]:
    with local_aws() as aws:
        yield aws


def _tags(listed: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in listed}


def test_the_settings_read_sagemaker_projects_own_variables() -> None:
    settings = Settings.from_env(PROJECT_ENV)
    assert settings.sagemaker_project == {"Name": "abalone-project", "Id": "p-1a2b3c4d5e6f"}
    assert _tags(settings.project_tags) == TAGS
    # MLOPS_ variables win, as for every setting; without a name there is no project.
    given = {**PROJECT_ENV, "MLOPS_SAGEMAKER_PROJECT_NAME": "other"}
    assert Settings.from_env(given).sagemaker_project_name == "other"
    assert Settings.from_env({}).sagemaker_project is None
    assert Settings.from_env({}).project_tags == []


def test_upsert_tags_a_new_and_an_existing_pipeline(aws: LocalAWS) -> None:
    sagemaker = aws.client("sagemaker")
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    settings = Settings()
    sm.upsert_pipeline(sagemaker, "untagged", settings.role_arn, definition)
    arn = sagemaker.describe_pipeline(PipelineName="untagged")["PipelineArn"]
    assert _tags(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == {}

    tags = Settings.from_env(PROJECT_ENV).project_tags
    sm.upsert_pipeline(sagemaker, "tagged", settings.role_arn, definition, tags)
    arn = sagemaker.describe_pipeline(PipelineName="tagged")["PipelineArn"]
    assert _tags(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == TAGS
    # An existing pipeline gets them on its next upsert, even with the same definition.
    sm.upsert_pipeline(sagemaker, "untagged", settings.role_arn, definition, tags)
    arn = sagemaker.describe_pipeline(PipelineName="untagged")["PipelineArn"]
    assert _tags(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == TAGS


def test_the_stack_carries_the_tags_and_its_runs_name_the_project(aws: LocalAWS) -> None:
    settings = Settings.from_env(PROJECT_ENV)
    deploy(aws, settings)
    cloudformation = aws.client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=names.stack_name(settings))["Stacks"]
    assert _tags(stack["Tags"]) == TAGS
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters[tpl.SAGEMAKER_PROJECT_NAME] == "abalone-project"
    assert parameters[tpl.SAGEMAKER_PROJECT_ID] == "p-1a2b3c4d5e6f"
    # The runs the stack starts (the schedule here) name the project in their input.
    schedule = aws.client("scheduler").get_schedule(Name=names.schedule_name(settings))
    started_with = json.loads(schedule["Target"]["Input"])
    assert started_with["SageMakerProject"] == {"Name": "abalone-project", "Id": "p-1a2b3c4d5e6f"}


def test_a_stack_without_a_project_names_an_empty_one(aws: LocalAWS) -> None:
    """The template is the same for every deployment: empty parameters mean no project, and
    the workflow then tags nothing (NamesSageMakerProject)."""
    settings = Settings()
    deploy(aws, settings)
    (stack,) = aws.client("cloudformation").describe_stacks(StackName=names.stack_name(settings))[
        "Stacks"
    ]
    assert not stack.get("Tags")
    schedule = aws.client("scheduler").get_schedule(Name=names.schedule_name(settings))
    assert json.loads(schedule["Target"]["Input"])["SageMakerProject"] == {"Name": "", "Id": ""}


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("abalone-project", True), ("", True), ("-bad", False), ("a" * 33, False), ("a_b", False)],
)
def test_the_template_refuses_what_sagemaker_refuses_as_a_project_name(
    name: str, accepted: bool
) -> None:
    import re

    pattern = tpl.workflow_template(Settings())["Parameters"][tpl.SAGEMAKER_PROJECT_NAME][
        "AllowedPattern"
    ]
    assert bool(re.fullmatch(pattern, name)) is accepted
