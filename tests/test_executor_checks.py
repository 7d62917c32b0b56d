"""What SageMaker refuses in a definition fails the execution before any step runs, naming
the step and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from fakes.executions import processing_step, training_step

from localaws import PipelineFailed, PipelineRun
from localaws.accounts import Account
from localaws.executor import LocalPipelineExecutor
from localaws.executor.checks import check_definition
from localaws.executor.errors import DefinitionError
from localaws.executor.plan import plan

MODEL = botocore.session.get_session().get_service_model("sagemaker")
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123def456"
PARAMETERS = [
    {"Name": "Count", "Type": "Integer", "DefaultValue": 3},
    {"Name": "Rate", "Type": "Float", "DefaultValue": 0.5},
    {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
    {"Name": "Url", "Type": "String", "DefaultValue": "s3://b/in.csv"},
]
TRAIN_URI = {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}


def _check(*steps: dict[str, Any], parameters: list[dict[str, Any]] = PARAMETERS) -> None:
    check_definition(plan({"Steps": list(steps)}), parameters, MODEL)


def _prep(**changes: Any) -> dict[str, Any]:
    step = processing_step("Prep", "prep.py", outputs={"train": "/opt/ml/processing/train"})
    step["Arguments"].update(changes)
    step["PropertyFiles"] = [
        {"PropertyFileName": "Report", "OutputName": "train", "FilePath": "report.json"}
    ]
    return step


def _condition(left: Any, right: Any = 1.0) -> dict[str, Any]:
    compare = {"Type": "LessThanOrEqualTo", "LeftValue": left, "RightValue": right}
    return {"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": [compare]}}


def test_what_sagemaker_accepts_passes() -> None:
    prep = _prep(
        Environment={"RATE": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Rate"}]}}}
    )
    prep["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = {
        "Get": "Parameters.Count"
    }
    prep["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] = {"Get": "Parameters.Url"}
    train = training_step("Train", "train.py", {"train": TRAIN_URI})
    report = {"Get": "Steps.Prep.PropertyFiles.Report"}
    gate = _condition(
        {"Std:JsonGet": {"PropertyFile": report, "Path": "mse"}}, {"Get": "Parameters.Rate"}
    )
    gate["Arguments"]["IfSteps"] = [
        {
            "Name": "Stop",
            "Type": "Fail",
            "Arguments": {
                "ErrorMessage": {
                    "Std:Join": {
                        "On": " ",
                        "Values": [
                            {"Get": "Steps.Train.FinalMetricDataList['rmse'].Value"},
                            {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                            {"Get": "Steps.Gate.Outcome"},
                            {"Get": "Execution.PipelineExecutionId"},
                        ],
                    }
                }
            },
        }
    ]
    _check(prep, train, gate)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("AppSpecification", "ContainerArguments"), ["--count", {"Get": "Parameters.Count"}]),
        (("Environment",), {"RATE": {"Get": "Parameters.Rate"}}),
        (("AppSpecification", "ImageUri"), {"Get": "Parameters.Flag"}),
    ],
)
def test_a_typed_parameter_in_a_string_field_is_refused(path: tuple[str, ...], value: Any) -> None:
    step = _prep()
    target = step["Arguments"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DefinitionError) as refused:
        _check(step)
    message = str(refused.value)
    field = {
        "ContainerArguments": "Arguments.AppSpecification.ContainerArguments[1]",
        "Environment": "Arguments.Environment.RATE",
        "ImageUri": "Arguments.AppSpecification.ImageUri",
    }[path[-1]]
    assert message.startswith(f"step Prep: {field}: Cannot assign property reference [Parameters.")
    assert "to argument of type [String]" in message and "CreatePipeline" in message


def test_a_typed_hyperparameter_needs_join() -> None:
    train = training_step("Train", "train.py", {"train": "s3://b/train"})
    train["Arguments"]["HyperParameters"]["num_round"] = {"Get": "Parameters.Count"}
    with pytest.raises(
        DefinitionError, match=r"^step Train: Arguments\.HyperParameters\.num_round"
    ):
        _check(train)
    joined = {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Count"}]}}
    train["Arguments"]["HyperParameters"]["num_round"] = joined  # what the SDK writes
    _check(train)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [_condition({"Get": "Parameters.Threshold"})],
            "step Gate: Arguments.Conditions[0].LeftValue: Get Parameters.Threshold: "
            "no such pipeline parameter (declared: Count, Flag, Rate, Url)",
        ),
        (
            [_condition({"Get": "Execution.RunId"})],
            "step Gate: Arguments.Conditions[0].LeftValue: Get Execution.RunId: "
            "no such execution variable",
        ),
        (
            [
                _prep(),
                training_step(
                    "Train",
                    "train.py",
                    {"train": {"Get": "Steps.Prep.ProcessingOutputConfig.Output['train']"}},
                ),
            ],
            "step Train: Arguments.InputDataConfig[0].DataSource.S3DataSource.S3Uri: "
            "Get Steps.Prep.ProcessingOutputConfig.Output['train']: a Processing step has no "
            "property 'Output' in DescribeProcessingJobResponse.ProcessingOutputConfig",
        ),
        (
            [_prep(), _condition({"Get": "Steps.Prep.ProcessingJobStatus.Phase"})],
            "step Gate: Arguments.Conditions[0].LeftValue: Get Steps.Prep.ProcessingJobStatus"
            ".Phase: a Processing step has no property 'Phase'",
        ),
        (
            [
                _prep(),
                _condition(
                    {
                        "Std:JsonGet": {
                            "PropertyFile": {"Get": "Steps.Prep.PropertyFiles.Evaluation"},
                            "Path": "mse",
                        }
                    }
                ),
            ],
            "step Gate: Arguments.Conditions[0].LeftValue.Std:JsonGet.PropertyFile: Get "
            "Steps.Prep.PropertyFiles.Evaluation: no such PropertyFile (declared: Report)",
        ),
        (
            [_prep(), _condition({"Get": "Steps.Prep"})],
            "step Gate: Arguments.Conditions[0].LeftValue: Get Steps.Prep: names a step, "
            "not one of its properties",
        ),
    ],
)
def test_unresolvable_references_are_named(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        _check(*steps)
    assert str(refused.value).startswith(message)


def test_the_execution_fails_before_any_step_runs(tmp_path: Path) -> None:
    step = _prep()
    step["Arguments"]["AppSpecification"]["ContainerArguments"] = [{"Get": "Parameters.Count"}]
    definition = {"Version": "2020-12-01", "Parameters": PARAMETERS, "Steps": [step]}
    nowhere = Account("123456789012", "us-east-1", "http://127.0.0.1:9")  # never reached
    run = PipelineRun(ARN, "p", definition, {}, nowhere)
    with pytest.raises(PipelineFailed) as failed:
        LocalPipelineExecutor(tmp_path, None)(run)
    reason = str(failed.value)
    assert reason.startswith(
        "Invalid pipeline definition: step Prep: Arguments.AppSpecification.ContainerArguments[0]:"
        " Cannot assign property reference [Parameters.Count] to argument of type [String]"
    )
    assert run.steps == []
    assert not (tmp_path / "abc123def456" / "steps").exists()
    assert (tmp_path / "abc123def456" / "logs" / "execution.log").read_text() == reason + "\n"
