"""Builds the SageMaker Pipeline: parameters, steps, quality gate, conditional registration.

`build_pipeline` loads the SageMaker SDK (seconds of import) on first use only, so readers of
`pipelines.names` stay fast.
"""

from typing import Any

__all__ = ["build_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "build_pipeline":
        from pipelines.pipeline import build_pipeline

        return build_pipeline
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
