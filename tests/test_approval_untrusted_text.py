"""A person's words in approvals: cleaned where they enter, escaped where Slack shows them.

Names and comments come from a form anyone with a link can fill in, or from a Slack profile.
Stored, they reach the review page, Slack, Step Functions' output and the local run's
terminal and summary.json; none of those may be steered by them: no Slack link or
`<!channel>` ping from a name, no terminal escape, no bidi override reordering what is shown.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from approval import slack
from approval.messages import slack_decision_message, slack_request_message
from approval.model import APPROVED, PENDING, Approval, QualityGate, clean_text

#: Slack markup a name or model could carry: a ping, a disguised link, a user mention, an entity.
HOSTILE = "<!channel> <https://evil.example/|click here> <@U0ADMIN> &amp; &"
ESCAPED = (
    "&lt;!channel&gt; &lt;https://evil.example/|click here&gt; &lt;@U0ADMIN&gt; &amp;amp; &amp;"
)
#: What no stored name or comment may contain (see approval.model._UNSAFE).
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
C1 = "".join(map(chr, range(0x80, 0xA0)))
C0 = "".join(map(chr, range(0x20))) + "\x7f"


@pytest.mark.parametrize(
    ("raw", "name", "comment"),
    [
        ("ana@example.com", "ana@example.com", "ana@example.com"),
        ("  Ana \t Lopes \n", "Ana Lopes", "Ana \t Lopes"),
        ("Ana Łopes-Ñúñez 李 😀 👩‍💻", "Ana Łopes-Ñúñez 李 😀 👩‍💻", "Ana Łopes-Ñúñez 李 😀 👩‍💻"),
        # Trojan Source: shown as "admin" and "invoiceexe.pdf" while the override applies.
        ("\u202enimda", "nimda", "nimda"),
        ("invoice\u202efdp.exe", "invoicefdp.exe", "invoicefdp.exe"),
        ("a\u2066b\u2069c\u200fd\u061ce", "abcde", "abcde"),
        # Terminal escapes: 7-bit ESC sequences, the 8-bit CSI (U+009B), NEL and OSC 8 links.
        ("\x1b[2J\x1b[31mred\x1b[0m", "[2J[31mred[0m", "[2J[31mred[0m"),
        ("\x9b2J\x9dbad\x9c\x85x", "2Jbadx", "2Jbadx"),
        ("\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", "]8;;https://evil.examplelink]8;;",
         "]8;;https://evil.examplelink]8;;"),
        # Backspaces and carriage returns that would overwrite what a terminal showed.
        ("approved\rREJECTED\b\b", "approved REJECTED", "approved\nREJECTED"),
        # Line breaks: one line for a name, kept (as LF) in a comment.
        ("line 1\r\nline 2\u2028line 3\u2029line 4\vend\f", "line 1 line 2 line 3 line 4 end",
         "line 1\nline 2\nline 3\nline 4end"),
        ("a\x00b\x07c\x7fd", "abcd", "abcd"),
        ("lone \ud800surrogate", "lone surrogate", "lone surrogate"),
        (C0 + C1 + BIDI, "", ""),
        # Slack and HTML markup are text, not control characters: escaped where shown.
        (HOSTILE, HOSTILE, HOSTILE),
        ('<script>alert("x")</script>', '<script>alert("x")</script>',
         '<script>alert("x")</script>'),
    ],
)  # fmt: skip
def test_clean_text_removes_what_no_escaping_makes_harmless(raw, name, comment):
    assert clean_text(raw) == name
    assert clean_text(raw, multiline=True) == comment
    assert clean_text(name) == name and clean_text(comment, multiline=True) == comment


# -- Slack messages ------------------------------------------------------------------------------


def _approval(**changes: Any) -> Approval:
    fields = {
        "approval_id": "abc",
        "status": PENDING,
        "execution_arn": "arn:aws:states:us-east-1:1:execution:m:run-1",
        "pipeline_execution_arn": f"arn:aws:sagemaker:us-east-1:1:pipeline/p/execution/{HOSTILE}",
        "model_package_arn": f"arn:aws:sagemaker:us-east-1:1:model-package/{HOSTILE}/3",
        "metrics": {"regression_metrics": {HOSTILE: {"value": 1.0}, "mse": {"value": 2.0}}},
        "quality_gate": QualityGate("mse", 6.0, "LessThanOrEqualTo"),
        "approvers": HOSTILE,
        "created_at": "2024-01-01T00:00:00Z",
        "expires_at": int(time.time()) + 600,
    }
    return Approval(**{**fields, **changes})


def _slack_texts(message: Any) -> Iterator[str]:
    """Every string Slack parses for markup: top-level and mrkdwn `text`s, at any depth."""
    if isinstance(message, dict):
        if isinstance(message.get("text"), str) and message.get("type") in (None, "mrkdwn"):
            yield message["text"]
        for value in message.values():
            yield from _slack_texts(value)
    elif isinstance(message, list):
        for value in message:
            yield from _slack_texts(value)


def _assert_escaped(message: dict[str, Any], expected: int) -> None:
    """No Slack markup of HOSTILE's in `message`, and `expected` pings shown as text."""
    texts = list(_slack_texts(message))
    for text in texts:
        for markup in ("<!channel>", "<https://", "<@U0ADMIN>", "& "):
            assert markup not in text, text
    assert sum(text.count("&lt;!channel&gt;") for text in texts) == expected, texts


def test_the_request_message_escapes_everything_not_ours():
    message = slack_request_message(_approval(), "https://example.test/review?id=abc")
    # The label (fallback text, two confirmations), both ARNs, the approvers, a metric name.
    _assert_escaped(message, expected=7)


def test_the_decision_message_escapes_the_deciders_name_and_the_callback_error():
    decided = _approval(
        status=APPROVED,
        decided_by=HOSTILE,
        decided_at="2024-01-01T00:00:01Z",
        callback="failed",
        callback_error=HOSTILE,
    )
    message = slack_decision_message(decided)
    # The label, the name and the callback error, in the text and again in its section.
    _assert_escaped(message, expected=6)


def test_escape_follows_slacks_three_rules_only():
    assert slack.escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert slack.escape("&lt;") == "&amp;lt;"  # the person typed an entity: shown as typed
    assert slack.escape("*bold* _it_ `code` \"q\" 'a'") == "*bold* _it_ `code` \"q\" 'a'"


# -- end to end: the form and Slack's buttons ----------------------------------------------------


@pytest.fixture
def slack_secret(approval_stack: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    secret = secrets.token_hex(16)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    return secret


def _click(stack: Any, secret: str, approval_id: str, action: str, user: dict[str, str]) -> Any:
    payload = {
        "type": "block_actions",
        "user": user,
        "actions": [{"action_id": action, "value": approval_id, "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack.signature(secret, timestamp, body),
    }
    return stack.http("POST", "/slack", body=body, headers=headers)


def _visible(text: str) -> None:
    """Nothing that reorders or controls what a page or terminal shows."""
    assert not set(text) & set(BIDI + C1 + C0.replace("\n", "")), ascii(text)


def test_the_already_decided_notice_in_slack_escapes_the_deciders_name(
    approval_stack, slack_secret
):
    approval_id = approval_stack.open()["approvalId"]
    expires_at = int(approval_stack.item(approval_id)["expires_at"]["N"])
    first = approval_stack.decide(approval_id, expires_at, decided_by=HOSTILE)
    assert first.status == 502  # decided; the fake task token cannot resume anything

    reply = _click(approval_stack, slack_secret, approval_id, "reject", {"id": "U1", "name": "bo"})

    assert reply.status == 200, reply.text
    notice = json.loads(reply.text)
    assert notice["response_type"] == "ephemeral"
    assert f"already approved by {ESCAPED} at" in notice["text"], notice["text"]
    _assert_escaped(notice, expected=1)
    assert approval_stack.item(approval_id)["decided_by"]["S"] == HOSTILE  # stored as typed


def test_a_hostile_slack_profile_is_cleaned_and_escaped(approval_stack, slack_secret):
    approval_id = approval_stack.open()["approvalId"]
    user = {"id": "U1\u202e", "username": f"\x1b[2J{HOSTILE}\u202e\x9b\n"}

    reply = _click(approval_stack, slack_secret, approval_id, "approve", user)

    assert reply.status == 200, reply.text
    stored = approval_stack.item(approval_id)["decided_by"]["S"]
    assert stored == f"[2J{HOSTILE} (Slack U1)"
    _visible(stored)
    message = json.loads(reply.text)
    assert f"by [2J{ESCAPED} (Slack U1) at" in message["text"]
    _assert_escaped(message, expected=2)


def test_bidi_and_control_characters_never_reach_the_record_the_workflow_or_the_page(
    approval_stack,
):
    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"untrusted-{approval_stack.suffix}"
    )
    name = "\u202eana\u202c \x1b[31m\x9b1m@example.com\x85"
    comment = "ok\u2066 but\r\nsee \x1b]8;;https://evil.example\x07this\x1b]8;;\x07\u200f\x00"

    reply = approval_stack.decide(approval_id, expires_at, decided_by=name, comment=comment)

    assert reply.status == 200, reply.text
    item = approval_stack.item(approval_id)
    assert item["decided_by"]["S"] == "ana [31m1m@example.com"
    assert item["comment"]["S"] == "ok but\nsee ]8;;https://evil.examplethis]8;;"
    output = json.loads(approval_stack.wait_for_execution(execution_arn)["output"])
    assert (output["decided_by"], output["comment"]) == (
        item["decided_by"]["S"],
        item["comment"]["S"],
    )
    review = approval_stack.http(
        "GET", "/review", query=approval_stack.review_query(approval_id, expires_at)
    )
    for page in (reply.text, review.text):
        assert "ana [31m1m@example.com" in page
        _visible(page)
