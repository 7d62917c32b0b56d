"""The review page and the decision endpoint over real HTTP (the local Function URL adapter).

Every refusal must leave the record exactly as it was and call Step Functions not at all.
"""

from __future__ import annotations

import re
import time
from html import unescape

import pytest

from approval.config import MAX_BODY_BYTES

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def opened(stack, **overrides) -> tuple[str, int]:
    result = stack.open(**overrides)
    item = stack.item(result["approvalId"])
    return result["approvalId"], int(item["expires_at"]["N"])


def assert_secure_html(reply) -> None:
    assert reply.headers["Content-Type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name].startswith(value), name
    assert "<script" not in reply.text.lower()


def form_fields(page: str) -> dict[str, dict[str, str]]:
    """Each decision form's hidden fields, by action."""
    forms = {}
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        assert 'method="post"' in form and 'action="decision"' in form
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
        assert re.search(r'name="decided_by" required', form)
        assert 'name="comment"' in form
        forms[fields["action"]] = {k: unescape(v) for k, v in fields.items()}
    return forms


def test_review_page_shows_the_facts_and_signed_forms_and_changes_nothing(approval_stack):
    approval_id, expires_at = opened(approval_stack)
    before = approval_stack.item(approval_id)

    query = approval_stack.review_query(approval_id, expires_at)
    for _ in range(3):  # link scanners and unfurlers fetch links, sometimes repeatedly
        reply = approval_stack.http("GET", "/review", query=query)
        assert reply.status == 200
    assert approval_stack.item(approval_id) == before
    assert approval_stack.callbacks == []

    assert_secure_html(reply)
    page = reply.text
    assert "abalone-models v3" in page
    assert "model-package/abalone-models/3" in page and "pipeline/abalone-pipeline" in page
    assert re.search(r"<th scope=row>mse</th>.*?4\.5.*?mse ≤ 6: <span class=\"pass\">passes", page)
    for metric in ("rmse", "mae", "r2"):
        assert f"<th scope=row>{metric}</th>" in page
    assert "the model approvers" in page
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)) in page
    forms = form_fields(page)
    assert set(forms) == {"approve", "reject"}
    for action, fields in forms.items():
        assert fields["id"] == approval_id and fields["exp"] == str(expires_at)
        assert fields["sig"] == approval_stack.sign(approval_id, action, expires_at)
    assert query["sig"] not in page  # the page does not echo its own link's signature


def test_review_page_shows_a_failing_gate_and_escapes_everything(approval_stack):
    hostile = '<script>alert("x")</script>'
    approval_id, expires_at = opened(
        approval_stack,
        modelPackageArn=f"arn:aws:sagemaker:us-east-1:1:model-package/{hostile}/1",
        metrics={"regression_metrics": {"mse": {"value": 9.5}, hostile: {"value": 1}}},
    )
    reply = approval_stack.http(
        "GET", "/review", query=approval_stack.review_query(approval_id, expires_at)
    )
    assert reply.status == 200
    assert hostile not in reply.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in reply.text
    assert 'mse ≤ 6: <span class="fail">fails' in reply.text


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        (lambda q: {**q, "sig": q["sig"][:-2] + "AA"}, 403),
        (lambda q: {k: v for k, v in q.items() if k != "sig"}, 403),
        (lambda q: {**q, "exp": str(int(q["exp"]) + 3600)}, 403),
        (lambda q: {k: v for k, v in q.items() if k != "id"}, 400),
    ],
    ids=["forged-sig", "missing-sig", "extended-expiry", "missing-id"],
)
def test_review_refuses_altered_links(approval_stack, tamper, status):
    approval_id, expires_at = opened(approval_stack)
    before = approval_stack.item(approval_id)
    query = tamper(approval_stack.review_query(approval_id, expires_at))
    reply = approval_stack.http("GET", "/review", query=query)
    assert reply.status == status
    assert_secure_html(reply)
    assert "<form" not in reply.text
    assert approval_stack.item(approval_id) == before


def test_review_of_unknown_and_expired_links(approval_stack):
    future = int(time.time()) + 600
    unknown = approval_stack.http(
        "GET", "/review", query=approval_stack.review_query("no-such-approval", future)
    )
    assert unknown.status == 404 and "not found" in unknown.text.lower()
    past = int(time.time()) - 1
    expired = approval_stack.http(
        "GET", "/review", query=approval_stack.review_query("no-such-approval", past)
    )
    assert expired.status == 410 and "expired" in expired.text


def decision_cases(stack, approval_id: str, expires_at: int) -> dict[str, tuple[int, dict]]:
    """Refused decisions: (expected status, request keyword arguments)."""

    def form(**changes):
        fields = {**stack.decision_form(approval_id, expires_at), **changes}
        return {"form": {k: v for k, v in fields.items() if v is not None}}

    past = int(time.time()) - 10
    return {
        "forged-signature": (403, form(sig="A" * 43)),
        "missing-signature": (403, form(sig=None)),
        "review-signature-used-to-approve": (
            403,
            form(sig=stack.sign(approval_id, "review", expires_at)),
        ),
        "reject-signature-used-to-approve": (
            403,
            form(sig=stack.sign(approval_id, "reject", expires_at)),
        ),
        "expiry-extended": (403, form(exp=str(expires_at + 60))),
        "expired": (
            410,
            {"form": stack.decision_form(approval_id, past)},
        ),
        "unknown-id": (
            404,
            {"form": stack.decision_form("no-such-approval", expires_at)},
        ),
        "missing-name": (400, form(decided_by="")),
        "blank-name": (400, form(decided_by=" \t ")),
        "missing-action": (400, form(action=None)),
        "unknown-action": (400, form(action="escalate")),
        "name-too-long": (400, form(decided_by="x" * 201)),
        "comment-too-long": (400, form(comment="x" * 2001)),
        "not-a-form": (
            415,
            {
                "body": b'{"id": "x"}',
                "headers": {"Content-Type": "application/json"},
            },
        ),
        "oversized": (413, form(comment="x" * (MAX_BODY_BYTES + 1))),
    }


CASES = [
    "forged-signature",
    "missing-signature",
    "review-signature-used-to-approve",
    "reject-signature-used-to-approve",
    "expiry-extended",
    "expired",
    "unknown-id",
    "missing-name",
    "blank-name",
    "missing-action",
    "unknown-action",
    "name-too-long",
    "comment-too-long",
    "not-a-form",
    "oversized",
]


@pytest.mark.parametrize("case", CASES)
def test_refused_decisions_change_nothing(approval_stack, case):
    approval_id, expires_at = opened(approval_stack)
    before = approval_stack.item(approval_id)
    status, request = decision_cases(approval_stack, approval_id, expires_at)[case]

    reply = approval_stack.http("POST", "/decision", **request)

    assert reply.status == status, reply.text
    assert_secure_html(reply)
    assert approval_stack.item(approval_id) == before
    assert approval_stack.callbacks == []


def test_wrong_method_and_unknown_path(approval_stack):
    approval_id, expires_at = opened(approval_stack)
    before = approval_stack.item(approval_id)
    get_decision = approval_stack.http(
        "GET", "/decision", query=approval_stack.decision_form(approval_id, expires_at)
    )
    assert get_decision.status == 405 and get_decision.headers["Allow"] == "POST"
    post_review = approval_stack.http(
        "POST", "/review", form=approval_stack.review_query(approval_id, expires_at)
    )
    assert post_review.status == 405 and post_review.headers["Allow"] == "GET"
    for path in ("/", "/approve", "/review/extra"):
        reply = approval_stack.http("GET", path)
        assert reply.status == 404
        assert_secure_html(reply)
    assert approval_stack.item(approval_id) == before


def test_a_decision_whose_callback_fails_is_recorded_and_shown(approval_stack):
    # The token below was never issued by Step Functions, as for an execution long gone.
    approval_id, expires_at = opened(approval_stack, taskToken="not-a-live-task-token")
    reply = approval_stack.decide(approval_id, expires_at)

    assert reply.status == 502
    assert "could not be resumed" in reply.text and "InvalidToken" in reply.text
    item = approval_stack.item(approval_id)
    assert item["status"]["S"] == "APPROVED"
    assert item["callback"]["S"] == "failed" and item["callback_error"]["S"] == "InvalidToken"
    assert "task_token" not in item
    assert [name for name, _ in approval_stack.callbacks] == ["send_task_success"]


def test_local_adapter_builds_function_url_events_and_replays_responses():
    import base64
    import json
    import urllib.request

    from localaws.function_urls import serve

    seen = []

    def echo(event, context):
        seen.append(event)
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/octet-stream", "X-Echo": "1"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00bytes").decode(),
            "isBase64Encoded": True,
        }

    with serve(echo) as server:
        request = urllib.request.Request(
            f"{server.url}/some/path?x=1&x=2&y=",
            data=b"id=abc&action=approve",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "c=3; d=4",
                "X-Mixed-Case": "v",
            },
            method="POST",
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 201
            assert response.read() == b"\x00bytes"
            assert response.headers["X-Echo"] == "1"
            assert response.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]

    with (
        serve(lambda event, context: {"plain": True}) as server,
        urllib.request.urlopen(server.url) as response,
    ):
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.read()) == {"plain": True}

    (event,) = seen
    assert event["version"] == "2.0" and event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-mixed-case"] == "v" and "cookie" not in event["headers"]
    assert event["cookies"] == ["c=3", "d=4"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["isBase64Encoded"] is True  # as Function URLs deliver form posts
    assert base64.b64decode(event["body"]) == b"id=abc&action=approve"


def test_backend_failure_and_missing_configuration_are_500_pages(approval_stack, monkeypatch):
    approval_id, expires_at = opened(approval_stack)
    query = approval_stack.review_query(approval_id, expires_at)
    monkeypatch.setenv("APPROVAL_TABLE", "no-such-table")
    missing_table = approval_stack.http("GET", "/review", query=query)
    assert missing_table.status == 500 and "failed" in missing_table.text
    assert_secure_html(missing_table)
    monkeypatch.delenv("APPROVAL_TABLE")
    unconfigured = approval_stack.http("GET", "/review", query=query)
    assert unconfigured.status == 500 and "not configured" in unconfigured.text


def test_a_query_with_too_many_fields_is_a_bad_request(approval_stack):
    query = {f"f{i}": "x" for i in range(30)}
    assert approval_stack.http("GET", "/review", query=query).status == 400
