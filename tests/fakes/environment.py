"""Lambda handlers that answer with one variable of their environment."""

from __future__ import annotations

import os
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
