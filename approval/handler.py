"""The approval Lambda: one handler for the state machine's request and for reviewers' HTTP.

Two kinds of events arrive here:

* A request from Step Functions (`lambda:invoke.waitForTaskToken`), recognised by its
  "taskToken". It opens an approval and notifies the approvers; see `approval.request` for
  the exact payload and result. The token is stored server-side, never put in a link.
* An HTTP request through the function's Lambda Function URL (payload format 2.0):

  - ``GET /review?id=&exp=&sig=`` shows the review page. It never changes anything, so mail
    scanners and chat unfurlers that fetch links are harmless.
  - ``POST /decision`` (the page's Approve/Reject forms) decides: signature and expiry
    checked, then a conditional write that only one decision can win, then the callback.
  - ``POST /slack`` takes Slack's interactive Approve/Reject buttons, verified with Slack's
    signing secret, through the same decision path.

Failures are pages with a status (400, 403, 404, 405, 409, 410, 413, 415, 502) and change
nothing. Configuration comes from the environment at call time; see approval/README.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
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
from approval.request import open_approval
from approval.store import ApprovalStore
from approval.web import HttpError, Request, html_response, json_response
from core.contracts import TASK_TOKEN

_LOG = logging.getLogger("approval")

Route = Callable[[Request, Config], dict[str, Any]]


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Entry point: a Step Functions approval request or a Function URL HTTP request."""
    if not isinstance(event, dict):
        raise TypeError("expected a JSON object event")
    if TASK_TOKEN in event:
        return open_approval(event, _config())
    if isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]:
        return handle_http(event)
    raise ValueError(
        "unrecognised event: expected a Step Functions approval request (with 'taskToken') "
        "or a Lambda Function URL request"
    )


def handle_http(event: dict[str, Any]) -> dict[str, Any]:
    """Route a Function URL request; every failure becomes an error page, nothing changed."""
    request = Request.from_event(event)
    route = _ROUTES.get(request.path)
    try:
        if route is None:
            raise HttpError(404, "Not found", "There is nothing at this address.")
        method, serve = route
        if request.method != method:
            raise HttpError(
                405,
                "Method not allowed",
                f"This address only accepts {method}.",
                headers={"Allow": method},
            )
        return serve(request, _config())
    except HttpError as error:
        _LOG.info(
            "%s %s refused: %d %s (from %s)",
            request.method,
            request.path,
            error.status,
            error.title,
            request.source_ip or "unknown",
        )
        if request.path == _SLACK_PATH:
            return json_response(error.status, {"text": error.message}, error.headers)
        page = pages.error_page(error.title, error.message, error.approval)
        return html_response(error.status, page, error.headers)
    except ConfigError as error:
        _LOG.error("approval function misconfigured: %s", error)
        return _unavailable(request, "The approval service is not configured.")
    except Exception as error:  # e.g. DynamoDB unavailable: say so, in our page, not a 502
        _LOG.error(
            "%s %s failed: %s", request.method, request.path, aws.error_code(error), exc_info=True
        )
        return _unavailable(request, "The approval service failed; nothing was decided.")


def _unavailable(request: Request, message: str) -> dict[str, Any]:
    if request.path == _SLACK_PATH:
        return json_response(500, {"text": message})
    return html_response(500, pages.error_page("Not available", message))


def review(request: Request, config: Config) -> dict[str, Any]:
    """GET /review: verify the link, show the page. Reads only; never writes."""
    query = request.query()
    approval_id, expires_at = _link_fields(query)
    key = aws.signing_key(config.signing_secret)
    _check_signature(key, approval_id, REVIEW, expires_at, query.get(FIELD_SIGNATURE))
    _check_not_expired(expires_at)
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
    signature = form.get(FIELD_SIGNATURE, "")
    if not signature:
        raise _forbidden()
    approval_id, expires_at = _link_fields(form)
    action = form.get(FIELD_ACTION, "")
    if action not in DECISIONS:
        raise _bad_request(f"The form's '{FIELD_ACTION}' must be {APPROVE} or {REJECT}.")
    key = aws.signing_key(config.signing_secret)
    _check_signature(key, approval_id, action, expires_at, signature)
    _check_not_expired(expires_at)
    decided_by = _clean(form.get(FIELD_DECIDED_BY, ""), MAX_NAME_LENGTH, "Your name or email")
    if not decided_by:
        raise _bad_request("Please give your name or email: decisions record who made them.")
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
        raise HttpError(404, "Not found", "Slack interactivity is not configured.")
    # Only this route needs urllib's HTTP client (a third of the package's import time).
    from approval.messages import post_json, slack_decision_message

    body = request.body()
    try:
        slack.verify(aws.secret(config.slack_signing_secret), request.headers, body)
    except slack.SlackRequestRefused as refused:
        raise HttpError(403, "Forbidden", str(refused)) from None
    try:
        interaction = slack.parse_interaction(body)
    except ValueError as error:
        raise HttpError(400, "Bad request", str(error)) from None
    if interaction.action not in DECISIONS:
        return json_response(200, {})  # e.g. the Review link button: nothing to decide
    if not interaction.approval_id:
        raise HttpError(400, "Bad request", "The button carries no approval id.")
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
            )
    return json_response(200, message)


def _slack_notice(text: str) -> dict[str, Any]:
    """Plain `text` (it may quote a decider's name) as Slack shows it: escaped."""
    return json_response(
        200, {"response_type": "ephemeral", "replace_original": False, "text": slack.escape(text)}
    )


def _link_fields(fields: dict[str, str]) -> tuple[str, int]:
    approval_id = fields.get(FIELD_ID, "")
    if not approval_id:
        raise _bad_request(f"The request lacks the '{FIELD_ID}' field.")
    try:
        return approval_id, int(fields.get(FIELD_EXPIRES, ""))
    except ValueError:
        raise _bad_request(f"The request lacks a valid '{FIELD_EXPIRES}' field.") from None


def _check_signature(
    key: bytes, approval_id: str, action: str, expires_at: int, signature: str | None
) -> None:
    if not signing.verify(key, approval_id, action, expires_at, signature or ""):
        _LOG.warning(
            "approval %r: refused %s signature %s",
            approval_id[:64],
            action,
            signing.redact(signature or ""),
        )
        raise _forbidden()


def _check_not_expired(expires_at: int) -> None:
    if time.time() >= expires_at:
        raise HttpError(410, "Link expired", "This approval link has expired; nothing was changed.")


def _clean(value: str, limit: int, label: str, *, multiline: bool = False) -> str:
    """The value as it will be stored (`clean_text`), refused beyond `limit` characters."""
    value = clean_text(value, multiline=multiline)
    if len(value) > limit:
        raise _bad_request(f"{label} is longer than {limit} characters.")
    return value


def _closed(closed: ApprovalClosed) -> HttpError:
    approval = closed.approval
    if approval.status not in DECISIONS.values():
        return HttpError(
            410,
            "Approval closed",
            "This approval expired or was withdrawn without a decision.",
            approval=approval,
        )
    return HttpError(
        409,
        "Already decided",
        f"This approval was already {approval.status.lower()} by {approval.decided_by} "
        f"at {approval.decided_at}; your decision was not recorded.",
        approval=approval,
    )


def _forbidden() -> HttpError:
    return HttpError(
        403, "Invalid link", "This link is not valid (it is incomplete or was altered)."
    )


def _not_found() -> HttpError:
    return HttpError(404, "Approval not found", "No approval matches this link.")


def _bad_request(message: str) -> HttpError:
    return HttpError(400, "Bad request", message)


def _config() -> Config:
    config = Config.from_env()
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
