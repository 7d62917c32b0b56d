"""The embedded local AWS: moto in server mode plus the project's seams and pipeline executor."""

from localaws.sagemaker_seam import PipelineFailed, PipelineRun
from localaws.server import LocalAWS, local_aws

__all__ = ["LocalAWS", "PipelineFailed", "PipelineRun", "local_aws"]
