"""Only this start's credentials get in: the check in front of moto's server.

moto serves whoever connects and does not check signatures, so on a shared machine any local
process could read secrets or send task tokens through it. Each local AWS generates
credentials per start (`localaws.accounts.Account`) and this WSGI layer lets a request through
only when the access key id it is signed with (SigV4 `Authorization` header, or
`X-Amz-Credential` of a presigned URL) is that key; it then names the account for moto with
moto's own `x-moto-account-id` header, so each local AWS is an account of its own. Anything
else gets the error AWS gives for an unknown or missing key, in the protocol of the service it
was signed for, so SDKs raise it as on AWS. moto's own `/moto-api` is closed to the network:
the local AWS configures and resets moto in-process.

Error codes and statuses (AWS docs, "Common errors" of the Query and JSON APIs; S3 "Error
responses"): InvalidClientTokenId 403 (query protocol), UnrecognizedClientException 400 (JSON
protocols), InvalidAccessKeyId 403 (S3), MissingAuthenticationToken 403 when unsigned.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from localaws.accounts import Account

_SIGV4 = re.compile(r"Credential=([^/,\s]+)/[^/]*/[^/]*/([^/,\s]+)/")
#: Signing names of services speaking the query protocol (XML errors in <ErrorResponse>).
_QUERY = frozenset(
    {"cloudformation", "sns", "ses", "iam", "sts", "autoscaling", "ec2", "elasticloadbalancing"}
)
#: Signing names of services speaking rest-json (error code in a header).
_REST_JSON = frozenset({"lambda", "scheduler", "apigateway", "execute-api"})
_INVALID = "The security token included in the request is invalid."
_MISSING = "Missing Authentication Token"
_UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."

StartResponse = Callable[..., Any]


class CredentialCheck:
    """WSGI middleware: requests signed with the allowed account's key reach `app`."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]):
        self._app = app
        self._account: Account | None = None

    def allow(self, account: Account) -> None:
        self._account = account

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)  # only this layer names the account
        account = self._account
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return _refuse(start_response, "query", signed=True, key="")
        key, service = signing_key(environ)
        if key is None or account is None:
            return _refuse(start_response, _protocol(service, environ), signed=False, key="")
        if not secrets.compare_digest(key, account.access_key_id):
            return _refuse(start_response, _protocol(service, environ), signed=True, key=key)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = account.account_id
        return self._app(environ, start_response)


def signing_key(environ: dict[str, Any]) -> tuple[str | None, str]:
    """(access key id, signing service name) of a SigV4-signed or presigned request."""
    match = _SIGV4.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        match = _SIGV4.search(f"Credential={credential}")
    if match is None:
        return None, ""
    return match.group(1), match.group(2)


def _protocol(service: str, environ: dict[str, Any]) -> str:
    """The wire protocol an SDK expects the error in: from the signing name, else the shape."""
    if service:
        if service == "s3":
            return "rest-xml"
        if service in _QUERY:
            return "query"
        return "rest-json" if service in _REST_JSON else "json"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return "query"
    # Lambda and Scheduler paths are versioned or named resources; anything else is S3's.
    path = environ.get("PATH_INFO", "")
    return (
        "rest-json"
        if path.startswith(("/2015-03-31/", "/2021-10-31/", "/schedules"))
        else ("rest-xml")
    )


def _refuse(start_response: StartResponse, protocol: str, *, signed: bool, key: str) -> list[bytes]:
    request_id = str(uuid.uuid4())
    if protocol == "rest-xml":
        code, message = (
            ("InvalidAccessKeyId", _UNKNOWN_KEY) if signed else ("AccessDenied", "Access Denied")
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<AWSAccessKeyId>{escape(key)}</AWSAccessKeyId>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return _send(start_response, "403 Forbidden", "application/xml", body, request_id)
    if protocol == "query":
        code = "InvalidClientTokenId" if signed else "MissingAuthenticationToken"
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{_INVALID if signed else _MISSING}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return _send(start_response, "403 Forbidden", "text/xml", body, request_id)
    code = "UnrecognizedClientException" if signed else "MissingAuthenticationTokenException"
    message = _INVALID if signed else _MISSING
    if protocol == "rest-json":
        document = json.dumps({"message": message, "Type": "User"})
        return _send(
            start_response, "403 Forbidden", "application/json", document, request_id, code
        )
    document = json.dumps({"__type": code, "message": message})
    status = "400 Bad Request" if signed else "403 Forbidden"
    return _send(start_response, status, "application/x-amz-json-1.1", document, request_id, code)


def _send(
    start_response: StartResponse,
    status: str,
    content_type: str,
    body: str,
    request_id: str,
    error_type: str | None = None,
) -> list[bytes]:
    data = body.encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", request_id),
    ]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    start_response(status, headers)
    return [data]
