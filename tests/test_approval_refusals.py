"""Forged requests to the public approval URL cost almost nothing and leave one short log line.

A link that is not ours (no or altered signature, a past expiry, an id of a shape the function
never issues) is refused from its fields, and at most with the signing key: never with a read
or write of the approvals table, a read of any other secret, or a page rendered for it. Each
refusal is logged as one compact record with structured fields and nothing the client sent
beyond the method and path: no query string, no signature, no token.

The table and Secrets Manager are watched where the requests arrive, in the local AWS's
backends, so this holds whatever process the handler runs in (see test_lambda_runtime.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

#: What the approvals table may be asked for; none of it for a forged request.
_TABLE_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "transact_get_items",
    "transact_write_items",
)
#: The signature of a link this function could have signed (43 base64url characters).
_WELL_FORMED = "A" * 43


class Watched:
    """Calls that reach the local AWS's DynamoDB and Secrets Manager backends, by operation."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def wrap(self, owner: type, name: str, label: str) -> Callable[..., Any]:
        original = getattr(owner, name)

        def watched(backend: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(label)
            return original(backend, *args, **kwargs)

        return watched

    def of(self, prefix: str) -> list[str]:
        return [c for c in self.calls if c.startswith(prefix)]


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watched]:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.secretsmanager.models import SecretsManagerBackend

    seen = Watched()
    for operation in _TABLE_OPERATIONS:
        wrapper = seen.wrap(DynamoDBBackend, operation, f"dynamodb:{operation}")
        monkeypatch.setattr(DynamoDBBackend, operation, wrapper)
    wrapper = seen.wrap(SecretsManagerBackend, "get_secret_value", "secretsmanager:get")
    monkeypatch.setattr(SecretsManagerBackend, "get_secret_value", wrapper)
    yield seen


def _key_from_secrets_manager(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the link-signing key is where it is on AWS: a Secrets Manager secret read
    by ARN, a new one, so that no container has it cached yet."""
    arn = stack.aws.client("secretsmanager").create_secret(
        Name=f"approval-signing-{stack.suffix}", SecretString=stack.signing_secret
    )["ARN"]
    monkeypatch.delenv("SIGNING_SECRET", raising=False)
    monkeypatch.setenv("SIGNING_SECRET_ARN", arn)


def _forgeries(stack: Any, approval_id: str, expires_at: int) -> dict[str, tuple]:
    """name -> (method, path, query or form, status, whether verifying needs the key)."""
    past = int(time.time()) - 60
    review = stack.review_query(approval_id, expires_at)
    form = stack.decision_form(approval_id, expires_at)
    return {
        "review-altered-signature": (
            "GET",
            "/review",
            {**review, "sig": _WELL_FORMED},
            403,
            True,
        ),
        "review-missing-signature": (
            "GET",
            "/review",
            {k: v for k, v in review.items() if k != "sig"},
            403,
            False,
        ),
        "review-garbage-signature": ("GET", "/review", {**review, "sig": "x" * 5000}, 403, False),
        "review-expired": (
            "GET",
            "/review",
            stack.review_query(approval_id, past),
            410,
            False,
        ),
        "review-unknown-id": (
            "GET",
            "/review",
            {**stack.review_query("no-such-approval", expires_at), "sig": _WELL_FORMED},
            403,
            True,
        ),
        "review-impossible-id": (
            "GET",
            "/review",
            {**review, "id": "../" + approval_id + "'\"<>"},
            403,
            False,
        ),
        "decision-altered-signature": (
            "POST",
            "/decision",
            {**form, "sig": _WELL_FORMED},
            403,
            True,
        ),
        "decision-missing-signature": (
            "POST",
            "/decision",
            {k: v for k, v in form.items() if k != "sig"},
            403,
            False,
        ),
        "decision-expired": (
            "POST",
            "/decision",
            stack.decision_form(approval_id, past),
            410,
            False,
        ),
    }


FORGERIES = [
    "review-altered-signature",
    "review-missing-signature",
    "review-garbage-signature",
    "review-expired",
    "review-unknown-id",
    "review-impossible-id",
    "decision-altered-signature",
    "decision-missing-signature",
    "decision-expired",
]


def _send(stack: Any, method: str, path: str, fields: dict[str, str]) -> Any:
    if method == "GET":
        return stack.http(method, path, query=fields)
    return stack.http(method, path, form=fields)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_request_is_refused_without_touching_the_table(
    approval_stack, watched, monkeypatch, forgery
):
    result = approval_stack.open()
    approval_id = result["approvalId"]
    before = approval_stack.item(approval_id)
    expires_at = int(before["expires_at"]["N"])
    method, path, fields, status, needs_key = _forgeries(approval_stack, approval_id, expires_at)[
        forgery
    ]
    _key_from_secrets_manager(approval_stack, monkeypatch)
    watched.calls.clear()

    for _ in range(3):  # a flood repeats itself; the key is fetched once per container at most
        reply = _send(approval_stack, method, path, fields)
        assert reply.status == status, reply.text

    assert watched.of("dynamodb") == []
    assert len(watched.of("secretsmanager")) <= (1 if needs_key else 0)
    assert "<form" not in reply.text
    assert approval_stack.item(approval_id) == before
    assert approval_stack.callbacks == []


def test_a_genuine_link_still_reads_the_table(approval_stack, watched):
    """The counterpart: the watch sees the reads a real review makes."""
    result = approval_stack.open()
    item = approval_stack.item(result["approvalId"])
    watched.calls.clear()
    query = approval_stack.review_query(result["approvalId"], int(item["expires_at"]["N"]))
    assert approval_stack.http("GET", "/review", query=query).status == 200
    assert watched.of("dynamodb") == ["dynamodb:get_item"]


# -- in this process: what the handler itself does for a refusal ------------------------------


def test_a_refusal_renders_nothing_and_reads_the_key_only_to_verify(approval_stack, monkeypatch):
    from approval import aws, pages

    result = approval_stack.open()
    approval_id = result["approvalId"]
    expires_at = int(approval_stack.item(approval_id)["expires_at"]["N"])
    cases = _forgeries(approval_stack, approval_id, expires_at)
    counted: dict[str, int] = {}

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def count(*args: Any, **kwargs: Any) -> Any:
            counted[name] = counted.get(name, 0) + 1
            return function(*args, **kwargs)

        return count

    for name in ("review_page", "error_page", "result_page"):
        monkeypatch.setattr(pages, name, counting(name, getattr(pages, name)))
    monkeypatch.setattr(aws, "signing_key", counting("signing_key", aws.signing_key))
    for name in FORGERIES:
        method, path, fields, status, needs_key = cases[name]
        keys_before = counted.get("signing_key", 0)
        for _ in range(5):
            assert _send(approval_stack, method, path, fields).status == status
        assert counted.get("signing_key", 0) - keys_before == (5 if needs_key else 0), name
    assert "review_page" not in counted and "result_page" not in counted
    # The error pages of refusals show no approval: each is rendered once at most.
    assert counted.get("error_page", 0) <= 2, counted


# -- the refusal's log line -----------------------------------------------------------------


def lambda_json_line(record: logging.LogRecord) -> str:
    """The line Lambda's Python runtime writes for a record when LogFormat is JSON.

    As awslambdaric's JsonFormatter (lambda_runtime_log_utils.py) does it: timestamp, level,
    message, logger and requestId, then every attribute the call added with `extra`.
    """
    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
    line = {
        "timestamp": "2030-01-01T00:00:00.000Z",
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "requestId": "00000000-0000-0000-0000-000000000000",
    }
    line.update((k, v) for k, v in vars(record).items() if k not in reserved and k not in line)
    return json.dumps(line, ensure_ascii=False)


@pytest.mark.parametrize("forgery", ["review-altered-signature", "decision-missing-signature"])
def test_a_refusal_is_one_compact_structured_line_without_secrets(approval_stack, caplog, forgery):
    result = approval_stack.open()
    approval_id = result["approvalId"]
    item = approval_stack.item(approval_id)
    expires_at = int(item["expires_at"]["N"])
    method, path, fields, status, _ = _forgeries(approval_stack, approval_id, expires_at)[forgery]
    genuine = approval_stack.sign(approval_id, "approve", expires_at)
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="approval")

    assert _send(approval_stack, method, path, {**fields, "comment": "x" * 500}).status == status

    records = [r for r in caplog.records if r.name.startswith("approval")]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert (record.outcome, record.status, record.path) == ("refused", status, path)
    assert record.reason in {"bad_signature", "missing_signature"}
    line = lambda_json_line(record)
    assert len(line) < 400, line
    assert "\n" not in line
    for secret in (
        fields.get("sig") or genuine,
        genuine,
        approval_stack.signing_secret,
        item["task_token"]["S"],
        "sig=",
        approval_id,  # the link's fields stay out: only the route and why
        "x" * 50,
    ):
        assert secret not in line, secret


def test_opening_an_approval_logs_its_id_and_outcome_as_fields(approval_stack, caplog):
    caplog.set_level(logging.INFO, logger="approval")
    result = approval_stack.open()
    (record,) = [r for r in caplog.records if getattr(r, "outcome", "") == "opened"]
    assert record.approvalId == result["approvalId"]
    assert record.modelPackageArn.endswith("model-package/abalone-models/3")
    line = json.loads(lambda_json_line(record))
    assert line["approvalId"] == result["approvalId"] and line["outcome"] == "opened"
    assert "TOKEN-" not in lambda_json_line(record)


def test_the_package_logs_through_logging_only():
    """No print(): on Lambda only `logging` records become JSON lines."""
    import ast

    from core.settings import PROJECT_ROOT

    printing = [
        f"{path.name}:{node.lineno}"
        for path in sorted((PROJECT_ROOT / "approval").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print"
    ]
    assert printing == []
