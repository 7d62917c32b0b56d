"""The one settings object: every name, instance type, threshold and path the project uses.

Everything else reads these values instead of repeating literals, so renaming the pipeline
or moving the bucket is a one-line change (or one environment variable, see `from_env`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from core.contracts import project_tags

_CORE_DIR = Path(__file__).resolve().parent
#: The folder holding the project's packages: the repository in a checkout (tests and dev
#: tools read its other files through this), site-packages in an installed copy.
PROJECT_ROOT = _CORE_DIR.parent
#: setup.py installs the top-level folders scripts/ and data/ as these folders of `core`.
INSTALLED_SCRIPTS = "_scripts"
INSTALLED_DATA = "_data"


def _bundled(installed: str, checkout: str) -> Path:
    """A folder shipped with the code: inside this package when installed, else the repo's."""
    inside = _CORE_DIR / installed
    return inside if inside.is_dir() else PROJECT_ROOT / checkout


#: The SageMaker job scripts, run by file path (they are no importable package).
SCRIPTS_DIR = _bundled(INSTALLED_SCRIPTS, "scripts")
#: The bundled UCI Abalone data set.
DEFAULT_DATA = _bundled(INSTALLED_DATA, "data") / "abalone.csv"


def package_dir(name: str) -> Path:
    """The folder of one of the project's top-level packages, found without importing it."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {name!r}", name=name)
    return Path(next(iter(spec.submodule_search_locations))).resolve()


#: The account and role moto uses when no real AWS account is configured.
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_REGION = "us-east-1"

#: Container paths of the SageMaker jobs (the scripts default to them; the executor maps them).
PROCESSING_ROOT = "/opt/ml/processing"

ENV_PREFIX = "MLOPS_"


@dataclass(frozen=True)
class Hyperparameters:
    """XGBoost defaults; each is also a pipeline parameter so a run can override it."""

    max_depth: int = 5
    eta: float = 0.2
    gamma: float = 4.0
    min_child_weight: float = 6.0
    subsample: float = 0.7
    num_round: int = 200
    early_stopping_rounds: int = 10


#: Resource names that default to "<project>-<suffix>".
_DERIVED_NAMES = {
    "pipeline_name": "pipeline",
    "model_package_group": "models",
    "state_machine_name": "mlops",
    "approval_function_name": "approval",
    "approval_table_name": "approvals",
    "notification_topic_name": "mlops-events",
    "endpoint_name": "endpoint",
}


@dataclass(frozen=True)
class Settings:
    """Names and knobs of one deployment. Override any field with MLOPS_<FIELD> in the env."""

    project: str = "abalone"
    region: str = LOCAL_REGION
    pipeline_name: str = ""
    model_package_group: str = ""
    #: S3 bucket for code, data and artifacts; empty means sagemaker-<region>-<account>.
    bucket: str = ""
    role_arn: str = f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/mlops-sagemaker-execution"
    #: SageMaker XGBoost framework container; matches the xgboost pinned in setup.py.
    xgboost_version: str = "3.0-5"
    processing_instance_type: str = "ml.m5.xlarge"
    training_instance_type: str = "ml.m5.xlarge"
    inference_instance_type: str = "ml.m5.large"
    #: Quality gate: the test-set MSE of rings must be at most this (the AWS template's gate).
    mse_threshold: float = 6.0
    #: Champion gate: the test MSE may be at most this much above the champion's (the model
    #: serving today). Negative turns the check off, the default: a person compares on the
    #: review page.
    champion_mse_tolerance: float = -1.0
    #: Step caching is a build setting: SageMaker requires CacheConfig.Enabled to be a literal.
    cache_enabled: bool = True
    cache_expire_after: str = "P30D"
    split_seed: int = 42
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    state_machine_name: str = ""
    approval_function_name: str = ""
    approval_table_name: str = ""
    notification_topic_name: str = ""
    endpoint_name: str = ""
    #: The SageMaker project this deployment belongs to (empty: none). SageMaker's project
    #: templates give CodeBuild SAGEMAKER_PROJECT_NAME and SAGEMAKER_PROJECT_ID; `from_env`
    #: reads those too. The pipeline, the model package group and the stack are then tagged
    #: with core.contracts.project_tags.
    sagemaker_project_name: str = ""
    sagemaker_project_id: str = ""

    def __post_init__(self) -> None:
        """Names left empty derive from `project`, so one variable renames a deployment."""
        for name, suffix in _DERIVED_NAMES.items():
            if not getattr(self, name):
                object.__setattr__(self, name, f"{self.project}-{suffix}")

    @property
    def sagemaker_project(self) -> dict[str, str] | None:
        """The execution input's SageMakerProject ({"Name", "Id"}), or None without one."""
        if not self.sagemaker_project_name:
            return None
        return {"Name": self.sagemaker_project_name, "Id": self.sagemaker_project_id}

    @property
    def project_tags(self) -> list[dict[str, str]]:
        """The SageMaker project's tags for the pipeline, the group and the stack ([] if none)."""
        return project_tags(self.sagemaker_project_name, self.sagemaker_project_id)

    def bucket_for(self, account_id: str) -> str:
        """The bucket to use: the configured one or SageMaker's default naming."""
        return self.bucket or f"sagemaker-{self.region}-{account_id}"

    def prefix(self, *parts: str) -> str:
        """An S3 key prefix under the pipeline's own folder."""
        return "/".join((self.pipeline_name, *parts))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings with MLOPS_<FIELD> variables and explicit overrides applied, in that order."""
        environ = os.environ if environ is None else environ
        # Each value is of its field's type: _coerce converts by the field's annotation.
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and f.name != "hyperparameters":
                values[f.name] = _coerce(raw, f.type, f.name)
        for name in ("sagemaker_project_name", "sagemaker_project_id"):
            if name not in values and environ.get(name.upper()):
                values[name] = environ[name.upper()]
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region and "region" not in values:
            values["region"] = region
        values.update(overrides)
        return cls(**values)


def _coerce(raw: str, annotation: object, name: str) -> object:
    kind = str(annotation)
    try:
        if kind == "bool":
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if kind == "float":
            return float(raw)
        if kind == "int":
            return int(raw)
    except ValueError:
        expected = {"bool": "true or false", "float": "a number", "int": "an integer"}[kind]
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r}: expected {expected}") from None
    return raw
