"""The model package this pipeline execution registered, and its evaluation metrics.

The package comes from THIS execution's RegisterModel step (ListPipelineExecutionSteps),
never "the latest in the group", which a concurrent run could have replaced. The metrics
come from the package's ModelQuality statistics (evaluation.json in S3) for the reviewer.

JSONPath here avoids two moto differences: `$.a[0].b` yields a list on moto (so the step is
picked with States.ArrayGetItem), and a filter or deep scan yields a scalar for one match
(so the filter selects whole `Metadata` objects, which both return as a list).
"""

from __future__ import annotations

from workflow import errors
from workflow.notifications import Failures
from workflow.pipeline import PIPELINE_EXECUTION_ARN
from workflow.sdk import Catch, Choice, ChoiceRule, Pass
from workflow.segment import Segment, exit_on, exits
from workflow.substitutions import MODEL_PACKAGE_GROUP_NAME, ref
from workflow.tasks import ApiTask, aws_sdk, sagemaker

#: The DescribeModelPackage response of the registered package.
PACKAGE = "$.package"
MODEL_PACKAGE_ARN = f"{PACKAGE}.ModelPackageArn"
#: {"metrics": the evaluation.json object, or {} when it cannot be read}.
EVALUATION = "$.evaluation"
METRICS = f"{EVALUATION}.metrics"

#: The package's evaluation report (evaluation.json), when it registered one.
STATISTICS_URI = f"{PACKAGE}.ModelMetrics.ModelQuality.Statistics.S3Uri"
#: The package's CustomerMetadataProperties, {} when it has none: where the pipeline put
#: the comparison with the champion and the pictures (core.contracts.PACKAGE_COMPARISON,
#: PACKAGE_PICTURES), for the approval function.
REVIEW_FILES = "$.reviewFiles"
_PROPERTIES = f"{PACKAGE}.CustomerMetadataProperties"


def find_model_package(failures: Failures) -> Segment:
    """ListPipelineExecutionSteps -> the RegisterModel step's package -> DescribeModelPackage."""
    steps = failures.guard(
        sagemaker(
            "ListPipelineExecutionSteps",
            "listPipelineExecutionSteps",
            parameters={
                "PipelineExecutionArn.$": PIPELINE_EXECUTION_ARN,
                "SortOrder": "Ascending",
                "MaxResults": 100,
            },
            result_selector={
                "Registered.$": "$.PipelineExecutionSteps[?(@.Metadata.RegisterModel)].Metadata"
            },
            result_path=PACKAGE,
        )
    )
    registered = Choice("ModelPackageRegistered")
    registered.default_choice(
        failures.failure(
            "NoModelPackage",
            errors.NO_MODEL_PACKAGE,
            cause_from=(
                "States.Format('Pipeline execution {} succeeded but has no RegisterModel "
                f"step; check the pipeline definition', {PIPELINE_EXECUTION_ARN})"
            ),
        )
    )
    select = Pass(
        "SelectModelPackage",
        parameters={"Metadata.$": f"States.ArrayGetItem({PACKAGE}.Registered, 0)"},
        result_path=PACKAGE,
    )
    registered.add_choice(ChoiceRule.IsPresent(f"{PACKAGE}.Registered[0]", True), select)
    describe = failures.guard(
        sagemaker(
            "DescribeModelPackage",
            "describeModelPackage",
            parameters={"ModelPackageName.$": f"{PACKAGE}.Metadata.RegisterModel.Arn"},
            result_path=PACKAGE,
        )
    )
    in_group = Choice("InModelPackageGroup")
    group = f"{PACKAGE}.ModelPackageGroupName"
    in_group.default_choice(
        failures.failure(
            "WrongModelPackageGroup",
            errors.WRONG_MODEL_PACKAGE_GROUP,
            cause_from=(
                "States.Format('Model package {} is in group {}, not "
                f"{ref(MODEL_PACKAGE_GROUP_NAME)}; check the pipeline and the state machine "
                f"settings', {MODEL_PACKAGE_ARN}, {group})"
            ),
        )
    )
    steps.next(registered)
    select.next(describe)
    describe.next(in_group)
    return Segment(
        steps, exit_on(in_group, ChoiceRule.StringEquals(group, ref(MODEL_PACKAGE_GROUP_NAME)))
    )


def name_review_files() -> Segment:
    """$.reviewFiles: the package's CustomerMetadataProperties, or {} (a package registered
    without any, as a user's pipeline may: DescribeModelPackage then leaves the key out)."""
    has_properties = Choice("HasCustomerMetadata")
    named = Pass("NameReviewFiles", input_path=_PROPERTIES, result_path=REVIEW_FILES)
    none = Pass("NoReviewFiles", result={}, result_path=REVIEW_FILES)
    has_properties.add_choice(ChoiceRule.IsPresent(_PROPERTIES, True), named)
    has_properties.default_choice(none)
    return Segment(has_properties, exits(named.next, none.next))


def read_metrics() -> Segment:
    """evaluation.json as an object for the reviewer; {} when it is missing or unreadable.

    ASL has no substring function, so the S3 key is rebuilt by joining the URI's parts after
    the bucket in a small loop. The metrics are informative (the pipeline already applied
    the quality gate), so a read error leaves them empty instead of failing the run.
    """
    has_report = Choice("HasMetricsReport")
    split = f"States.StringSplit({STATISTICS_URI}, '/')"
    locate = Pass(
        "LocateMetricsReport",
        parameters={
            "Parts.$": split,
            "Bucket.$": f"States.ArrayGetItem({split}, 1)",
            "Key.$": f"States.ArrayGetItem({split}, 2)",
            "Next": 3,
            "Count.$": f"States.ArrayLength({split})",
        },
        result_path=EVALUATION,
    )
    more = Choice("MoreKeyParts")
    append = Pass(
        "AppendKeyPart",
        parameters={
            "Parts.$": f"{EVALUATION}.Parts",
            "Bucket.$": f"{EVALUATION}.Bucket",
            "Key.$": (
                f"States.Format('{{}}/{{}}', {EVALUATION}.Key, "
                f"States.ArrayGetItem({EVALUATION}.Parts, {EVALUATION}.Next))"
            ),
            "Next.$": f"States.MathAdd({EVALUATION}.Next, 1)",
            "Count.$": f"{EVALUATION}.Count",
        },
        result_path=EVALUATION,
    )
    get = ApiTask(
        "GetMetricsReport",
        resource=aws_sdk("s3", "getObject"),
        parameters={"Bucket.$": f"{EVALUATION}.Bucket", "Key.$": f"{EVALUATION}.Key"},
        result_selector={"metrics.$": "States.StringToJson($.Body)"},
        result_path=EVALUATION,
    )
    unavailable = Pass("MetricsUnavailable", parameters={"metrics": {}}, result_path=EVALUATION)
    get.add_catch(Catch(error_equals=[errors.ALL], next_step=unavailable, result_path=EVALUATION))
    has_report.add_choice(ChoiceRule.IsPresent(STATISTICS_URI, True), locate)
    has_report.default_choice(unavailable)
    locate.next(more)
    more.add_choice(
        ChoiceRule.NumericLessThanPath(f"{EVALUATION}.Next", f"{EVALUATION}.Count"), append
    )
    more.default_choice(get)
    append.next(more)
    return Segment(has_report, exits(get.next, unavailable.next))
