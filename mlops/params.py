"""`--param Name=Value` parsing, checked before anything starts.

A value SageMaker or XGBoost would refuse (or, worse, accept and misuse) fails here in a
second rather than in a job minutes later: names against the declared parameters, numbers for
their type, finiteness and range (pipelines.parameters.LIMITS, which cites its sources).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from core.errors import UsageError
from pipelines.parameters import DECLARED, LIMITS

#: What SageMaker parses as a pipeline Integer or Float: plain decimal notation, no `1_000`,
#: no non-ASCII digits (which Python's int() and float() would accept).
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EXPECTED = {"Integer": "an integer", "Float": "a finite number"}


def declared_parameters() -> dict[str, Any]:
    """The parameters of the pipeline definition, in its shape, without building it."""
    return {"Parameters": [{"Name": name, "Type": kind} for name, kind in DECLARED.items()]}


def parse_params(pairs: Iterable[str], definition: dict[str, Any] | None = None) -> dict[str, str]:
    """Validate `Name=Value` pairs against a definition's parameters (default: the declared)."""
    definition = declared_parameters() if definition is None else definition
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
        _check_value(name, value, spec["Type"])
        allowed = spec.get("EnumValues")
        if allowed and value not in allowed:
            raise UsageError(f"--param {name}={value!r}: expected one of {', '.join(allowed)}")
        values[name] = value
    return values


def _check_value(name: str, value: str, kind: str) -> None:
    """The value parses as its type and lies in the parameter's range, if it has one."""
    if kind == "Boolean":
        if value.lower() not in {"true", "false"}:
            raise UsageError(f"--param {name}={value!r}: expected true or false")
        return
    if kind not in _EXPECTED:
        return
    limit = LIMITS.get(name)
    wanted = _EXPECTED[kind] + (f" {limit.describe()} ({limit.source})" if limit else "")
    pattern = _INTEGER if kind == "Integer" else _FLOAT
    if not pattern.fullmatch(value):
        raise UsageError(f"--param {name}={_shown(value)}: expected {wanted}")
    number: float = int(value) if kind == "Integer" else float(value)
    if not _finite(number) or (limit and not limit.allows(number)):
        raise UsageError(f"--param {name}={_shown(value)}: expected {wanted}")


def _finite(number: float) -> bool:
    """1e999 is inf to float(); an int of any size is finite."""
    return isinstance(number, int) or math.isfinite(number)


def _shown(value: str, limit: int = 40) -> str:
    """The value as typed, quoted; a huge one cut short so the error stays one line."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
