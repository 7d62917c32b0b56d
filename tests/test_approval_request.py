"""Opening an approval: the stored record, the notifications, and what must never leak."""

from __future__ import annotations

import email
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from approval.config import ConfigError
from approval.handler import lambda_handler
from approval.messages import NotificationFailed
from approval.signing import verify

SENDER = "mlops@example.com"
RECIPIENTS = ("ana@example.com", "bo@example.com")


@dataclass
class FakeSlack:
    """An incoming-webhook stand-in on 127.0.0.1 that records what it is sent."""

    url: str = ""
    status: int = 200
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def slack_webhook() -> Iterator[FakeSlack]:
    fake = FakeSlack()

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.received.append(json.loads(body))
            self.send_response(fake.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    port = server.server_address[1]
    fake.url = f"http://127.0.0.1:{port}/services/T000/B000/secret-part"
    yield fake
    server.shutdown()
    server.server_close()


def review_link(slack_message: dict) -> str:
    """The review button's URL in a Slack request message: where an approver finds the link."""
    (actions,) = [b for b in slack_message["blocks"] if b["type"] == "actions"]
    return next(b["url"] for b in actions["elements"] if b["action_id"] == "review")


def sent_emails(stack) -> list[Message]:
    from moto.ses.models import ses_backends

    backend = ses_backends[stack.aws.account_id][stack.aws.region]
    return [email.message_from_string(m.raw_data) for m in backend.sent_messages]


def enable_email(stack, monkeypatch) -> None:
    stack.aws.client("ses").verify_email_identity(EmailAddress=SENDER)
    monkeypatch.setenv("EMAIL_FROM", SENDER)
    monkeypatch.setenv("EMAIL_TO", ", ".join(RECIPIENTS))


def test_request_stores_pending_record_and_sends_a_signed_review_link(
    approval_stack, slack_webhook, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="approval")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url)
    event = approval_stack.event(timeoutSeconds=3600)
    before = int(time.time())
    result = lambda_handler(event, None)

    # The result goes into the execution history: the id, never the link.
    assert set(result) == {"approvalId", "expiresAt", "notified"}
    assert result["notified"] == ["slack"]
    item = approval_stack.item(result["approvalId"])
    assert item["status"]["S"] == "PENDING"
    assert item["task_token"]["S"] == event["taskToken"]
    assert item["execution_arn"]["S"] == event["executionArn"]
    assert item["pipeline_execution_arn"]["S"] == event["pipelineExecutionArn"]
    assert item["model_package_arn"]["S"] == event["modelPackageArn"]
    assert json.loads(item["metrics"]["S"]) == event["metrics"]
    assert json.loads(item["quality_gate"]["S"]) == event["qualityGate"]
    expires_at = int(item["expires_at"]["N"])
    assert before + 3600 <= expires_at <= int(time.time()) + 3600
    assert int(item["purge_at"]["N"]) == expires_at + 30 * 24 * 3600
    assert item["created_at"]["S"].endswith("Z")
    assert len(result["approvalId"]) == 22  # 16 random bytes, base64url

    url = urlsplit(review_link(slack_webhook.received[-1]))
    assert f"{url.scheme}://{url.netloc}" == approval_stack.url and url.path == "/review"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["id"] == result["approvalId"] and int(query["exp"]) == expires_at
    key = approval_stack.signing_secret.encode()
    assert verify(key, query["id"], "review", expires_at, query["sig"])
    assert not verify(key, query["id"], "approve", expires_at, query["sig"])

    assert event["taskToken"] not in json.dumps(result)
    assert event["taskToken"][:40] not in caplog.text
    assert query["sig"] not in caplog.text
    assert result["approvalId"] in caplog.text


@pytest.mark.parametrize(
    ("trigger", "stored"),
    [
        ({"Type": "new-data", "Object": "s3://b/in/x.csv"}, "new data: s3://b/in/x.csv"),
        ({"Type": "drift", "Features": [{"Name": "height"}]}, "data drift in height"),
        ({"Type": "mystery"}, "unknown trigger 'mystery'"),
        ("not an object", "unknown trigger"),
        ({"Type": "new-data", "Object": "s3://b/" + "k" * 500}, None),  # cut to 300
        (None, ""),  # an older state machine sends none
    ],
)
def test_the_trigger_is_stored_as_one_clean_bounded_line(approval_stack, trigger, stored):
    event = approval_stack.event()
    if trigger is None:
        del event["trigger"]
    else:
        event["trigger"] = trigger
    result = lambda_handler(event, None)

    item = approval_stack.item(result["approvalId"])
    line = item.get("trigger", {}).get("S", "")
    if stored is None:
        assert len(line) == 300 and line.endswith("…") and line.startswith("new data: s3://b/k")
    else:
        assert line == stored


def test_link_lifetime_is_the_smaller_of_task_timeout_and_configured_maximum(
    approval_stack, monkeypatch
):
    monkeypatch.setenv("LINK_TTL_SECONDS", "600")
    now = time.time()
    capped = approval_stack.open(timeoutSeconds=604800)
    short = approval_stack.open(timeoutSeconds=120)
    assert int(approval_stack.item(capped["approvalId"])["expires_at"]["N"]) - now == pytest.approx(
        600, abs=2
    )
    assert int(approval_stack.item(short["approvalId"])["expires_at"]["N"]) - now == pytest.approx(
        120, abs=2
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"taskToken": None}, "taskToken"),
        ({"executionArn": None}, "executionArn"),
        ({"pipelineExecutionArn": None}, "pipelineExecutionArn"),
        ({"modelPackageArn": ""}, "modelPackageArn"),
        ({"metrics": None}, "metrics"),
        ({"qualityGate": None}, "qualityGate"),
        ({"qualityGate": {"metric": "mse", "threshold": 6.0}}, "qualityGate.comparison"),
        ({"qualityGate": {"metric": "mse", "comparison": "LessThan"}}, "qualityGate.threshold"),
        ({"timeoutSeconds": None}, "timeoutSeconds"),
        ({"timeoutSeconds": -5}, "timeoutSeconds"),
    ],
)
def test_invalid_request_fails_naming_the_field_and_stores_nothing(approval_stack, change, named):
    event = approval_stack.event()
    for name, value in change.items():
        if value is None:
            del event[name]
        else:
            event[name] = value
    with pytest.raises(ValueError, match=f"'{named}'"):
        lambda_handler(event, None)
    assert approval_stack.items() == []


def test_unrecognised_event_and_missing_configuration_are_clear_errors(approval_stack, monkeypatch):
    with pytest.raises(ValueError, match="unrecognised event"):
        lambda_handler({"hello": "world"}, None)
    monkeypatch.delenv("APPROVAL_BASE_URL")
    with pytest.raises(ConfigError, match="APPROVAL_BASE_URL"):
        approval_stack.open()
    monkeypatch.setenv("APPROVAL_BASE_URL", approval_stack.url)
    monkeypatch.setenv("SIGNING_SECRET", "short")
    with pytest.raises(ConfigError, match="SIGNING_SECRET is too short"):
        approval_stack.open()


def test_email_through_ses_has_text_and_html_parts_with_the_signed_link(
    approval_stack, monkeypatch
):
    enable_email(approval_stack, monkeypatch)
    event = approval_stack.event()
    result = lambda_handler(event, None)

    assert result["notified"] == ["email"]
    (message,) = sent_emails(approval_stack)
    assert message["From"] == SENDER
    assert message["To"] == ", ".join(RECIPIENTS)
    assert "abalone-models v3" in message["Subject"]
    assert message.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    text, html = parts["text/plain"], parts["text/html"]
    link = re.search(r"https?://\S+/review\?\S+", text).group(0)
    query = parse_qs(urlsplit(link).query)
    assert query["id"] == [result["approvalId"]]
    assert link.replace("&", "&amp;") in html
    for body in (text, html):
        assert event["modelPackageArn"] in body
        assert "mse" in body and "passes" in body
        assert event["taskToken"] not in body
        assert "/decision" not in body  # the mail only links to the page; the page decides


def test_slack_webhook_gets_block_kit_with_review_link_and_confirmed_buttons(
    approval_stack, slack_webhook, monkeypatch
):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url)
    event = approval_stack.event()
    result = lambda_handler(event, None)

    assert result["notified"] == ["slack"]
    (message,) = slack_webhook.received
    assert event["taskToken"] not in json.dumps(message)
    assert "abalone-models v3" in message["text"]
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    buttons = {b["action_id"]: b for b in actions["elements"]}
    review = urlsplit(buttons["review"]["url"])
    assert f"{review.scheme}://{review.netloc}{review.path}" == f"{approval_stack.url}/review"
    assert parse_qs(review.query)["id"] == [result["approvalId"]]
    for action, style in (("approve", "primary"), ("reject", "danger")):
        assert buttons[action]["value"] == result["approvalId"]
        assert buttons[action]["style"] == style
        assert {"title", "text", "confirm", "deny"} <= set(buttons[action]["confirm"])
    text = json.dumps(message["blocks"])
    assert "mse: 4.5" in text and "passes" in text


def test_a_failing_channel_does_not_block_the_others_and_is_logged_without_secrets(
    approval_stack, slack_webhook, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="approval")
    slack_webhook.status = 500
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url)
    enable_email(approval_stack, monkeypatch)
    result = approval_stack.open()

    assert result["notified"] == ["email"]
    assert len(slack_webhook.received) == 1 and len(sent_emails(approval_stack)) == 1
    assert "slack notification failed: HTTP 500" in caplog.text
    assert "secret-part" not in caplog.text
    assert approval_stack.item(result["approvalId"])["status"]["S"] == "PENDING"


def test_when_every_channel_fails_the_request_raises_and_the_approval_is_withdrawn(
    approval_stack, slack_webhook, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="approval")
    slack_webhook.status = 503
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url)
    monkeypatch.setenv("EMAIL_FROM", "unverified@example.com")  # SES refuses this sender
    monkeypatch.setenv("EMAIL_TO", RECIPIENTS[0])
    event = approval_stack.event()
    with pytest.raises(NotificationFailed, match="slack: HTTP 503; email: MessageRejected"):
        lambda_handler(event, None)

    (item,) = approval_stack.items()
    assert item["status"]["S"] == "UNDELIVERED"
    assert "task_token" not in item
    assert "secret-part" not in caplog.text
    assert event["taskToken"][:40] not in caplog.text


def test_secrets_come_from_secrets_manager_once_per_container(
    approval_stack, slack_webhook, monkeypatch
):
    import approval.aws

    monkeypatch.setattr(approval.aws, "_SECRETS", {})
    sm = approval_stack.aws.client("secretsmanager")
    arn = sm.create_secret(Name="approval/signing", SecretString=approval_stack.signing_secret)[
        "ARN"
    ]
    monkeypatch.delenv("SIGNING_SECRET")
    monkeypatch.setenv("SIGNING_SECRET_ARN", arn)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_webhook.url)
    first = approval_stack.open()
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    second = approval_stack.open()  # served from the container's cache

    key = approval_stack.signing_secret.encode()
    for result, message in zip((first, second), slack_webhook.received, strict=True):
        query = {k: v[0] for k, v in parse_qs(urlsplit(review_link(message)).query).items()}
        assert query["id"] == result["approvalId"]
        assert verify(key, query["id"], "review", int(query["exp"]), query["sig"])


def test_create_table_declares_the_key_billing_and_ttl(approval_stack):
    db = approval_stack.aws.client("dynamodb")
    table = db.describe_table(TableName=approval_stack.table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "approval_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = db.describe_time_to_live(TableName=approval_stack.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "purge_at"}
