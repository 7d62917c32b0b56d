"""A real browser (Debian's headless chromium) approves a model on the review page."""

from __future__ import annotations

import json
from urllib.parse import urlencode


def test_reviewer_approves_in_a_real_browser(approval_stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    execution_arn, approval_id, expires_at = approval_stack.start_workflow(
        f"browser-{approval_stack.suffix}"
    )
    query = urlencode(approval_stack.review_query(approval_id, expires_at))
    browser.get(f"{approval_stack.url}/review?{query}")

    assert "abalone-models v3" in browser.title
    assert approval_stack.item(approval_id)["status"]["S"] == "PENDING"
    browser.find_element(By.ID, "approve-by").send_keys("Ana Lima <ana@example.com>")
    browser.find_element(By.ID, "approve-comment").send_keys("MSE well under the gate.")
    browser.find_element(By.ID, "approve-button").click()
    WebDriverWait(browser, 15).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "approved")
    )

    assert "workflow has received the decision" in browser.page_source
    item = approval_stack.item(approval_id)
    assert item["status"]["S"] == "APPROVED"
    assert item["decided_by"]["S"] == "Ana Lima <ana@example.com>"
    assert item["comment"]["S"] == "MSE well under the gate."
    execution = approval_stack.wait_for_execution(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["decision"] == "approved"


def test_the_review_page_shows_the_champion_and_the_pictures(approval_stack, browser):
    """The pictures render inline (their embedded points too) under the page's strict CSP,
    and the page loads nothing from anywhere."""
    from fakes import review_files
    from selenium.webdriver.common.by import By

    bucket = f"pictures-{approval_stack.suffix}".lower()
    approval_stack.aws.client("s3").create_bucket(Bucket=bucket)
    package = review_files.register(approval_stack.aws, "abalone-models", bucket, "x/evaluation")
    opened = approval_stack.open(modelPackageArn=package)
    expires_at = int(approval_stack.item(opened["approvalId"])["expires_at"]["N"])
    query = urlencode(approval_stack.review_query(opened["approvalId"], expires_at))
    browser.get(f"{approval_stack.url}/review?{query}")

    assert "Against the champion" in browser.find_element(By.TAG_NAME, "main").text
    figures = browser.find_elements(By.CSS_SELECTOR, "figure > svg")
    assert [f.find_element(By.XPATH, "..").get_attribute("id") for f in figures] == [
        "predicted-vs-actual",
        "residuals",
        "feature-importance",
    ]
    for figure in figures:
        assert figure.size["width"] > 200 and figure.size["height"] > 100
    # The scatter's points are a PNG inside the SVG: drawn, not blocked by the policy.
    assert browser.execute_script(
        "return [...document.querySelectorAll('figure svg image')]"
        ".every(i => i.getBBox().width > 0)"
    )
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    refused = [
        e["message"] for e in browser.get_log("browser") if "Content Security" in e["message"]
    ]
    assert refused == []
