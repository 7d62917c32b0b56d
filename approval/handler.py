"""The approval Lambda: one handler for the state machine's request and for reviewers' HTTP.

Three kinds of events arrive here:

* A request from Step Functions (`lambda:invoke.waitForTaskToken`), recognised by its
  "taskToken". It opens an approval and notifies the approvers; see `approval.request` for
  the exact payload and result. The token is stored server-side, never put in a link.
* SageMaker's "SageMaker Model Package State Change" event, through the stack's EventBridge
  rule: a person approved or rejected the package in the model registry, which decides its
  pending approval through the decision path below (`approval.registry`).
* An HTTP request through the function's Lambda Function URL (payload format 2.0):

  - ``GET /review?id=&exp=&sig=`` shows the review page. It never changes anything, so mail
    scanners and chat unfurlers that fetch links are harmless.
  - ``POST /decision`` (the page's Approve/Reject forms) decides: signature and expiry
    checked, then a conditional write that only one decision can win, then the callback.
  - ``POST /slack`` takes Slack's interactive Approve/Reject buttons, verified with Slack's
    signing secret, through the same decision path.

Failures are pages with a status (400, 403, 404, 405, 409, 410, 413, 415, 502) and change
nothing. Configuration comes from the environment at call time; see approval/README.md.

The URL is public, so a forged request (missing or altered signature, expired link, an id
this function never issues) is refused before any other work: its fields are checked first,
then the signature with the signing key, and only a verified link reaches DynamoDB. A refusal
costs no table access and no page rendering (error pages without an approval are rendered
once per container), and is logged as one short line: its reason, status, method and path,
never the query string, the form, a signature or a token.

Logs go through `logging` only. With the function's LoggingConfig LogFormat JSON, the Lambda
Python runtime writes each record as one JSON object, with the `extra` fields of the call
(reason, status, approvalId, outcome, ...) as keys of their own (Lambda developer guide,
"Log and monitor Python Lambda functions", python-logging.html; the runtime's JsonFormatter
in awslambdaric/lambda_runtime_log_utils.py). Its own keys (timestamp, level, message,
logger, requestId, errorType, errorMessage, stackTrace, location) are not used as extras.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from approval import aws, pages, signing, slack
from approval.config import Config, ConfigError
from approval.decision import decide
from approval.model import (
    APPROVE,
    DECISIONS,
    REJECT,
    REVIEW,
    VIA_SLACK,
    VIA_WEB,
    ApprovalClosed,
    ApprovalNotFound,
    clean_text,
)
from approval.pages import (
    FIELD_ACTION,
    FIELD_COMMENT,
    FIELD_DECIDED_BY,
    FIELD_EXPIRES,
    FIELD_ID,
    FIELD_SIGNATURE,
    MAX_COMMENT_LENGTH,
    MAX_NAME_LENGTH,
)
from approval.registry import handle_registry_event, is_registry_event
from approval.request import open_approval
from approval.store import ApprovalStore
from approval.web import HttpError, Request, html_response, json_response
from core.contracts import TASK_TOKEN

_LOG = logging.getLogger("approval")

Route = Callable[[Request, Config], dict[str, Any]]
#: An approval id as `approval.request` issues them (secrets.token_urlsafe); anything else in
#: a link was not made by this function.
_APPROVAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A link signature: base64url, unpadded, of an HMAC-SHA256 (32 bytes).
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
#: Longest method and path a refusal's log line repeats.
_LOGGED_METHOD, _LOGGED_PATH = 16, 64
#: Set by the Lambda runtime from LoggingConfig.ApplicationLogLevel; it then rules the level.
_LAMBDA_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Entry point: a Step Functions approval request, a Function URL HTTP request or a model
    registry decision (SageMaker's event through EventBridge)."""
    if not isinstance(event, dict):
        raise TypeError("expected a JSON object event")
    if TASK_TOKEN in event:
        return open_approval(event, _config())
    if isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]:
        return handle_http(event)
    if is_registry_event(event):
        return handle_registry_event(event, _config())
    raise ValueError(
        "unrecognised event: expected a Step Functions approval request (with 'taskToken'), "
        "a Lambda Function URL request or a SageMaker Model Package State Change event"
    )


def handle_http(event: dict[str, Any]) -> dict[str, Any]:
    """Route a Function URL request; every failure becomes an error page, nothing changed."""
    request = Request.from_event(event)
    route = _ROUTES.get(request.path)
    try:
        if route is None:
            raise HttpError(
                404, "Not found", "There is nothing at this address.", reason="no_route"
            )
        method, serve = route
        if request.method != method:
            raise HttpError(
                405,
                "Method not allowed",
                f"This address only accepts {method}.",
                reason="wrong_method",
                headers={"Allow": method},
            )
        return serve(request, _config())
    except HttpError as error:
        _log_refusal(request, error)
        if request.path == _SLACK_PATH:
            return json_response(error.status, {"text": error.message}, error.headers)
        if error.approval is None:
            page = _static_error_page(error.title, error.message)
        else:
            page = pages.error_page(error.title, error.message, error.approval)
        return html_response(error.status, page, error.headers)
    except ConfigError as error:
        _LOG.error("approval function misconfigured: %s", error, extra={"outcome": "misconfigured"})
        return _unavailable(request, "The approval service is not configured.")
    except Exception as error:  # e.g. DynamoDB unavailable: say so, in our page, not a 502
        code = aws.error_code(error)
        _LOG.error(
            "%s %s failed: %s",
            *_logged_route(request),
            code,
            exc_info=True,
            extra={"outcome": "failed", "errorCode": code},
        )
        return _unavailable(request, "The approval service failed; nothing was decided.")


def _log_refusal(request: Request, error: HttpError) -> None:
    """One short line: why, which status, which route; nothing the client sent beyond that."""
    method, path = _logged_route(request)
    _LOG.log(
        logging.WARNING if error.status == 403 else logging.INFO,
        "refused %s %s: %s (%d)",
        method,
        path,
        error.reason,
        error.status,
        extra={
            "outcome": "refused",
            "reason": error.reason,
            "status": error.status,
            "method": method,
            "path": path,
            "sourceIp": request.source_ip[:45],
        },
    )


def _logged_route(request: Request) -> tuple[str, str]:
    """The method and path as logs show them: short and printable (both come from outside)."""

    def printable(text: str, limit: int) -> str:
        return "".join(c if c.isprintable() else "?" for c in text[:limit])

    return printable(request.method, _LOGGED_METHOD), printable(request.path, _LOGGED_PATH)


@lru_cache(maxsize=32)
def _static_error_page(title: str, message: str) -> str:
    """An error page that shows no approval: the same text always, so rendered once."""
    return pages.error_page(title, message)


def _unavailable(request: Request, message: str) -> dict[str, Any]:
    if request.path == _SLACK_PATH:
        return json_response(500, {"text": message})
    return html_response(500, pages.error_page("Not available", message))


def review(request: Request, config: Config) -> dict[str, Any]:
    """GET /review: verify the link, show the page. Reads only; never writes."""
    approval_id, expires_at, signature = _link(request.query())
    key = aws.signing_key(config.signing_secret)
    _check_signature(key, approval_id, REVIEW, expires_at, signature)
    store = ApprovalStore(aws.client("dynamodb"), config.table, config.retention_days)
    try:
        approval = store.get(approval_id)
    except ApprovalNotFound:
        raise _not_found() from None
    signatures = {
        action: signing.sign(key, approval_id, action, approval.expires_at)
        for action in (APPROVE, REJECT)
    }
    return html_response(200, pages.review_page(approval, signatures))


def decision(request: Request, config: Config) -> dict[str, Any]:
    """POST /decision: the Approve or Reject form of the review page."""
    form = request.form()
    approval_id, expires_at, signature = _link(form)
    action = form.get(FIELD_ACTION, "")
    if action not in DECISIONS:
        raise _bad_request(
            f"The form's '{FIELD_ACTION}' must be {APPROVE} or {REJECT}.", "bad_action"
        )
    key = aws.signing_key(config.signing_secret)
    _check_signature(key, approval_id, action, expires_at, signature)
    decided_by = _clean(form.get(FIELD_DECIDED_BY, ""), MAX_NAME_LENGTH, "Your name or email")
    if not decided_by:
        raise _bad_request(
            "Please give your name or email: decisions record who made them.", "missing_name"
        )
    comment = _clean(form.get(FIELD_COMMENT, ""), MAX_COMMENT_LENGTH, "The comment", multiline=True)
    try:
        approval = decide(config, approval_id, action, decided_by, comment, VIA_WEB)
    except ApprovalNotFound:
        raise _not_found() from None
    except ApprovalClosed as closed:
        raise _closed(closed) from None
    status = 502 if approval.callback_error else 200
    return html_response(status, pages.result_page(approval))


def slack_action(request: Request, config: Config) -> dict[str, Any]:
    """POST /slack: an Approve/Reject button clicked in Slack, answered in Slack's terms."""
    if not config.slack_signing_secret.configured:
        raise HttpError(
            404, "Not found", "Slack interactivity is not configured.", reason="slack_off"
        )
    body = request.body()
    if not (
        request.headers.get(slack.TIMESTAMP_HEADER) and request.headers.get(slack.SIGNATURE_HEADER)
    ):
        # Unsigned: refused without fetching the signing secret.
        raise HttpError(
            403, "Forbidden", "missing Slack signature headers", reason="slack_unsigned"
        )
    try:
        slack.verify(aws.secret(config.slack_signing_secret), request.headers, body)
    except slack.SlackRequestRefused as refused:
        raise HttpError(403, "Forbidden", str(refused), reason="slack_unverified") from None
    try:
        interaction = slack.parse_interaction(body)
    except ValueError as error:
        raise HttpError(400, "Bad request", str(error), reason="slack_payload") from None
    if interaction.action not in DECISIONS:
        return json_response(200, {})  # e.g. the Review link button: nothing to decide
    if not interaction.approval_id:
        raise HttpError(
            400, "Bad request", "The button carries no approval id.", reason="slack_payload"
        )
    # Only this route needs urllib's HTTP client (a third of the package's import time).
    from approval.messages import post_json, slack_decision_message

    try:
        approval = decide(
            config, interaction.approval_id, interaction.action, interaction.user, "", VIA_SLACK
        )
    except ApprovalNotFound:
        return _slack_notice("This approval no longer exists.")
    except ApprovalClosed as closed:
        return _slack_notice(_closed(closed).message)
    message = slack_decision_message(approval)
    if slack.is_slack_response_url(interaction.response_url):
        try:
            post_json(interaction.response_url, message)
        except Exception as exc:  # the decision stands; only the Slack update failed
            _LOG.warning(
                "approval %s: updating the Slack message failed: %s",
                approval.approval_id,
                type(exc).__name__,
                extra={
                    "approvalId": approval.approval_id,
                    "outcome": "slack_update_failed",
                    "failure": type(exc).__name__,
                },
            )
    return json_response(200, message)


def _slack_notice(text: str) -> dict[str, Any]:
    """Plain `text` (it may quote a decider's name) as Slack shows it: escaped."""
    return json_response(
        200, {"response_type": "ephemeral", "replace_original": False, "text": slack.escape(text)}
    )


def _link(fields: dict[str, str]) -> tuple[str, int, str]:
    """A link's (approval id, expiry, signature), refused unless it can be one of ours.

    Everything here costs nothing: no secret, no table. A link that fails these checks was
    never issued by this function (or is past its life), so it gets no further.
    """
    approval_id = fields.get(FIELD_ID, "")
    if not approval_id:
        raise _bad_request(f"The request lacks the '{FIELD_ID}' field.", "missing_id")
    try:
        expires_at = int(fields.get(FIELD_EXPIRES, ""))
    except ValueError:
        raise _bad_request(
            f"The request lacks a valid '{FIELD_EXPIRES}' field.", "bad_expiry"
        ) from None
    signature = fields.get(FIELD_SIGNATURE, "")
    if not signature:
        raise _forbidden("missing_signature")
    if not _SIGNATURE.fullmatch(signature):
        raise _forbidden("bad_signature")
    if not _APPROVAL_ID.fullmatch(approval_id):
        raise _forbidden("unknown_id")
    if time.time() >= expires_at:
        raise HttpError(
            410,
            "Link expired",
            "This approval link has expired; nothing was changed.",
            reason="expired",
        )
    return approval_id, expires_at, signature


def _check_signature(
    key: bytes, approval_id: str, action: str, expires_at: int, signature: str
) -> None:
    if not signing.verify(key, approval_id, action, expires_at, signature):
        raise _forbidden("bad_signature")


def _clean(value: str, limit: int, label: str, *, multiline: bool = False) -> str:
    """The value as it will be stored (`clean_text`), refused beyond `limit` characters."""
    value = clean_text(value, multiline=multiline)
    if len(value) > limit:
        raise _bad_request(f"{label} is longer than {limit} characters.", "too_long")
    return value


def _closed(closed: ApprovalClosed) -> HttpError:
    approval = closed.approval
    if approval.status not in DECISIONS.values():
        return HttpError(
            410,
            "Approval closed",
            "This approval expired or was withdrawn without a decision.",
            reason="closed",
            approval=approval,
        )
    return HttpError(
        409,
        "Already decided",
        f"This approval was already {approval.status.lower()} by {approval.decided_by} "
        f"at {approval.decided_at}; your decision was not recorded.",
        reason="already_decided",
        approval=approval,
    )


def _forbidden(reason: str) -> HttpError:
    return HttpError(
        403,
        "Invalid link",
        "This link is not valid (it is incomplete or was altered).",
        reason=reason,
    )


def _not_found() -> HttpError:
    return HttpError(
        404, "Approval not found", "No approval matches this link.", reason="unknown_id"
    )


def _bad_request(message: str, reason: str) -> HttpError:
    return HttpError(400, "Bad request", message, reason=reason)


def _config() -> Config:
    config = Config.from_env()
    if os.environ.get(_LAMBDA_LOG_LEVEL):
        # On AWS the function's LoggingConfig.ApplicationLogLevel sets the root logger's
        # level; a level on this logger would override it for the package's records.
        _LOG.setLevel(logging.NOTSET)
        return config
    try:
        _LOG.setLevel(config.log_level.upper())
    except ValueError:
        _LOG.warning(
            "LOG_LEVEL=%r is not a logging level; keeping %s",
            config.log_level,
            logging.getLevelName(_LOG.getEffectiveLevel()),
        )
    return config


_SLACK_PATH = "/slack"
_ROUTES: dict[str, tuple[str, Route]] = {
    "/review": ("GET", review),
    f"/{pages.DECISION_PATH}": ("POST", decision),
    _SLACK_PATH: ("POST", slack_action),
}
