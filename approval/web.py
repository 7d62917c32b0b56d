"""Lambda Function URL plumbing: the request (payload format 2.0) in, the response out.

Kept apart from routing so the handler reads as a list of routes, and so the local HTTP
adapter and the tests build exactly the event shape AWS sends.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from approval.config import MAX_BODY_BYTES
from approval.model import Approval

#: Sent with every HTML page: nothing loads, nothing frames it, nothing caches or leaks it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # img-src data: only for the PNG a picture embeds (approval/svg.py allows no other).
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
#: A form or query with more fields than this is not one of ours.
MAX_FIELDS = 20


class HttpError(Exception):
    """An error the reviewer sees as a page with this status; nothing was changed.

    `reason` is the short, fixed word the refusal is logged under (e.g. "bad_signature"); by
    default the title in snake case. It never carries request data.
    """

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        *,
        reason: str = "",
        approval: Approval | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.message = message
        self.reason = reason or "_".join(title.lower().split())
        self.approval = approval
        self.headers = headers or {}


@dataclass(frozen=True)
class Request:
    """The parts of a Function URL event the routes use."""

    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    raw_body: str = ""
    base64_body: bool = False
    source_ip: str = ""

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        http = event.get("requestContext", {}).get("http", {})
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        return cls(
            method=str(http.get("method", "GET")).upper(),
            path=event.get("rawPath") or http.get("path") or "/",
            raw_query=event.get("rawQueryString") or "",
            headers=headers,
            raw_body=event.get("body") or "",
            base64_body=bool(event.get("isBase64Encoded")),
            source_ip=str(http.get("sourceIp", "")),
        )

    def query(self) -> dict[str, str]:
        """The query's fields (first value of each); 400 if it is not one of ours."""
        return _pairs(self.raw_query)

    def body(self) -> bytes:
        """The raw body, refused (413) beyond MAX_BODY_BYTES."""
        # Base64 inflates by 4/3: a longer text cannot decode to an acceptable body.
        limit = MAX_BODY_BYTES * 4 // 3 + 4 if self.base64_body else MAX_BODY_BYTES
        if len(self.raw_body) > limit:
            raise _too_large()
        try:
            data = (
                base64.b64decode(self.raw_body, validate=True)
                if self.base64_body
                else self.raw_body.encode()
            )
        except (binascii.Error, ValueError):
            raise HttpError(
                400, "Bad request", "The request body is not valid.", reason="bad_body"
            ) from None
        if len(data) > MAX_BODY_BYTES:
            raise _too_large()
        return data

    def form(self) -> dict[str, str]:
        """The url-encoded form fields (first value of each); 415 for any other body type."""
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM_TYPE:
            raise HttpError(
                415,
                "Unsupported form",
                f"Send the form as {FORM_TYPE}, as the review page does.",
                reason="not_a_form",
            )
        try:
            return _pairs(self.body().decode())
        except UnicodeDecodeError:
            raise HttpError(
                400, "Bad request", "The form could not be read.", reason="bad_form"
            ) from None


def _pairs(encoded: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    try:
        fields = parse_qsl(encoded, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise HttpError(400, "Bad request", "Too many fields.", reason="too_many_fields") from None
    for name, value in fields:
        pairs.setdefault(name, value)
    return pairs


def _too_large() -> HttpError:
    return HttpError(
        413,
        "Request too large",
        f"Requests are limited to {MAX_BODY_BYTES // 1024} KiB.",
        reason="too_large",
    )


def html_response(status: int, page: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": HTML_TYPE, **SECURITY_HEADERS, **(headers or {})},
        "body": page,
        "isBase64Encoded": False,
    }


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_TYPE, "Cache-Control": "no-store", **(headers or {})},
        "body": json.dumps(payload),
        "isBase64Encoded": False,
    }
