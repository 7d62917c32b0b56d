"""Slack interactivity: proving a button click came from Slack, and reading what it was.

Slack signs each request with the app's signing secret: `v0=` + hex HMAC-SHA256 of
`v0:{X-Slack-Request-Timestamp}:{raw body}`. A request is accepted only if that matches (in
constant time) and the timestamp is within five minutes, so a captured request cannot be
replayed later. See https://api.slack.com/authentication/verifying-requests-from-slack.

Text going the other way, into Slack, is escaped with `escape` wherever it holds anything
that is not ours, and the clicking user's name is cleaned (`clean_text`) before it is used.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from approval.config import SLACK_MAX_SKEW_SECONDS
from approval.model import clean_text

VERSION = "v0"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
#: Slack's response_url always points here; anything else is not Slack's and is not called.
RESPONSE_URL_HOST = "hooks.slack.com"


class SlackRequestRefused(Exception):
    """The request is not provably from Slack (or is stale); the message says which check."""


@dataclass(frozen=True)
class Interaction:
    """One button click: which action, on which approval, by whom."""

    action: str
    approval_id: str
    user: str
    response_url: str = ""


def escape(text: str) -> str:
    """`text` shown literally in a Slack message: no links, mentions or `<!channel>` pings.

    Slack parses `&`, `<` and `>` as control characters in message text and mrkdwn, and asks
    for exactly these three to be replaced by HTML entities, no others
    (https://api.slack.com/reference/surfaces/formatting#escaping). `&` goes first, so the
    entities made for `<` and `>` are not escaped again.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's `X-Slack-Signature` for this timestamp and raw body."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify(
    signing_secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    """Raise SlackRequestRefused unless Slack signed this body within the allowed skew."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not given:
        raise SlackRequestRefused("missing Slack signature headers")
    try:
        skew = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        raise SlackRequestRefused("malformed Slack timestamp") from None
    if skew > SLACK_MAX_SKEW_SECONDS:
        raise SlackRequestRefused("stale Slack timestamp")
    expected = signature(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise SlackRequestRefused("bad Slack signature")


def parse_interaction(body: bytes) -> Interaction:
    """The first action of a `block_actions` payload (`payload=<json>`, form-encoded)."""
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=5))
    try:
        payload = json.loads(fields["payload"])
        action = payload["actions"][0]
        user = payload.get("user") or {}
        name = clean_text(str(user.get("username") or user.get("name") or ""))
        user_id = clean_text(str(user.get("id") or ""))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        raise ValueError("not a Slack block_actions payload") from None
    who = f"{name} (Slack {user_id})" if name and user_id else name or f"Slack {user_id}"
    return Interaction(
        action=str(action.get("action_id", "")),
        approval_id=str(action.get("value", "")),
        user=who,
        response_url=str(payload.get("response_url", "")),
    )


def is_slack_response_url(url: str) -> bool:
    """Only Slack's own hooks host gets our follow-up message (no request forgery to elsewhere)."""
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname == RESPONSE_URL_HOST
