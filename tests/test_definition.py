"""The pipeline definition: steps, wiring, parameters and byte-identical builds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from clients.session import AWS_ENVIRONMENT
from core.settings import SCRIPTS_DIR, Settings
from localaws import local_aws
from mlops.builds import build_definition

EXPECTED_PARAMETERS = {
    "InputDataUrl",
    "ProcessingInstanceType",
    "ProcessingInstanceCount",
    "TrainingInstanceType",
    "TrainingInstanceCount",
    "MseThreshold",
    "ChampionMseTolerance",
    "MaxDepth",
    "Eta",
    "Gamma",
    "MinChildWeight",
    "Subsample",
    "NumRound",
    "EarlyStoppingRounds",
}


@pytest.fixture
def clean_aws_env() -> dict[str, str]:
    """The environment with no AWS configuration, as on a fresh laptop."""
    return {k: v for k, v in os.environ.items() if k not in AWS_ENVIRONMENT}


def _build(settings: Settings) -> tuple[str, dict[str, bytes]]:
    """The definition text and the code objects it uploaded, by S3 URI."""
    from clients.session import Target

    with local_aws() as aws:
        text = build_definition(settings, Target(aws.session, aws.account_id, aws.region, aws))
        s3 = aws.client("s3")
        bucket = settings.bucket_for(aws.account_id)
        objects = {
            f"s3://{bucket}/{obj['Key']}": s3.get_object(Bucket=bucket, Key=obj["Key"])[
                "Body"
            ].read()
            for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        }
    return text, objects


@pytest.fixture(scope="module")
def built() -> tuple[str, dict[str, bytes]]:
    return _build(Settings())


@pytest.fixture(scope="module")
def definition(built: tuple[str, dict[str, bytes]]) -> dict:
    return json.loads(built[0])


def _steps(definition: dict) -> dict[str, dict]:
    found: dict[str, dict] = {}

    def walk(steps: list[dict]) -> None:
        for step in steps:
            found[step["Name"]] = step
            walk(step["Arguments"].get("IfSteps", []) if step["Type"] == "Condition" else [])
            walk(step["Arguments"].get("ElseSteps", []) if step["Type"] == "Condition" else [])

    walk(definition["Steps"])
    return found


def _refs(node: object) -> list[str]:
    """Every `Get` reference anywhere below `node`."""
    if isinstance(node, dict):
        own = [node["Get"]] if isinstance(node.get("Get"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_top_level_steps_in_dag_order(definition: dict) -> None:
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        ("Preprocess", "Processing"),
        ("FindChampion", "Processing"),
        ("Train", "Training"),
        ("DataQualityBaseline", "QualityCheck"),
        ("Evaluate", "Processing"),
        ("QualityGate", "Condition"),
    ]
    baseline = definition["Steps"][3]
    assert (baseline["CheckType"], baseline["SkipCheck"], baseline["RegisterNewBaseline"]) == (
        "DATA_QUALITY",
        True,
        True,
    )
    dataset = baseline["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert dataset == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    }
    gate = definition["Steps"][5]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in gate["IfSteps"]] == [
        ("Register-RegisterModel", "RegisterModel")
    ]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [("QualityGateFailed", "Fail")]


def test_train_reads_preprocess_splits(definition: dict) -> None:
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in _steps(definition)["Train"]["Arguments"]["InputDataConfig"]
    }
    assert channels == {
        split: {"Get": f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{split}'].S3Output.S3Uri"}
        for split in ("train", "validation")
    }


def test_evaluate_reads_model_and_test_split(definition: dict) -> None:
    evaluate = _steps(definition)["Evaluate"]
    sources = [i["S3Input"]["S3Uri"] for i in evaluate["Arguments"]["ProcessingInputs"]]
    assert {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"} in sources
    assert {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    } in sources
    assert evaluate["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        },
        {
            "PropertyFileName": "ComparisonReport",
            "OutputName": "evaluation",
            "FilePath": "comparison.json",
        },
    ]


def test_the_champion_is_found_afresh_and_reaches_evaluate_as_arguments(definition: dict) -> None:
    """FindChampion never hits the cache (what is deployed changes while its arguments do not);
    Evaluate gets each field of its answer as an argument, so Evaluate's own cache key changes
    exactly when the champion does."""
    steps = _steps(definition)
    find = steps["FindChampion"]
    assert find["CacheConfig"]["Enabled"] is False
    arguments = find["Arguments"]["AppSpecification"]["ContainerArguments"]
    settings = Settings()
    assert arguments[:4] == [
        "--endpoint-name",
        settings.endpoint_name,
        "--model-package-group",
        settings.model_package_group,
    ]
    assert find["PropertyFiles"] == [
        {
            "PropertyFileName": "ChampionReport",
            "OutputName": "champion",
            "FilePath": "champion.json",
        }
    ]
    evaluate = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    for option, path in (
        ("--champion-model-url", "model_data_url"),
        ("--champion-source", "source"),
        ("--champion-package", "model_package_arn"),
        ("--champion-endpoint", "endpoint_name"),
    ):
        assert evaluate[evaluate.index(option) + 1] == {
            "Std:JsonGet": {
                "PropertyFile": {"Get": "Steps.FindChampion.PropertyFiles.ChampionReport"},
                "Path": path,
            }
        }
    assert steps["Evaluate"]["CacheConfig"]["Enabled"] is True


def test_the_champion_gate_is_off_unless_its_tolerance_is_given(definition: dict) -> None:
    (_, champion) = _steps(definition)["QualityGate"]["Arguments"]["Conditions"]
    assert champion == {
        "Type": "Or",
        "Conditions": [
            {
                "Type": "LessThan",
                "LeftValue": {"Get": "Parameters.ChampionMseTolerance"},
                "RightValue": 0.0,
            },
            {
                "Type": "LessThanOrEqualTo",
                "LeftValue": {
                    "Std:JsonGet": {
                        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.ComparisonReport"},
                        "Path": "mse_increase",
                    }
                },
                "RightValue": {"Get": "Parameters.ChampionMseTolerance"},
            },
        ],
    }
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert defaults["ChampionMseTolerance"] < 0


def test_register_names_the_comparison_and_the_pictures(definition: dict) -> None:
    register = _steps(definition)["Register-RegisterModel"]["Arguments"]
    evaluation = {
        "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    }
    assert register["CustomerMetadataProperties"] == {
        "EvaluationComparison": {
            "Std:Join": {"On": "/", "Values": [evaluation, "comparison.json"]}
        },
        "EvaluationPictures": {"Std:Join": {"On": "/", "Values": [evaluation, "pictures"]}},
    }


def test_quality_gate_reads_the_evaluation_property_file(definition: dict) -> None:
    (condition, _) = _steps(definition)["QualityGate"]["Arguments"]["Conditions"]
    assert condition["Type"] == "LessThanOrEqualTo"
    assert condition["LeftValue"] == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": "regression_metrics.mse.value",
        }
    }
    assert condition["RightValue"] == {"Get": "Parameters.MseThreshold"}


def test_register_metrics_uri_is_joined_from_properties(definition: dict) -> None:
    register = _steps(definition)["Register-RegisterModel"]["Arguments"]
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {
                    "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation']"
                    ".S3Output.S3Uri"
                },
                "evaluation.json",
            ],
        }
    }
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert register["ModelPackageGroupName"] == Settings().model_package_group


def test_register_always_awaits_a_person(definition: dict) -> None:
    """The status is a constant: no parameter can register a package as Approved."""
    register = _steps(definition)["Register-RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ModelApprovalStatus" not in {p["Name"] for p in definition["Parameters"]}
    assert not [ref for ref in _refs(definition) if "ApprovalStatus" in ref]


def test_the_cli_knows_the_parameters_without_building(definition: dict) -> None:
    """`mlops run` checks --param against pipelines.parameters.DECLARED before it builds."""
    from pipelines.parameters import DECLARED, LIMITS

    assert [(p["Name"], p["Type"]) for p in definition["Parameters"]] == list(DECLARED.items())
    numeric = {name for name, kind in DECLARED.items() if kind in {"Integer", "Float"}}
    assert set(LIMITS) == numeric
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert all(LIMITS[name].allows(defaults[name]) for name in numeric)


def test_fail_message_names_metric_and_threshold(definition: dict) -> None:
    message = _steps(definition)["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]
    refs = _refs(message)
    assert "Parameters.MseThreshold" in refs
    assert "Steps.Evaluate.PropertyFiles.EvaluationReport" in refs
    assert "Parameters.ChampionMseTolerance" in refs
    assert "Steps.Evaluate.PropertyFiles.ComparisonReport" in refs


def test_every_parameter_is_declared_and_used(definition: dict) -> None:
    declared = {p["Name"] for p in definition["Parameters"]}
    assert declared == EXPECTED_PARAMETERS
    used = {
        ref.split(".", 1)[1] for ref in _refs(definition["Steps"]) if ref.startswith("Parameters.")
    }
    assert used == declared
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert defaults["MseThreshold"] == 6.0


def test_hyperparameters_come_from_parameters(definition: dict) -> None:
    hps = _steps(definition)["Train"]["Arguments"]["HyperParameters"]
    for name, parameter in {
        "max_depth": "MaxDepth",
        "eta": "Eta",
        "num_round": "NumRound",
        "early_stopping_rounds": "EarlyStoppingRounds",
    }.items():
        assert _refs(hps[name]) == [f"Parameters.{parameter}"]


def test_processing_scripts_get_container_paths_as_arguments(definition: dict) -> None:
    steps = _steps(definition)
    preprocess = steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert preprocess[:4] == [
        "--input",
        "/opt/ml/processing/input",
        "--output-dir",
        "/opt/ml/processing",
    ]
    evaluate = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert "--model-dir" in evaluate and "/opt/ml/processing/model" in evaluate


def test_code_uploaded_is_the_projects_scripts(built: tuple[str, dict[str, bytes]]) -> None:
    definition = json.loads(built[0])
    objects = built[1]
    for name in ("Preprocess", "Evaluate"):
        inputs = _steps(definition)[name]["Arguments"]["ProcessingInputs"]
        (code,) = [i["S3Input"]["S3Uri"] for i in inputs if i["InputName"] == "code"]
        script = code.rsplit("/", 1)[1]
        assert objects[code] == (SCRIPTS_DIR / script).read_bytes()


def test_caching_follows_the_setting(definition: dict) -> None:
    cached = [s["Name"] for s in definition["Steps"] if s.get("CacheConfig", {}).get("Enabled")]
    assert cached == ["Preprocess", "Train", "DataQualityBaseline", "Evaluate"]
    uncached = json.loads(_build(Settings(cache_enabled=False))[0])
    assert all(not s.get("CacheConfig", {}).get("Enabled", False) for s in uncached["Steps"])


def test_no_timestamps_baked_in(built: tuple[str, dict[str, bytes]]) -> None:
    assert not re.search(r"20\d\d-\d\d-\d\d-\d\d-\d\d", built[0])


def test_two_builds_are_byte_identical(built: tuple[str, dict[str, bytes]]) -> None:
    assert _build(Settings())[0] == built[0]


def test_cli_prints_the_same_definition_twice(
    built: tuple[str, dict[str, bytes]], tmp_path, clean_aws_env
) -> None:
    out = tmp_path / "definition.json"
    first = subprocess.run(
        [sys.executable, "-m", "mlops.cli", "definition"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_aws_env,
    )
    subprocess.run(
        [sys.executable, "-m", "mlops.cli", "definition", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        env=clean_aws_env,
    )
    assert first.stdout == out.read_text()
    assert first.stdout.rstrip("\n") == built[0]
