"""Condition step semantics: every SageMaker condition type, on resolved (typed) values.

Numbers compare as numbers (a numeric string against a number is read as a number, since
JsonGet and Join can hand over text); two strings compare as strings; anything else is an
error that names both values rather than a silent False.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from localaws.executor.expressions import ExpressionError

Resolver = Callable[[Any], Any]

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}
CONDITION_TYPES = frozenset({*_ORDERINGS, "Equals", "In", "Not", "Or"})


def all_hold(conditions: list[dict[str, Any]], resolve: Resolver) -> bool:
    """A Condition step's outcome: True when every condition holds."""
    return all(evaluate(condition, resolve) for condition in conditions)


def evaluate(condition: dict[str, Any], resolve: Resolver) -> bool:
    """One condition's value; `resolve` evaluates the expressions inside it."""
    kind = condition.get("Type")
    if kind in _ORDERINGS:
        left, right = _operands(condition, resolve)
        return _ORDERINGS[kind](*_comparable(left, right, kind))
    if kind == "Equals":
        return _equal(*_operands(condition, resolve))
    if kind == "In":
        query = resolve(condition.get("QueryValue"))
        values = resolve(condition.get("Values"))
        if not isinstance(values, list):
            raise ExpressionError(f"In condition: Values must be a list, got {values!r}")
        return any(_equal(query, value) for value in values)
    if kind == "Not":
        inner = condition.get("Condition") or condition.get("Expression")
        if not isinstance(inner, dict):
            raise ExpressionError("Not condition: expected a Condition to negate")
        return not evaluate(inner, resolve)
    if kind == "Or":
        inner_list = condition.get("Conditions")
        if not isinstance(inner_list, list):
            raise ExpressionError("Or condition: expected a list of Conditions")
        return any(evaluate(inner, resolve) for inner in inner_list)
    raise ExpressionError(
        f"unknown condition type {kind!r} (supported: {', '.join(sorted(CONDITION_TYPES))})"
    )


def _operands(condition: dict[str, Any], resolve: Resolver) -> tuple[Any, Any]:
    if "LeftValue" not in condition or "RightValue" not in condition:
        raise ExpressionError(f"{condition.get('Type')} condition: needs LeftValue and RightValue")
    return resolve(condition["LeftValue"]), resolve(condition["RightValue"])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _comparable(left: Any, right: Any, kind: str) -> tuple[Any, Any]:
    if _is_number(left) or _is_number(right):
        a, b = _as_number(left), _as_number(right)
        if a is not None and b is not None:
            return a, b
    elif isinstance(left, str) and isinstance(right, str):
        return left, right
    raise ExpressionError(f"{kind} condition: cannot compare {left!r} with {right!r}")


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) or _is_number(right):
        a, b = _as_number(left), _as_number(right)
        return a is not None and b is not None and a == b
    return type(left) is type(right) and left == right
