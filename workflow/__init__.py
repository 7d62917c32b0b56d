"""The Step Functions state machine that runs the pipeline, asks for approval and deploys.

Built with the Step Functions Data Science SDK; the ASL carries `${Placeholder}`s that
CloudFormation's DefinitionSubstitutions (or `render`, locally) fill. Execution input and
output are documented in workflow/README.md.

`asl` and `build_definition` load the SDK (and through it the SageMaker SDK, seconds of
import) on first use only, so filling placeholders stays cheap.
"""

from typing import Any

from workflow.substitutions import (
    DEFINITION_SUBSTITUTIONS,
    placeholders_in,
    render,
    substitution_values,
)

__all__ = [
    "DEFINITION_SUBSTITUTIONS",
    "asl",
    "build_definition",
    "placeholders_in",
    "render",
    "substitution_values",
]


def __getattr__(name: str) -> Any:
    if name in {"asl", "build_definition"}:
        # stepfunctions imports the SageMaker SDK, which must be imported quietly first
        # (stdout carries the ASL in `mlops workflow`).
        import pipelines.sdk  # noqa: F401
        from workflow import definition

        return getattr(definition, name)
    raise AttributeError(f"module 'workflow' has no attribute {name!r}")
