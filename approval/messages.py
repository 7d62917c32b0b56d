"""Approval messages to the approvers: Slack (incoming webhook) and email (SES), each optional.

Every message carries the review link and never the task token. In Slack text, everything
not written here (model package, ARNs, names, metric names, error codes) goes through
`slack.escape` (`_mrkdwn` here): nobody's input can add a link or a mention. A channel that
fails is logged (by error type, never with its URL or secret) and does not stop the others;
if every configured channel fails, `notify` raises so the state machine can catch and retry.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from approval import aws, pages
from approval.config import HTTP_TIMEOUT_SECONDS, Config
from approval.model import APPROVE, APPROVED, REJECT, REVIEW, Approval, format_number
from approval.slack import escape as _mrkdwn

SLACK = "slack"
EMAIL = "email"

_LOG = logging.getLogger(__name__)


class NotificationFailed(RuntimeError):
    """No configured channel delivered the request for approval."""


def notify(config: Config, approval: Approval, review_url: str) -> list[str]:
    """Send on every configured channel; the names of those that delivered, in order.

    With no channel configured, nothing is sent and [] is returned, with a warning: the link
    leaves the function only in its messages, so nobody can open the page until the approval
    times out: configure at least one channel (README, "How approvers receive and use links").
    """
    senders = []
    if config.slack_webhook.configured:
        senders.append((SLACK, send_slack))
    if config.email_configured:
        senders.append((EMAIL, send_email))
    if not senders:
        _LOG.warning("approval %s: no notification channel configured", approval.approval_id)
        return []
    delivered, failures = [], []
    for channel, send in senders:
        try:
            send(config, approval, review_url)
        except Exception as exc:  # one channel's failure must not block the next
            reason = describe_failure(exc)
            failures.append(f"{channel}: {reason}")
            _LOG.warning(
                "approval %s: %s notification failed: %s", approval.approval_id, channel, reason
            )
        else:
            delivered.append(channel)
    if not delivered:
        raise NotificationFailed("no notification channel delivered: " + "; ".join(failures))
    return delivered


def send_slack(config: Config, approval: Approval, review_url: str) -> None:
    post_json(aws.secret(config.slack_webhook), slack_request_message(approval, review_url))


def send_email(config: Config, approval: Approval, review_url: str) -> None:
    message = email_message(approval, review_url, config.email_from, config.email_to)
    aws.client("ses").send_raw_email(
        Source=config.email_from,
        Destinations=list(config.email_to),
        RawMessage={"Data": message.as_bytes()},
    )


def post_json(url: str, payload: dict[str, Any], timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
    """POST JSON with the standard library; any non-2xx status raises HTTPError."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def describe_failure(exc: BaseException) -> str:
    """Why a channel failed, without the URL or any secret that the exception may carry."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable ({type(exc.reason).__name__})"
    return aws.error_code(exc)


def slack_request_message(approval: Approval, review_url: str) -> dict[str, Any]:
    """Block Kit: the facts, a button to the review page, Approve/Reject with confirmation.

    The Approve/Reject buttons post to the app's interactivity URL (`/slack`) with the
    approval id as value; Slack signs those requests, so they need no link signature.
    """
    label = _mrkdwn(approval.model_package_label)
    summary = (
        f"*Model package:* `{_mrkdwn(approval.model_package_arn)}`\n"
        f"*Pipeline execution:* `{_mrkdwn(approval.pipeline_execution_arn)}`\n"
        + (f"*Why this run:* {_mrkdwn(approval.trigger)}\n" if approval.trigger else "")
        + f"*Asked:* {_mrkdwn(approval.approvers)} · *link expires* {approval.expires_at_iso}"
    )
    return {
        "text": f"Approval needed: model package {label}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Model approval needed"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _metrics_text(approval)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _champion_text(approval)}},
            {
                "type": "actions",
                "block_id": f"approval:{approval.approval_id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": REVIEW,
                        "text": {"type": "plain_text", "text": "Review"},
                        "url": review_url,
                    },
                    _decision_button(approval, APPROVE, "primary"),
                    _decision_button(approval, REJECT, "danger"),
                ],
            },
        ],
    }


def slack_decision_message(approval: Approval) -> dict[str, Any]:
    """What replaces the request in Slack once decided (buttons gone, outcome stated)."""
    mark = ":white_check_mark:" if approval.status == APPROVED else ":x:"
    text = (
        f"{mark} Model package {_mrkdwn(approval.model_package_label)} "
        f"*{approval.status.lower()}* by {_mrkdwn(approval.decided_by)} at {approval.decided_at}"
    )
    if approval.callback_error:
        error = _mrkdwn(approval.callback_error)
        text += f"\n:warning: The workflow could not be resumed: {error}"
    return {
        "replace_original": True,
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def email_message(
    approval: Approval, review_url: str, sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    """multipart/alternative: plain text first, then the HTML rendering of the same facts."""
    message = EmailMessage()
    message["Subject"] = f"Approval needed: model package {approval.model_package_label}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(_email_text(approval, review_url))
    message.add_alternative(pages.email_html(approval, review_url), subtype="html")
    return message


def _email_text(approval: Approval, review_url: str) -> str:
    lines = [
        f"A new model package waits for a human decision: {approval.model_package_label}.",
        f"You are asked as one of {approval.approvers}.",
        "",
        f"Review it, then approve or reject: {review_url}",
        f"The link expires {approval.expires_at_iso}.",
        "",
        f"Model package:      {approval.model_package_arn}",
        f"Pipeline execution: {approval.pipeline_execution_arn}",
        f"Workflow execution: {approval.execution_arn}",
        *([f"Why this run:       {approval.trigger}"] if approval.trigger else []),
        f"Quality gate:       {approval.quality_gate.describe()}",
        "",
        "Metrics:",
    ]
    for row in approval.metric_rows():
        verdict = "" if row.gate is None else f"  [{row.gate}: {row.verdict}]"
        lines.append(
            f"  {row.name:<6} {format_number(row.value):>10} "
            f"(std {format_number(row.standard_deviation)}){verdict}"
        )
    lines += ["", *champion_lines(approval)]
    return "\n".join(lines) + "\n"


def champion_lines(approval: Approval) -> list[str]:
    """The challenger against the champion in plain text: a heading, then one line a metric."""
    rows = approval.champion_rows()
    if not rows:
        note = approval.champion_note
        return [f"Against the champion: {note}"] if note else []
    lines = [f"Against the champion, {approval.champion_label}, on the same test rows:"]
    for row in rows:
        better = {"same": "the same"}.get(row.better, f"{row.better} better")
        difference = "n/a" if row.difference is None else f"{row.difference:+.4g}"
        lines.append(
            f"  {row.name:<6} {format_number(row.challenger):>10} against "
            f"{format_number(row.champion):>10} ({difference}, {better})"
        )
    return lines


def _metrics_text(approval: Approval) -> str:
    lines = [f"*Metrics* (gate: {_mrkdwn(approval.quality_gate.describe())})"]
    for row in approval.metric_rows():
        verdict = "" if row.gate is None else f" — {row.verdict}"
        lines.append(
            f"• {_mrkdwn(row.name)}: {format_number(row.value)} "
            f"± {format_number(row.standard_deviation)}{verdict}"
        )
    return "\n".join(lines)


def _champion_text(approval: Approval) -> str:
    """The comparison in Slack: the heading in bold, the lines in a code block to align."""
    heading, *rows = champion_lines(approval) or ["Against the champion: not compared"]
    text = f"*{_mrkdwn(heading)}*"
    return text + ("\n```" + _mrkdwn("\n".join(r.strip() for r in rows)) + "```" if rows else "")


def _decision_button(approval: Approval, action: str, style: str) -> dict[str, Any]:
    verb = action.capitalize()
    return {
        "type": "button",
        "action_id": action,
        "style": style,
        "value": approval.approval_id,
        "text": {"type": "plain_text", "text": verb},
        "confirm": {
            "title": {"type": "plain_text", "text": f"{verb} this model?"},
            "text": {
                "type": "mrkdwn",
                "text": f"{verb} model package {_mrkdwn(approval.model_package_label)}? "
                "This cannot be undone.",
            },
            "confirm": {"type": "plain_text", "text": verb},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": style,
        },
    }
