"""The job records of the local SageMaker: what DescribeTrainingJob and DescribeProcessingJob
answer about a job the local executor ran, as SageMaker records it.

moto records a job Completed the moment it is created, with no run time (a training job's
start and end are both its creation; a processing job has no start), and CreateProcessingJob
drops the request's ProcessingResources and Environment. Here:

- CreateProcessingJob keeps ProcessingResources and Environment, which DescribeProcessingJob
  returns on AWS (API reference, DescribeProcessingJob:
  https://docs.aws.amazon.com/sagemaker/latest/dg/API_DescribeProcessingJob.html).
- `end_job`, called by the executor when a job's run ends, records its times: a training job's
  TrainingStartTime and TrainingEndTime ("You are billed for the time interval between this
  time and the value of TrainingEndTime",
  https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sagemaker/aws.sdk.kotlin.services.sagemaker.model/-describe-training-job-response/training-start-time.html),
  TrainingTimeInSeconds and BillableTimeInSeconds (whole seconds of wall-clock time, per
  instance: "Multiply BillableTimeInSeconds by the number of instances (InstanceCount)",
  https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sagemaker/aws.sdk.kotlin.services.sagemaker.model/-describe-training-job-response/billable-time-in-seconds.html);
  a processing job's ProcessingStartTime and ProcessingEndTime; Completed or Failed with the
  FailureReason. Locally a job starts running when it is created (there are no instances
  to provision), so its start is its creation.
"""

from __future__ import annotations

import math
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from localaws import accounts
from localaws.accounts import Account
from localaws.patches import Patches

_PATCHES = Patches()


def end_job(account: Account, kind: str, name: str, failure_reason: str | None = None) -> None:
    """Record that the `kind` ("Training" or "Processing") job `name` ended now; a job never
    created (its step failed before), or of an account that has closed, is left alone."""
    if accounts.account(account.account_id) is not account:
        return
    backend = sagemaker_backends[account.account_id][account.region]
    jobs: dict[str, Any] = backend.training_jobs if kind == "Training" else backend.processing_jobs
    job = jobs.get(name)
    if job is None:
        return
    ended = utcnow()
    started = job.creation_time
    status = "Failed" if failure_reason else "Completed"
    if kind == "Training":
        seconds = max(1, math.ceil((ended - started).total_seconds()))
        job.training_start_time, job.training_end_time = started, ended
        job.training_time_in_seconds = job.billable_time_in_seconds = seconds
        job.training_job_status = job.secondary_status = status
    else:
        job.processing_start_time, job.processing_end_time = started, ended
        job.processing_job_status = status
    if failure_reason:
        job.failure_reason = failure_reason
    job.last_modified_time = ended


def _create_processing_job(original: Any) -> Any:
    def create_processing_job(self: SageMakerResponse) -> Any:
        result = original(self)
        job: Any = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        job.processing_resources = self._get_param("ProcessingResources")
        job.environment = self._get_param("Environment")
        return result

    return create_processing_job


def install() -> None:
    """Keep CreateProcessingJob's resources and environment (idempotent)."""
    _PATCHES.apply(lambda: [(SageMakerResponse, "create_processing_job", _create_processing_job)])
