"""`--param Name=Value` parsing, checked against the definition before anything starts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.errors import UsageError

_CHECKS = {
    "Integer": (int, "an integer"),
    "Float": (float, "a number"),
    "Boolean": (lambda v: {"true": True, "false": False}[v.lower()], "true or false"),
}


def parse_params(pairs: Iterable[str], definition: dict[str, Any]) -> dict[str, str]:
    """Validate `Name=Value` pairs against the pipeline's declared parameters."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {pair!r}: expected Name=Value")
        if name not in declared:
            raise UsageError(
                f"--param {name}: unknown pipeline parameter; expected one of "
                + ", ".join(sorted(declared))
            )
        spec = declared[name]
        check, expected = _CHECKS.get(spec["Type"], (str, "a string"))
        try:
            check(value)
        except (ValueError, KeyError):
            raise UsageError(f"--param {name}={value!r}: expected {expected}") from None
        allowed = spec.get("EnumValues")
        if allowed and value not in allowed:
            raise UsageError(f"--param {name}={value!r}: expected one of {', '.join(allowed)}")
        values[name] = value
    return values
