"""TagProjectResources: a run that names its SageMaker project tags what the project owns.

SageMaker Studio lists a project's pipeline and model package group by two tags
(core.contracts.PROJECT_NAME_TAG, PROJECT_ID_TAG), the ones SageMaker's own project templates
set. When the execution input names a project (`SageMakerProject {"Name", "Id"}` with a
name; the stack's own runs carry its SageMakerProjectName and SageMakerProjectId parameters),
the run adds them to the pipeline and to the package group, once the group surely exists
(after the pipeline registered its package). AddTags overwrites a tag of the same key, so
every run may repeat it.

Tagging is bookkeeping: if it fails (a missing permission, say), the run goes on to the human
decision; the error is kept in the state data ($.projectTags) and the execution history.
"""

from __future__ import annotations

from core import contracts
from workflow import errors
from workflow.package import MODEL_PACKAGE_ARN
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Catch, Choice, ChoiceRule, Pass
from workflow.segment import Segment, exits
from workflow.tasks import sagemaker

PROJECT = f"$.config.{contracts.SAGEMAKER_PROJECT}"
#: The outcome of tagging, when it failed: {"Error", "Cause"}.
PROJECT_TAGS = "$.projectTags"


def _arn_part(arn: str, index: int) -> str:
    return f"States.ArrayGetItem(States.StringSplit({arn}, '/'), {index})"


#: arn:...:pipeline/<name>/execution/<id> -> arn:...:pipeline/<name>
PIPELINE_ARN = (
    f"States.Format('{{}}/{{}}', {_arn_part(PIPELINE_EXECUTION_ARN, 0)}, "
    f"{_arn_part(PIPELINE_EXECUTION_ARN, 1)})"
)
#: arn:...:model-package/<group>/<version> -> arn:...:model-package-group/<group>
GROUP_ARN = (
    f"States.Format('{{}}-group/{{}}', {_arn_part(MODEL_PACKAGE_ARN, 0)}, "
    f"{_arn_part(MODEL_PACKAGE_ARN, 1)})"
)


def tag_project() -> Segment:
    """NamesSageMakerProject -> TagPipeline -> TagModelPackageGroup; skipped without one."""
    tags = [
        {"Key": contracts.PROJECT_NAME_TAG, "Value.$": f"{PROJECT}.Name"},
        {"Key": contracts.PROJECT_ID_TAG, "Value.$": f"{PROJECT}.Id"},
    ]
    names_project = Choice("NamesSageMakerProject")
    pipeline = sagemaker(
        "TagPipeline",
        "addTags",
        parameters={"ResourceArn.$": PIPELINE_ARN, "Tags": tags},
        result_path=None,
    )
    group = sagemaker(
        "TagModelPackageGroup",
        "addTags",
        parameters={"ResourceArn.$": GROUP_ARN, "Tags": tags},
        result_path=None,
    )
    not_tagged = Pass("ProjectTagsNotApplied")
    for task in (pipeline, group):
        task.add_catch(
            Catch(error_equals=[errors.ALL], next_step=not_tagged, result_path=PROJECT_TAGS)
        )
    name, project_id = f"{PROJECT}.Name", f"{PROJECT}.Id"
    # Both fields are always there (ApplyDefaults merges the input over {"Name": "", "Id": ""}),
    # so no rule reads a missing path.
    names_project.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.IsString(name, True),
                ChoiceRule.Not(ChoiceRule.StringEquals(name, "")),
                ChoiceRule.IsString(project_id, True),
            ]
        ),
        pipeline,
    )
    pipeline.next(group)

    def skip(state: object) -> None:
        names_project.default_choice(state)

    return Segment(names_project, exits(skip, group.next, not_tagged.next))
