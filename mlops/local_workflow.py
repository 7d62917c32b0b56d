"""The workflow stack in the embedded local AWS, for one `mlops run`.

The stack is the template `mlops template` prints, deployed by the code `mlops deploy` runs
(deploy.workflow_stack). Around it, what an account owner sets up once on AWS is set up here
for the run: a Slack incoming webhook (a local sink that keeps what it receives) whose URL
is a Secrets Manager secret, and an SES-verified sender. So the approval function reads its
secrets through Secrets Manager, sends real Slack and email messages, and its Function URL
serves the review page on 127.0.0.1, all as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clients.cloudformation import stack_resources
from clients.session import Target
from core import names
from core.settings import Settings
from deploy import template as tpl
from deploy.workflow_stack import deploy_workflow_stack
from localaws.webhook import WebhookSink, webhook_sink
from workflow.substitutions import placeholders_in

#: Local stand-ins: SES accepts mail from a verified identity and keeps it.
EMAIL_FROM = "mlops@example.com"
EMAIL_TO = "reviewer@example.com"


@dataclass(frozen=True)
class LocalWorkflow:
    """The deployed stack: its template, outputs and resources, and the Slack sink."""

    stack_name: str
    template: dict[str, Any]
    outputs: dict[str, str]
    resources: list[dict[str, str]]
    slack: WebhookSink

    @property
    def state_machine_arn(self) -> str:
        return self.outputs[tpl.OUT_STATE_MACHINE_ARN]

    @property
    def topic_arn(self) -> str:
        return self.outputs[tpl.OUT_TOPIC_ARN]

    def review_link(self, approval_id: str) -> str | None:
        """The review link of an approval, read from the Slack message it was sent in.

        The link leaves the approval function only inside its messages, so a local run
        finds it where an approver does: in the Slack channel (here, the sink's payloads).
        """
        base = self.outputs.get(tpl.OUT_REVIEW_URL_BASE, "").rstrip("/")
        for payload in reversed(self.slack.payloads):
            for url in _urls(payload):
                query = parse_qs(urlsplit(url).query)
                if url.startswith(base) and query.get("id") == [approval_id]:
                    return url
        return None


def _urls(value: Any) -> Iterator[str]:
    """Every "url" string in a Block Kit payload."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                yield item
            else:
                yield from _urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _urls(item)


def workflow_template(settings: Settings, asl_text: str) -> dict[str, Any]:
    """The template `mlops template` prints, from an already built ASL (no SDK import)."""
    return tpl.build_template(settings, asl_text, placeholders_in(asl_text), tpl.schedule_input())


@contextmanager
def deploy_locally(
    target: Target,
    settings: Settings,
    asl_text: str,
    log: Callable[[str], None] = lambda _line: None,
    parameters: Mapping[str, str] | None = None,
) -> Iterator[LocalWorkflow]:
    """Deploy the workflow stack; Slack's stand-in listens for the block's duration.

    `parameters` are more of the template's parameters (e.g. PollSeconds for `mlops up`).
    """
    template = workflow_template(settings, asl_text)
    stack_name = names.stack_name(settings)
    with webhook_sink() as slack:
        webhook_secret = target.client("secretsmanager").create_secret(
            Name=f"{settings.project}/slack-webhook-url",
            Description="Slack incoming webhook of the approval messages (local stand-in)",
            SecretString=slack.url,
        )["ARN"]
        target.client("ses").verify_email_identity(EmailAddress=EMAIL_FROM)
        parameters = {
            tpl.SAGEMAKER_ROLE_ARN: settings.role_arn,
            tpl.SLACK_WEBHOOK_SECRET_ARN: webhook_secret,
            tpl.APPROVAL_EMAIL: EMAIL_TO,
            tpl.APPROVAL_EMAIL_SENDER: EMAIL_FROM,
            tpl.APPROVERS: EMAIL_TO,
            **(parameters or {}),
        }
        result = deploy_workflow_stack(target, settings, template, stack_name, parameters, log=log)
        resources = stack_resources(target.client("cloudformation"), stack_name)
        yield LocalWorkflow(stack_name, template, result.outputs, resources, slack)
