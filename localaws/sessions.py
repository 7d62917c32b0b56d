"""boto3 sessions for the local AWS: one parsed copy of each service model per process.

botocore parses a service's model once per session, and the SageMaker model alone is 400 KB of
compressed JSON (about 0.1 s to parse). moto's backends keep a session of their own, and the
CLI and the pipeline executor each need one, so every session made here borrows moto's model
loader: each model is parsed once, by whichever thread needs it first.

Local S3 clients also skip payload signing: a SHA-256 of every upload guards a network that
in-process traffic never crosses.
"""

from __future__ import annotations

import boto3
import botocore.session
from botocore.config import Config
from moto.core.base_backend import AccountSpecificBackend

from localaws.accounts import Account

_LOCAL_CLIENT_CONFIG = Config(s3={"payload_signing_enabled": False})


def local_session(region: str | None, account: Account | None = None) -> boto3.Session:
    """A session whose clients share moto's parsed service models, with `account`'s keys.

    Call it inside `local_aws()`: moto makes its own session on first use, and the variables
    that would point it elsewhere (AWS_PROFILE) are unset only there. Without an account the
    clients take their credentials from the environment.
    """
    core = botocore.session.Session()
    if account is not None:
        core.set_credentials(account.access_key_id, account.secret_access_key)
    shared = AccountSpecificBackend.get_session()._session  # moto's own boto3 session
    core.register_component("data_loader", shared.get_component("data_loader"))
    core.set_default_client_config(_LOCAL_CLIENT_CONFIG)
    return boto3.Session(botocore_session=core, region_name=region)
