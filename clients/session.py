"""Which AWS a command talks to: an account through boto3's credential chain, or the local AWS.

`aws_account` resolves credentials the way the AWS CLI does (environment variables, the
shared `~/.aws/config` and `~/.aws/credentials` files and their profiles, SSO, container
and instance roles) and never falls back to anything else: no credentials is an error that
names where it looked. `local_account` starts the embedded local AWS; commands use it only
when asked to (`--local`) and `mlops run` always.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ProfileNotFound

from core.errors import UsageError

if TYPE_CHECKING:
    from localaws import LocalAWS
    from localaws.sagemaker_seam import Executor

#: The environment variables that choose an AWS account, region or endpoint for boto3.
AWS_ENVIRONMENT = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
#: Where boto3's default chain looks, in its order; named when nothing is found.
CREDENTIAL_SOURCES = (
    "the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    "the shared files (~/.aws/credentials, ~/.aws/config; AWS_PROFILE or --profile)",
    "SSO and web identity",
    "container and instance roles",
)


@dataclass(frozen=True)
class Target:
    """An AWS account to act on: a boto3 session, its account and region, and, when it is
    the embedded local AWS, that local AWS."""

    session: boto3.Session
    account_id: str
    region: str
    local: LocalAWS | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service)


def aws_account(profile: str | None = None, region: str | None = None) -> Target:
    """The account boto3's default credential chain finds, or UsageError saying what is
    missing. The region comes from --region, else AWS_REGION/AWS_DEFAULT_REGION, else the
    profile's config."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise UsageError(f"--profile {profile}: {exc}") from None
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise UsageError(f"AWS credentials could not be loaded: {exc}") from None
    if credentials is None:
        raise UsageError(
            "no AWS credentials found; looked in "
            + ", ".join(CREDENTIAL_SOURCES)
            + ". Configure them (aws configure), pass --profile, or use --local for the "
            "embedded local AWS"
        )
    if not session.region_name:
        raise UsageError(
            "no AWS region: pass --region, set AWS_DEFAULT_REGION, or set `region` in the "
            "profile's ~/.aws/config section"
        )
    account_id = session.client("sts").get_caller_identity()["Account"]
    return Target(session, account_id, session.region_name)


@contextmanager
def local_account(
    region: str, executor: Executor | None = None, monitor_every: float | None = None
) -> Iterator[Target]:
    """The embedded local AWS, running for the block's duration; `monitor_every` runs its
    monitoring schedules every that many seconds instead of on their own schedule."""
    from localaws import local_aws

    options = {} if monitor_every is None else {"monitor_every": monitor_every}
    with local_aws(executor, region=region, **options) as aws:
        yield Target(aws.session, aws.account_id, aws.region, aws)
