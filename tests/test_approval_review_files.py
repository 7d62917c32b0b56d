"""The champion and the pictures a package registers reach the review page, Slack and email.

Through the stack's approval function in the local AWS: the package is registered with the
CustomerMetadataProperties the pipeline writes, its files are in S3, and the page is fetched
through the Function URL.
"""

from __future__ import annotations

import json
import re

import pytest
from fakes import review_files

from approval.handler import lambda_handler
from approval.messages import email_message, slack_request_message
from approval.store import ApprovalStore
from core.contracts import PACKAGE_COMPARISON, PACKAGE_PICTURES

BUCKET = "review-files"
GROUP = "abalone-models"


def _register(stack, files: dict[str, bytes], properties: dict[str, str] | None) -> str:
    aws = stack.aws
    s3, sagemaker = aws.client("s3"), aws.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    for key, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if not any(g["ModelPackageGroupName"] == GROUP for g in groups):
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arguments = {
        "ModelPackageGroupName": GROUP,
        "InferenceSpecification": {
            "Containers": [{"Image": "x", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelApprovalStatus": "PendingManualApproval",
    }
    if properties:
        arguments["CustomerMetadataProperties"] = properties
    return sagemaker.create_model_package(**arguments)["ModelPackageArn"]


def _review_page(stack, approval_id: str) -> str:
    expires_at = int(stack.item(approval_id)["expires_at"]["N"])
    reply = stack.http("GET", "/review", query=stack.review_query(approval_id, expires_at))
    assert reply.status == 200
    return reply.text


@pytest.fixture
def registered(approval_stack) -> str:
    approval_stack.aws.client("s3").create_bucket(Bucket=BUCKET)
    # One picture tries what an SVG can do in a page: it must arrive without it.
    hostile = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
        b'<rect width="5" height="5" onclick="alert(2)"/><text>residuals here</text>'
        b'<image href="https://example.com/x.png"/></svg>'
    )
    return review_files.register(
        approval_stack.aws, GROUP, BUCKET, "x1/evaluation", replace={"residuals": hostile}
    )


def test_the_review_page_shows_the_champion_and_the_pictures_inline(
    approval_stack, registered
) -> None:
    opened = approval_stack.open(modelPackageArn=registered)
    page = _review_page(approval_stack, opened["approvalId"])

    assert "Against the champion" in page
    assert "the model the endpoint serves abalone-models v1" in page
    table = page[page.index("Against the champion") :]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table[: table.index("</table>")])
    assert cells[:4] == ["4.5", "4.75", "-0.25", '<span class="pass">challenger</span>']
    assert cells[4:8] == ["0.55", "0.56", "-0.01", '<span class="fail">champion</span>']

    figures = re.findall(r'<figure id="([a-z-]+)"><svg ', page)
    assert figures == ["predicted-vs-actual", "residuals", "feature-importance"]
    assert "challenger: predicted against actual" in page and "data:image/png;base64," in page
    assert "residuals here" in page
    for unsafe in ("<script", "alert(", "onclick", "example.com"):
        assert unsafe not in page
    ids = re.findall(r' id="(pic-[^"]+)"', page)
    assert len(ids) == len(set(ids))  # prefixed per picture: no two pictures share an id


def test_slack_and_email_carry_the_comparison(approval_stack, registered) -> None:
    opened = approval_stack.open(modelPackageArn=registered)
    store = ApprovalStore(approval_stack.aws.client("dynamodb"), approval_stack.table)
    approval = store.get(opened["approvalId"])

    slack = json.dumps(slack_request_message(approval, "https://review"))
    assert "Against the champion, the model the endpoint serves abalone-models v1" in slack
    assert "4.5 against       4.75 (-0.25, challenger better)" in slack
    text = email_message(approval, "https://review", "a@example.com", ("b@example.com",))
    plain = text.get_body(("plain",)).get_content()
    assert "r2           0.55 against       0.56 (-0.01, champion better)" in plain
    html = text.get_body(("html",)).get_content()
    assert "Against the champion" in html and "<svg" not in html  # mail clients drop SVG


def test_a_package_without_review_files_still_opens(approval_stack) -> None:
    arn = _register(approval_stack, {}, None)
    opened = approval_stack.open(modelPackageArn=arn)
    page = _review_page(approval_stack, opened["approvalId"])
    assert "The pipeline registered no comparison with a champion." in page
    assert "<figure" not in page and "<svg" not in page


def test_unreadable_files_are_left_out_not_fatal(approval_stack, caplog) -> None:
    arn = _register(
        approval_stack,
        {"bad/comparison.json": b"not json"},
        {
            PACKAGE_COMPARISON: f"s3://{BUCKET}/bad/comparison.json",
            PACKAGE_PICTURES: f"s3://{BUCKET}/missing/pictures",
        },
    )
    result = lambda_handler(approval_stack.event(modelPackageArn=arn), None)
    item = approval_stack.item(result["approvalId"])
    assert "comparison" not in item and "pictures" not in item
    assert "not JSON" in caplog.text and "NoSuchKey" in caplog.text


def test_without_a_champion_the_page_says_why(approval_stack) -> None:
    comparison = {**review_files.COMPARISON, "champion": None, "comparable": False}
    comparison["reason"] = "no champion: nothing is deployed or approved yet"
    arn = _register(
        approval_stack,
        {"first/comparison.json": json.dumps(comparison).encode()},
        {PACKAGE_COMPARISON: f"s3://{BUCKET}/first/comparison.json"},
    )
    opened = approval_stack.open(modelPackageArn=arn)
    page = _review_page(approval_stack, opened["approvalId"])
    assert "no champion: nothing is deployed or approved yet" in page
    assert "<th scope=col>Champion</th>" not in page


def test_the_files_the_request_names_are_read_without_describing_the_package(
    approval_stack, registered
) -> None:
    """The state machine passes the package's CustomerMetadataProperties (`reviewFiles`), so
    the function needs no DescribeModelPackage (nor a SageMaker client) to open an approval."""
    properties = approval_stack.aws.client("sagemaker").describe_model_package(
        ModelPackageName=registered
    )["CustomerMetadataProperties"]
    unknown = registered.replace("/abalone-models/", "/not-registered/")
    opened = approval_stack.open(modelPackageArn=unknown, reviewFiles=properties)
    page = _review_page(approval_stack, opened["approvalId"])
    assert "Against the champion" in page and page.count("<figure") == 3
