"""Lambda handlers that answer with one variable of their environment."""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def handler(event: dict[str, Any], _context: Any) -> dict[str, str | None]:
    return {"value": os.environ.get(event["name"])}


def slow_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Reads the variable, waits, reads it again: when it ran and what it saw throughout."""
    started = time.monotonic()
    first = os.environ.get(event["name"])
    time.sleep(event["seconds"])
    return {
        "started": started,
        "ended": time.monotonic(),
        "values": [first, os.environ.get(event["name"])],
    }


#: gated_handler: set when an invocation is inside; the invocation returns once RELEASE is set.
ENTERED = threading.Event()
RELEASE = threading.Event()


def gated_handler(_event: dict[str, Any], _context: Any) -> dict[str, bool]:
    """Holds its invocation open until the test releases it (in-process Lambda only)."""
    ENTERED.set()
    return {"released": RELEASE.wait(30)}
