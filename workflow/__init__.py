"""The Step Functions state machine that runs the pipeline, asks for approval and deploys.

Built with the Step Functions Data Science SDK; the ASL carries `${Placeholder}`s that
CloudFormation's DefinitionSubstitutions (or `render`, locally) fill. Execution input and
output are documented in workflow/README.md.
"""

# pipelines/ quiets the SageMaker SDK's import-time output (stdout carries the ASL in
# `mlops workflow`); stepfunctions imports that SDK, so pipelines goes first.
import pipelines  # noqa: F401
from workflow.definition import asl, build_definition
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
