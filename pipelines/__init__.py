"""Builds the SageMaker Pipeline: parameters, steps, quality gate, conditional registration."""

import logging
import os
import warnings

# Before the SDK is imported: its config logger would otherwise print to stdout, which
# `mlops definition` reserves for the definition itself; and its import runs
# logging.basicConfig(level=INFO), which the root logger is restored from below.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker").addHandler(logging.NullHandler())
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
for _benign in (
    "sagemaker.workflow.utilities",
    "sagemaker.workflow._utils",
    "sagemaker.deprecations",
    "sagemaker.image_uris",
    "sagemaker.telemetry.telemetry_logging",
):
    logging.getLogger(_benign).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Running within a PipelineSession")
_root = logging.getLogger()
_root_state = (_root.level, list(_root.handlers))

from pipelines.pipeline import build_pipeline  # noqa: E402

_root.setLevel(_root_state[0])
_root.handlers[:] = _root_state[1]

__all__ = ["build_pipeline"]
