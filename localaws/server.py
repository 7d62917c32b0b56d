"""The embedded local AWS: moto in server mode, in this process, with the project's seams.

The server is moto's own WSGI application and request handler (what ThreadedMotoServer runs),
served by a thread that notices shutdown within milliseconds rather than half a second.

One context manager, `local_aws()`, is shared by the CLI and the tests. Inside it the
standard AWS environment variables point at the local server, so boto3, the sagemaker SDK
and every subprocess started from here talk to it without further configuration.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.core.base_backend import BackendDict, backend_lock
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from localaws import accounts, monitoring_seam, sagemaker_jobs, sagemaker_seam
from localaws.accounts import Account, Executor, Fault
from localaws.auth import CredentialCheck
from localaws.sessions import local_session

#: The region a local AWS serves unless told otherwise.
DEFAULT_REGION = "us-east-1"
#: How often the server thread checks for shutdown: the worst-case teardown latency.
_POLL_SECONDS = 0.02
#: The services a pipeline run loads: loading any other one installs the workflow's seams.
_PIPELINE_SERVICES = frozenset({"moto_api", "s3", "sagemaker"})
#: Objects up to this size live in memory in the local S3; larger ones in temporary files.
_S3_MEMORY_OBJECT_BYTES = 256 << 20
#: Variables that would make clients leave the local server.
_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE")
#: moto features: run state machines with its ASL interpreter; Lambda without Docker.
_MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "MOTO_PORT",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE",
)


@dataclass(frozen=True)
class LocalAWS:
    """A running local AWS: where it listens, its account, and clients bound to it."""

    endpoint: str
    region: str
    account: Account
    session: boto3.Session

    @property
    def account_id(self) -> str:
        return self.account.account_id

    @property
    def credentials(self) -> dict[str, str]:
        """What any AWS client needs to reach this local AWS (the standard variables)."""
        return self.account.environment()

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on the local server, signed with this account's keys."""
        return self.session.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.account.access_key_id,
            aws_secret_access_key=self.account.secret_access_key,
        )

    def upload(self, path: Path, bucket: str, key: str) -> None:
        """Store a local file as an S3 object, as PutObject would, without the HTTP copies."""
        self.account.mirror.upload(path, bucket, key)

    def wait_for_pipeline_change(self, timeout: float) -> None:
        """Return when a pipeline execution or step changes state, or after `timeout` s.

        For pollers of the SageMaker API in this process: they still read the state through
        the API, but right after it changes rather than up to a poll interval later.
        """
        self.account.changed.wait(timeout)
        self.account.changed.clear()

    def inject_fault(self, operation: str, error_code: str, times: int = 1) -> None:
        """Fail the next `times` calls of a SageMaker operation (snake_case) with `error_code`."""
        with self.account.lock:
            self.account.faults[operation] = Fault(
                error_code, f"Injected {error_code} for {operation}", times
            )

    def sent_emails(self) -> list[str]:
        """The raw MIME of every email SES accepted, oldest first (SES has no read API)."""
        from moto.ses.models import ses_backends

        return [
            m.raw_data
            for m in ses_backends[self.account_id][self.region].sent_messages
            if hasattr(m, "raw_data")
        ]

    @property
    def monitor_every(self) -> float | None:
        """Seconds between the runs of every Scheduled monitoring schedule, if the clock runs
        them so (`local_aws(monitor_every=)`); None: each at its own cron expression's hours."""
        return self.account.monitor_every

    def run_monitoring_schedules(self, name: str | None = None) -> list[dict[str, Any]]:
        """Run every Scheduled Model Monitor schedule, or the one named, now, in this thread;
        returns the executions' summaries (as ListMonitoringExecutions gives them), in the
        order they ran. ValueError for a name that is not a Scheduled schedule."""
        return monitoring_seam.monitoring(self.account).run(name)

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """Every message published to an SNS topic, oldest first: Subject and Message."""
        from moto.sns.models import sns_backends

        topic = sns_backends[self.account_id][self.region].topics[topic_arn]
        return [{"Subject": n[2], "Message": n[1]} for n in topic.sent_notifications]


@contextmanager
def local_aws(
    executor: Executor | None = None,
    region: str = DEFAULT_REGION,
    monitor_every: float | None = None,
) -> Iterator[LocalAWS]:
    """Start moto on 127.0.0.1 (a free port) as a new account; tear it all down after.

    Inside the block the standard AWS variables point at the server with this start's
    credentials, so boto3, the sagemaker SDK and every subprocess reach it unchanged; they are
    restored on exit. The server refuses requests signed with any other credentials.

    Model Monitor's schedules run at their cron expressions' hours, or, with `monitor_every`,
    every that many seconds (`localaws.monitoring_seam`); `LocalAWS.run_monitoring_schedules`
    runs them at once.
    """
    if monitor_every is not None and not monitor_every > 0:
        raise ValueError(f"monitor_every={monitor_every!r}: a number of seconds above 0, or None")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sagemaker_seam.install()
    sagemaker_jobs.install()
    monitoring_seam.install()
    moto_api_backend.set_config(_MOTO_CONFIG)
    check = CredentialCheck(DomainDispatcherApplication(_backend_app))
    server = make_server("127.0.0.1", 0, check, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    endpoint = f"http://127.0.0.1:{port}"
    account = accounts.open_account(region, endpoint, executor, monitor_every)
    if monitor_every is not None:
        monitoring_seam.monitoring(account).start_clock()
    check.allow(account)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_SECONDS},
        name="local-aws",
        daemon=True,
    )
    thread.start()
    saved = {name: os.environ.get(name) for name in (*_UNSET, *_ENV_KEYS)}
    try:
        for name in _UNSET:
            os.environ.pop(name, None)
        os.environ.update(account.environment())
        os.environ.update(
            {
                # moto's ASL interpreter calls back to localhost:$MOTO_PORT (see auth.py).
                "MOTO_PORT": str(port),
                # Checksums guard a network this traffic never crosses; a CRC of every
                # upload through the local S3's API would double its cost.
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                # moto keeps objects up to this size in memory rather than in a temporary
                # file: writing a 50 MB object to disk costs about 0.15 s more.
                "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(_S3_MEMORY_OBJECT_BYTES),
            }
        )
        yield LocalAWS(endpoint, region, account, local_session(region, account))
    finally:
        accounts.close_account(account)
        # Lambda first: its reset stops the account's Function URLs, so no request reaches
        # a backend that is being reset.
        _forget_account(account.account_id)
        server.shutdown()
        server.server_close()
        thread.join()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _forget_account(account_id: str) -> None:
    """Reset and drop every service's state of one account (moto's own reset is all-accounts)."""
    with backend_lock:
        backends = sorted(BackendDict._instances, key=lambda b: b.service_name != "lambda")
        for backend in backends:
            specific = backend.pop(account_id, None)
            if specific is None:
                continue
            if backend.service_name == "lambda":
                specific.reset()  # stops the account's Function URL servers
            elif backend.service_name == "s3":
                # Bucket names are global (moto maps each to its account); moto's own S3
                # reset would dispose every account's objects.
                for s3 in specific.values():
                    for bucket in s3.buckets.values():
                        for key in bucket.keys.values():
                            if hasattr(key, "dispose"):
                                key.dispose()
                        backend.bucket_accounts.pop(bucket.name, None)


def _backend_app(service: str) -> Any:
    """moto's app for a service, installing the workflow's seams before any other service loads.

    moto loads a service when its first request arrives. A pipeline run talks only to S3 and
    SageMaker, so it never pays for importing moto's Lambda, DynamoDB and Step Functions;
    anything else that could reach those backends (their own APIs, CloudFormation, SNS,
    EventBridge) loads first and installs the seams before moto creates any of their backends.
    CloudFormation, which imports most of moto, also gets its own seam, when it loads.
    The SageMaker runtime (InvokeEndpoint) reaches only SageMaker and S3: its seam alone.
    """
    if service == "sagemakerruntime":
        from localaws import runtime_seam

        runtime_seam.install()
        return create_backend_app(service)
    if service not in _PIPELINE_SERVICES:
        from localaws import dynamodb_seam, events_seam, lambda_seam, sfn_seam

        lambda_seam.install()
        dynamodb_seam.install()
        sfn_seam.install()
        events_seam.install()
        if service == "cloudformation":
            from localaws import cloudformation_seam

            cloudformation_seam.install()
    return create_backend_app(service)
