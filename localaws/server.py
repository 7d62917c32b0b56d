"""The embedded local AWS: moto in server mode, in this process, with the project's seams.

The server is moto's own WSGI application and request handler (what ThreadedMotoServer runs),
served by a thread that notices shutdown within milliseconds rather than half a second.

One context manager, `local_aws()`, is shared by the CLI and the tests. Inside it the
standard AWS environment variables point at the local server, so boto3, the sagemaker SDK
and every subprocess started from here talk to it without further configuration.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from localaws import function_urls, sagemaker_seam
from localaws.mirror import MIRROR
from localaws.sagemaker_seam import Executor
from localaws.sessions import local_session

#: The region a local AWS serves unless told otherwise.
DEFAULT_REGION = "us-east-1"
#: How often the server thread checks for shutdown: the worst-case teardown latency.
_POLL_SECONDS = 0.02
#: The services a pipeline run loads: loading any other one installs the workflow's seams.
_PIPELINE_SERVICES = frozenset({"moto_api", "s3", "sagemaker"})
#: Objects up to this size live in memory in the local S3; larger ones in temporary files.
_S3_MEMORY_OBJECT_BYTES = 256 << 20
#: Fake credentials: moto accepts any, and they stop boto3 from looking for real ones.
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: Variables that would make clients leave the local server.
_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE")
#: moto features: run state machines with its ASL interpreter; Lambda without Docker.
_MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


@dataclass(frozen=True)
class LocalAWS:
    """A running local AWS: where it listens and clients bound to it."""

    endpoint: str
    region: str
    account_id: str
    session: boto3.Session

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on the local server."""
        return self.session.client(service, endpoint_url=self.endpoint)

    def wait_for_pipeline_change(self, timeout: float) -> None:
        """Return when a pipeline execution or step changes state, or after `timeout` s."""
        sagemaker_seam.wait_for_change(timeout)

    def inject_fault(self, operation: str, error_code: str, times: int = 1) -> None:
        """Fail the next `times` calls of a SageMaker operation (snake_case) with `error_code`."""
        sagemaker_seam.inject_fault(operation, error_code, times)

    def sent_emails(self) -> list[str]:
        """The raw MIME of every email SES accepted, oldest first (SES has no read API)."""
        from moto.ses.models import ses_backends

        return [
            m.raw_data
            for m in ses_backends[self.account_id][self.region].sent_messages
            if hasattr(m, "raw_data")
        ]

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """Every message published to an SNS topic, oldest first: Subject and Message."""
        from moto.sns.models import sns_backends

        topic = sns_backends[self.account_id][self.region].topics[topic_arn]
        return [{"Subject": n[2], "Message": n[1]} for n in topic.sent_notifications]


@contextmanager
def local_aws(executor: Executor | None = None, region: str = DEFAULT_REGION) -> Iterator[LocalAWS]:
    """Start moto on 127.0.0.1 (a free port) with the seams installed; tear it all down after."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sagemaker_seam.install(executor)
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_SECONDS},
        name="local-aws",
        daemon=True,
    )
    thread.start()
    port = server.server_address[1]
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in (*_CREDENTIALS, *_UNSET, *_ENV_KEYS)}
    try:
        for name in _UNSET:
            os.environ.pop(name, None)
        os.environ.update(_CREDENTIALS)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                # moto's ASL interpreter calls back to localhost:$MOTO_PORT.
                "MOTO_PORT": str(port),
                # Checksums guard a network this traffic never crosses; a CRC of every
                # upload through the local S3's API would double its cost.
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                # moto keeps objects up to this size in memory rather than in a temporary
                # file: writing a 50 MB object to disk costs about 0.15 s more.
                "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(_S3_MEMORY_OBJECT_BYTES),
            }
        )
        _post(f"{endpoint}/moto-api/config", _MOTO_CONFIG)
        yield LocalAWS(endpoint, region, DEFAULT_ACCOUNT_ID, local_session(region))
    finally:
        # Function URLs first: no request may reach a backend that is being reset.
        function_urls.stop_all()
        _post(f"{endpoint}/moto-api/reset", None)
        server.shutdown()
        server.server_close()
        thread.join()
        sagemaker_seam.install(None)
        sagemaker_seam.clear_faults()
        MIRROR.clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _backend_app(service: str) -> Any:
    """moto's app for a service, installing the workflow's seams before any other service loads.

    moto loads a service when its first request arrives. A pipeline run talks only to S3 and
    SageMaker, so it never pays for importing moto's Lambda, DynamoDB and Step Functions;
    anything else that could reach those backends (their own APIs, CloudFormation, SNS,
    EventBridge) loads first and installs the seams before moto creates any of their backends.
    CloudFormation, which imports most of moto, also gets its own seam, when it loads.
    """
    if service not in _PIPELINE_SERVICES:
        from localaws import dynamodb_seam, lambda_seam, sfn_seam

        lambda_seam.install()
        dynamodb_seam.install()
        sfn_seam.install()
        if service == "cloudformation":
            from localaws import cloudformation_seam

            cloudformation_seam.install()
    return create_backend_app(service)


_ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "MOTO_PORT",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE",
)


def _post(url: str, payload: dict[str, Any] | None) -> None:
    data = json.dumps(payload).encode() if payload is not None else b""
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST")) as resp:
        resp.read()
