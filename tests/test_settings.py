"""The one settings object: defaults, derived names, environment overrides."""

from __future__ import annotations

import pytest

from core.settings import Settings


def test_names_derive_from_the_project() -> None:
    settings = Settings(project="churn")
    assert settings.pipeline_name == "churn-pipeline"
    assert settings.model_package_group == "churn-models"
    assert settings.endpoint_name == "churn-endpoint"
    assert Settings(project="churn", endpoint_name="live").endpoint_name == "live"


def test_environment_overrides_typed_fields() -> None:
    settings = Settings.from_env(
        {
            "MLOPS_PROJECT": "churn",
            "MLOPS_MSE_THRESHOLD": "5.5",
            "MLOPS_CACHE_ENABLED": "false",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (settings.pipeline_name, settings.mse_threshold, settings.cache_enabled) == (
        "churn-pipeline",
        5.5,
        False,
    )
    assert settings.region == "eu-west-1"
    assert settings.bucket_for("111122223333") == "sagemaker-eu-west-1-111122223333"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MLOPS_MSE_THRESHOLD", "low", "MLOPS_MSE_THRESHOLD='low': expected a number"),
        ("MLOPS_CACHE_ENABLED", "maybe", "MLOPS_CACHE_ENABLED='maybe': expected true or false"),
        ("MLOPS_SPLIT_SEED", "4.2", "MLOPS_SPLIT_SEED='4.2': expected an integer"),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings.from_env({variable: value})
    assert str(info.value) == expected
