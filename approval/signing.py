"""Signed, expiring links: HMAC-SHA256 over (approval id, action, expiry).

A link names an approval by its short random id and proves, by its signature, that this
function issued it for one action until one moment. Changing any of the three breaks the
signature, so a review link cannot be turned into an approval or have its life extended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from approval.model import APPROVE, REJECT, REVIEW

ACTIONS = (REVIEW, APPROVE, REJECT)


def sign(key: bytes, approval_id: str, action: str, expires_at: int) -> str:
    """The base64url (unpadded) HMAC-SHA256 of the link's three fields."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    message = f"{approval_id}\n{action}\n{int(expires_at)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, approval_id: str, action: str, expires_at: int, signature: str) -> bool:
    """Whether `signature` is ours for these fields, compared in constant time."""
    if action not in ACTIONS or not signature:
        return False
    expected = sign(key, approval_id, action, expires_at)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def review_url(base_url: str, key: bytes, approval_id: str, expires_at: int) -> str:
    """The link sent to reviewers: it shows the review page and decides nothing."""
    query = urlencode(
        {"id": approval_id, "exp": expires_at, "sig": sign(key, approval_id, REVIEW, expires_at)}
    )
    return f"{base_url}/review?{query}"


def redact(signature: str) -> str:
    """A signature as it may appear in logs: enough to correlate, too little to replay."""
    return f"{signature[:6]}…" if signature else "(none)"
