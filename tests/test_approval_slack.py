"""Slack's interactive buttons: verified with the signing secret, then the same decision path."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from approval import slack

#: Slack's own worked example (api.slack.com/authentication/verifying-requests-from-slack).
SLACK_EXAMPLE_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_EXAMPLE_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
    b"47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_EXAMPLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_signature_matches_slacks_worked_example():
    assert slack.signature(SLACK_EXAMPLE_SECRET, "1531420618", SLACK_EXAMPLE_BODY) == (
        SLACK_EXAMPLE_SIGNATURE
    )
    headers = {
        slack.TIMESTAMP_HEADER: "1531420618",
        slack.SIGNATURE_HEADER: SLACK_EXAMPLE_SIGNATURE,
    }
    slack.verify(SLACK_EXAMPLE_SECRET, headers, SLACK_EXAMPLE_BODY, now=1531420618 + 299)
    with pytest.raises(slack.SlackRequestRefused, match="stale"):
        slack.verify(SLACK_EXAMPLE_SECRET, headers, SLACK_EXAMPLE_BODY, now=1531420618 + 301)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/actions/T1/123/abc", True),
        ("http://hooks.slack.com/actions/T1/123/abc", False),
        ("https://hooks.slack.com.evil.example/actions", False),
        ("https://evil.example/?hooks.slack.com", False),
        ("http://127.0.0.1:9/", False),
    ],
)
def test_only_slacks_own_response_urls_are_called_back(url, allowed):
    assert slack.is_slack_response_url(url) is allowed


@pytest.fixture
def slack_secret(approval_stack, monkeypatch) -> str:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    return secret


def click_body(approval_id: str, action: str, response_url: str = "") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ana.l", "name": "ana.l"},
        "response_url": response_url,
        "actions": [{"action_id": action, "value": approval_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def post_click(stack, secret: str, body: bytes, *, timestamp: int | None = None, sig=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if secret:
        headers["X-Slack-Request-Timestamp"] = str(timestamp)
        headers["X-Slack-Signature"] = sig or slack.signature(secret, str(timestamp), body)
    return stack.http("POST", "/slack", body=body, headers=headers)


def test_signed_click_decides_and_resumes_the_execution(approval_stack, slack_secret):
    # A response_url that is not Slack's must not be called: stand one up and watch it.
    contacted = threading.Event()

    class Watcher(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            contacted.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    watcher = ThreadingHTTPServer(("127.0.0.1", 0), Watcher)
    threading.Thread(target=watcher.serve_forever, args=(0.05,), daemon=True).start()
    execution_arn, approval_id, _ = approval_stack.start_workflow(f"slack-{approval_stack.suffix}")
    body = click_body(approval_id, "approve", f"http://127.0.0.1:{watcher.server_address[1]}/hook")
    try:
        reply = post_click(approval_stack, slack_secret, body)
    finally:
        watcher.shutdown()
        watcher.server_close()

    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    message = json.loads(reply.text)
    assert message["replace_original"] is True
    assert "*approved* by ana.l (Slack U024BE7LH)" in message["text"]
    assert not contacted.is_set()
    item = approval_stack.item(approval_id)
    assert item["status"]["S"] == "APPROVED" and item["decided_via"]["S"] == "slack"
    assert item["decided_by"]["S"] == "ana.l (Slack U024BE7LH)"
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["decided_by"] == "ana.l (Slack U024BE7LH)"

    again = post_click(approval_stack, slack_secret, click_body(approval_id, "reject"))
    assert again.status == 200
    assert "already approved by ana.l (Slack U024BE7LH)" in json.loads(again.text)["text"]
    assert len(approval_stack.callbacks) == 1


@pytest.mark.parametrize("case", ["forged", "stale", "future", "unsigned", "other-secret"])
def test_unverifiable_clicks_are_refused_and_change_nothing(approval_stack, slack_secret, case):
    approval_id = approval_stack.open()["approvalId"]
    before = approval_stack.item(approval_id)
    body = click_body(approval_id, "approve")
    now = int(time.time())
    reply = {
        "forged": lambda: post_click(approval_stack, slack_secret, body, sig="v0=" + "0" * 64),
        "stale": lambda: post_click(approval_stack, slack_secret, body, timestamp=now - 301),
        "future": lambda: post_click(approval_stack, slack_secret, body, timestamp=now + 301),
        "unsigned": lambda: post_click(approval_stack, "", body),
        "other-secret": lambda: post_click(approval_stack, secrets.token_hex(16), body),
    }[case]()

    assert reply.status == 403
    assert approval_stack.item(approval_id) == before
    assert approval_stack.callbacks == []


def test_review_button_click_is_acknowledged_without_deciding(approval_stack, slack_secret):
    approval_id = approval_stack.open()["approvalId"]
    before = approval_stack.item(approval_id)
    reply = post_click(approval_stack, slack_secret, click_body(approval_id, "review"))
    assert reply.status == 200
    assert approval_stack.item(approval_id) == before


def test_slack_route_is_off_without_a_signing_secret(approval_stack):
    approval_id = approval_stack.open()["approvalId"]
    body = click_body(approval_id, "approve")
    reply = post_click(approval_stack, secrets.token_hex(16), body)
    assert reply.status == 404
    assert approval_stack.item(approval_id)["status"]["S"] == "PENDING"
