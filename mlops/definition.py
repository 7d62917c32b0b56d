"""The pipeline definition JSON exactly as SageMaker receives it."""

from __future__ import annotations

from mlops.aws import Target
from mlops.settings import Settings


def build_definition(settings: Settings, target: Target) -> str:
    """Render the definition; uploads the step code to the target's bucket on the way."""
    from pipelines import build_pipeline
    from pipelines.session import pipeline_session

    session = pipeline_session(settings, target.session, target.account_id)
    return build_pipeline(settings, session).definition()
