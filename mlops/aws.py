"""Where commands talk to: real AWS when it is configured, else the embedded local AWS.

"Configured" means the standard AWS environment says so (a profile, an endpoint, a region,
or credentials in the environment or the container); nothing else is probed, so an offline
laptop never waits on a metadata service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from localaws import LocalAWS, local_aws
from localaws.sagemaker_seam import Executor

AWS_CONFIG_VARIABLES = (
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def aws_configured(environ: Mapping[str, str] | None = None) -> bool:
    """True when the standard AWS environment points somewhere."""
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in AWS_CONFIG_VARIABLES)


@dataclass(frozen=True)
class Target:
    """An AWS to act on: a boto3 session, its account and region, and the local stack if any."""

    session: boto3.Session
    account_id: str
    region: str
    local: LocalAWS | None = None

    def client(self, service: str) -> Any:
        return self.session.client(service)


@contextmanager
def connect(
    region: str, local: bool | None = None, executor: Executor | None = None
) -> Iterator[Target]:
    """Yield the AWS to use; `local=None` decides from the environment."""
    if local or (local is None and not aws_configured()):
        with local_aws(executor, region=region) as aws:
            yield Target(aws.session, aws.account_id, aws.region, aws)
        return
    session = boto3.Session()
    region = session.region_name or region
    session = boto3.Session(region_name=region)
    account_id = session.client("sts").get_caller_identity()["Account"]
    yield Target(session, account_id, region)
