"""A stand-in for the approval Lambda that records each request so a test can decide it.

The local Lambda seam runs `handler` in-process; the test then plays the reviewer by calling
SendTaskSuccess/SendTaskFailure with the recorded task token, as the real function does.
"""

from __future__ import annotations

import queue
import time
from typing import Any

REQUESTS: queue.Queue[dict[str, Any]] = queue.Queue()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    REQUESTS.put(event)
    return {"approvalId": "fake", "reviewUrl": "http://localhost/review", "notified": []}


def request_for(execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    """The approval request of one execution; requests of other executions are dropped."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no approval request from {execution_arn} within {timeout} s")
        try:
            event = REQUESTS.get(timeout=remaining)
        except queue.Empty:
            continue
        if event.get("executionArn") == execution_arn:
            return event
