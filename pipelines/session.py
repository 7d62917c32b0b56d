"""A PipelineSession for building definitions, on AWS or on the embedded local AWS."""

from __future__ import annotations

import pipelines.sdk  # noqa: F401 - first, so the SDK imports quietly

# isort: split
import boto3
from sagemaker.workflow.pipeline_context import PipelineSession

from core.settings import Settings


def quiet_sdk() -> None:
    """Silence the SDK's telemetry request and info chatter.

    The telemetry call would reach out to the internet on every build; the config-file
    opt-out costs a file lookup per call, so the sender itself is replaced.
    """
    from sagemaker.telemetry import telemetry_logging

    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None


def pipeline_session(
    settings: Settings, boto_session: boto3.Session, account_id: str
) -> PipelineSession:
    """A session whose default bucket is named, so the SDK makes no STS call."""
    quiet_sdk()
    return PipelineSession(
        boto_session=boto_session, default_bucket=settings.bucket_for(account_id)
    )
