"""Import the SageMaker SDK quietly; every module of this package imports it through here.

The SDK's config logger prints to stdout, which `mlops definition` reserves for the
definition; one module a build reaches runs `logging.basicConfig(level=INFO)` when first
imported, so it is imported here and the root logger restored; and the SDK warns about v2
and about PipelineSession on every build.
"""

import logging
import os
import warnings

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
import sagemaker  # noqa: E402
import sagemaker.experiments._metrics  # noqa: E402

_root.setLevel(_root_state[0])
_root.handlers[:] = _root_state[1]

__all__ = ["sagemaker"]
