"""The workflow's AWS resources, created in the embedded local AWS for one run.

What CloudFormation creates on AWS, made here with the same API calls: the approvals table,
the approval Lambda (whose handler the Lambda seam runs in-process), the notification topic
and the state machine. Its Function URL is a local HTTP adapter on 127.0.0.1, and Slack is a
local webhook sink, so notifications are really sent and can be kept as sent.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from approval.handler import lambda_handler
from approval.store import create_table
from core.settings import PROJECT_ROOT, Settings
from deploy.iam import assume_role
from localaws.function_urls import LocalServer, serve
from localaws.webhook import WebhookSink, webhook_sink
from mlops.aws import Target
from workflow import render, substitution_values
from workflow.substitutions import APPROVAL_FUNCTION_ARN, NOTIFICATION_TOPIC_ARN

APPROVAL_HANDLER = "approval.handler.lambda_handler"
LAMBDA_RUNTIME = "python3.12"
#: Local stand-ins: SES accepts mail from a verified identity and keeps it.
EMAIL_FROM = "mlops@example.com"
EMAIL_TO = "reviewer@example.com"


@dataclass(frozen=True)
class LocalDeployment:
    state_machine_arn: str
    topic_arn: str
    review: LocalServer
    slack: WebhookSink


def _approval_zip() -> bytes:
    """The function's code as Lambda would receive it (the seam runs the project's own)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((PROJECT_ROOT / "approval").glob("*.py")):
            archive.write(path, f"approval/{path.name}")
    return buffer.getvalue()


@contextmanager
def deploy_locally(target: Target, settings: Settings, asl_text: str) -> Iterator[LocalDeployment]:
    """Create the workflow's resources; the review page is served for the block's duration."""
    iam, sfn = target.client("iam"), target.client("stepfunctions")
    saved_env = dict(os.environ)
    with serve(lambda_handler) as review, webhook_sink() as slack:
        environment = {
            "APPROVAL_TABLE": settings.approval_table_name,
            "APPROVAL_BASE_URL": review.url,
            "SIGNING_SECRET": secrets.token_urlsafe(32),
            "SLACK_WEBHOOK_URL": slack.url,
            "EMAIL_FROM": EMAIL_FROM,
            "EMAIL_TO": EMAIL_TO,
            "APPROVERS": EMAIL_TO,
        }
        # The review page runs the handler in this process, like the Lambda seam does.
        os.environ.update(environment)
        try:
            create_table(target.client("dynamodb"), settings.approval_table_name)
            target.client("ses").verify_email_identity(EmailAddress=EMAIL_FROM)
            lambda_role = iam.create_role(
                RoleName=f"{settings.approval_function_name}-role",
                AssumeRolePolicyDocument=json.dumps(assume_role("lambda", source_account=False)),
            )["Role"]["Arn"]
            function_arn = target.client("lambda").create_function(
                FunctionName=settings.approval_function_name,
                Runtime=LAMBDA_RUNTIME,
                Role=lambda_role,
                Handler=APPROVAL_HANDLER,
                Code={"ZipFile": _approval_zip()},
                Timeout=30,
                Environment={"Variables": environment},
            )["FunctionArn"]
            topic_arn = target.client("sns").create_topic(Name=settings.notification_topic_name)[
                "TopicArn"
            ]
            values = substitution_values(settings, target.account_id, target.region)
            values[APPROVAL_FUNCTION_ARN] = function_arn
            values[NOTIFICATION_TOPIC_ARN] = topic_arn
            sfn_role = iam.create_role(
                RoleName=f"{settings.state_machine_name}-role",
                AssumeRolePolicyDocument=json.dumps(assume_role("states", source_account=False)),
            )["Role"]["Arn"]
            machine_arn = sfn.create_state_machine(
                name=settings.state_machine_name,
                definition=render(asl_text, values),
                roleArn=sfn_role,
            )["stateMachineArn"]
            yield LocalDeployment(machine_arn, topic_arn, review, slack)
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
