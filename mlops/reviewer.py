"""`--approve auto|reject`: decide the way a person does, through the review page.

The reviewer opens the review link (a GET, which never decides), reads the form for its
choice from the page, fills in its name and a comment, and submits it (a POST). Nothing
reaches around the page to the table or to Step Functions.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

from approval.model import APPROVE, REJECT
from approval.pages import FIELD_ACTION, FIELD_COMMENT, FIELD_DECIDED_BY

__all__ = ["APPROVE", "REJECT", "decide"]
TIMEOUT_SECONDS = 10


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    """Collects every POST form with its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method", "").lower() == "post":
            self.forms.append(_Form(values.get("action", "")))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].fields[values.get("name", "")] = values.get("value", "")


def decide(review_url: str, choice: str, decided_by: str, comment: str) -> str:
    """Submit `choice` from the review page at `review_url`; returns the result page's text."""
    with urllib.request.urlopen(review_url, timeout=TIMEOUT_SECONDS) as response:
        page = response.read().decode()
    parser = _Forms()
    parser.feed(page)
    form = next((f for f in parser.forms if f.fields.get(FIELD_ACTION) == choice), None)
    if form is None:
        raise RuntimeError(f"the review page at {review_url} offers no {choice!r} form")
    data = urllib.parse.urlencode(
        {**form.fields, FIELD_DECIDED_BY: decided_by, FIELD_COMMENT: comment}
    ).encode()
    target = urllib.parse.urljoin(review_url, form.action)
    request = urllib.request.Request(
        target, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.read().decode()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"the decision was refused: HTTP {exc.code}") from exc
