"""A Lambda handler that keeps the events it receives (in-process Lambda only)."""

from __future__ import annotations

from typing import Any

#: Every event an invocation received, oldest first.
EVENTS: list[dict[str, Any]] = []


def handler(event: dict[str, Any], _context: Any) -> dict[str, bool]:
    """Keeps the event; raises when the event's detail asks it to, as a failing function."""
    EVENTS.append(event)
    if (event.get("detail") or {}).get("fail"):
        raise RuntimeError("asked to fail")
    return {"kept": True}
