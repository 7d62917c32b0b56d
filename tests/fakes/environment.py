"""A Lambda handler that answers with one variable of its environment."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], _context: Any) -> dict[str, str | None]:
    return {"value": os.environ.get(event["name"])}
