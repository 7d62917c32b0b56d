"""The definition's expression language: `Get`, `Std:Join`, `Std:JsonGet` and typed parameters.

A definition is data with embedded expressions; `resolve` replaces every expression with its
value for this execution. Step properties are stored in the shape of the Describe* response of
the step's job, so a reference such as
`Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri` is a plain walk.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from localaws.executor.errors import DefinitionError, StepFailed

EXPRESSION_KEYS = ("Get", "Std:Join", "Std:JsonGet")

#: One segment of a property path: `.Name`, `['key']`, `["key"]` or `[0]`.
_SEGMENT = re.compile(r"""\.?([A-Za-z0-9_:\-]+)|\[(?:'([^']*)'|"([^"]*)"|(\d+))\]""")


class ExpressionError(StepFailed):
    """An expression that cannot be evaluated; fails the step that needs it."""


@dataclass
class Scope:
    """What expressions can read during one execution."""

    parameters: dict[str, Any] = field(default_factory=dict)
    #: Execution variables by name; a callable value is computed on each read.
    execution: dict[str, Any] = field(default_factory=dict)
    #: Step name -> properties (Describe*-shaped), filled as steps finish.
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Reads a JSON document from an S3 URI (`Std:JsonGet` with `S3Uri`).
    read_json: Callable[[str], Any] | None = None


def resolve(value: Any, scope: Scope) -> Any:
    """`value` with every expression in it evaluated."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Get":
                return _get(argument, scope)
            if key == "Std:Join":
                return _join(argument, scope)
            if key == "Std:JsonGet":
                return _json_get(argument, scope)
        return {key: resolve(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    return value


def render(value: Any) -> str:
    """A resolved value as text, the way Join and hyperparameters show it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def step_references(value: Any) -> Iterator[str]:
    """Names of the steps whose properties `value` reads."""
    if isinstance(value, dict):
        get = value.get("Get") if len(value) == 1 else None
        if isinstance(get, str) and get.startswith("Steps."):
            yield get.split(".", 2)[1]
            return
        for item in value.values():
            yield from step_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from step_references(item)


def _get(path: Any, scope: Scope) -> Any:
    if not isinstance(path, str):
        raise ExpressionError(f"Get {path!r}: expected a string such as 'Parameters.Name'")
    root, _, rest = path.partition(".")
    if root == "Parameters":
        if rest not in scope.parameters:
            raise ExpressionError(f"Get {path}: no pipeline parameter named {rest!r}")
        return scope.parameters[rest]
    if root == "Execution":
        if rest not in scope.execution:
            known = ", ".join(sorted(scope.execution))
            raise ExpressionError(f"Get {path}: unknown execution variable (known: {known})")
        value = scope.execution[rest]
        return value() if callable(value) else value
    if root == "Steps":
        step, _, prop = rest.partition(".")
        if step not in scope.steps:
            raise ExpressionError(f"Get {path}: step {step!r} has not run in this execution")
        return walk(scope.steps[step], prop, f"Steps.{step}")
    raise ExpressionError(f"Get {path}: expected Parameters., Execution. or Steps.")


def walk(document: Any, path: str, where: str) -> Any:
    """Follow a property or JSON path (`a.b['c'][0]`) into `document`."""
    current = document
    trail = where
    for name, quoted1, quoted2, index in _segments(path, where):
        key: str | int = int(index) if index else (name or quoted1 or quoted2)
        trail += f"[{key}]" if index else f".{key}"
        current = _step_into(current, key, trail)
    return current


def path_segments(path: str, where: str) -> list[str | int]:
    """The keys a property path walks: `a.b['c'][0]` is ["a", "b", "c", 0]."""
    return [
        int(index) if index else (name or quoted1 or quoted2)
        for name, quoted1, quoted2, index in _segments(path, where)
    ]


def _segments(path: str, where: str) -> Iterator[tuple[str, str, str, str]]:
    path = path.removeprefix("$").removeprefix(".") if path.startswith("$") else path
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"{where}: cannot parse path {path!r} at {path[position:]!r}")
        position = match.end()
        yield match.group(1) or "", match.group(2) or "", match.group(3) or "", match.group(4) or ""


def _step_into(current: Any, key: str | int, trail: str) -> Any:
    if isinstance(current, Mapping):
        if key in current:
            return current[key]
        known = ", ".join(sorted(map(str, current))) or "nothing"
        raise ExpressionError(f"{trail}: not found (available: {known})")
    if isinstance(current, list):
        if isinstance(key, int):
            if key < len(current):
                return current[key]
            raise ExpressionError(f"{trail}: index out of range (length {len(current)})")
        for item in current:  # a list of named items (Outputs, channels) indexed by name
            if isinstance(item, Mapping) and any(
                k.endswith("Name") and v == key for k, v in item.items()
            ):
                return item
        raise ExpressionError(f"{trail}: no item named {key!r}")
    raise ExpressionError(f"{trail}: cannot look up {key!r} in a {type(current).__name__}")


def _join(argument: Any, scope: Scope) -> str:
    if not isinstance(argument, dict) or not isinstance(argument.get("Values"), list):
        raise ExpressionError(f"Std:Join {argument!r}: expected {{'On': str, 'Values': [...]}}")
    separator = render(resolve(argument.get("On", ""), scope))
    return separator.join(render(resolve(item, scope)) for item in argument["Values"])


def _json_get(argument: Any, scope: Scope) -> Any:
    if not isinstance(argument, dict) or "Path" not in argument:
        raise ExpressionError(f"Std:JsonGet {argument!r}: expected PropertyFile or S3Uri, Path")
    path = render(resolve(argument["Path"], scope))
    if "PropertyFile" in argument:
        source = argument["PropertyFile"]
        where = source.get("Get", "PropertyFile") if isinstance(source, dict) else str(source)
        document = resolve(source, scope)
    elif "S3Uri" in argument:
        where = render(resolve(argument["S3Uri"], scope))
        if scope.read_json is None:
            raise ExpressionError(f"Std:JsonGet {where}: no S3 reader configured")
        document = scope.read_json(where)
    else:
        raise ExpressionError(f"Std:JsonGet {argument!r}: expected PropertyFile or S3Uri")
    if not isinstance(document, dict | list):
        raise ExpressionError(f"Std:JsonGet {where}: not a JSON document: {document!r}")
    return walk(document, path, f"JsonGet {where} {path!r}:")


# --- parameters ---------------------------------------------------------------------------


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in {"true", "false"}:
        raise ValueError(text)
    return lowered == "true"


def _to_float(value: Any) -> float:
    number = float(value)
    if isinstance(value, str) and not math.isfinite(number):
        raise ValueError(value)
    return number


def _to_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())


_COERCE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "String": (str, "a string"),
    "Integer": (_to_int, "an integer"),
    "Float": (_to_float, "a number"),
    "Boolean": (lambda v: v if isinstance(v, bool) else _to_bool(str(v)), "true or false"),
}


def resolve_parameters(declared: list[dict[str, Any]], given: Mapping[str, str]) -> dict[str, Any]:
    """Every declared parameter's value: the given one, else its default, typed by `Type`.

    Names that are not declared are rejected, as SageMaker rejects them at start.
    """
    by_name = {str(p.get("Name")): p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise DefinitionError(
            f"unknown pipeline parameter(s) {', '.join(unknown)}; "
            f"the pipeline declares {', '.join(sorted(map(str, by_name))) or 'none'}"
        )
    values: dict[str, Any] = {}
    for name, spec in by_name.items():
        kind = spec.get("Type", "String")
        if kind not in _COERCE:
            raise DefinitionError(f"parameter {name}: unsupported Type {kind!r}")
        if name in given:
            raw, origin = given[name], "given"
        elif "DefaultValue" in spec:
            raw, origin = spec["DefaultValue"], "default"
        else:
            raise DefinitionError(f"parameter {name} has no default and no value was given")
        convert, expected = _COERCE[kind]
        try:
            value = convert(raw)
        except (TypeError, ValueError):
            raise DefinitionError(
                f"parameter {name} ({kind}): {origin} value {raw!r} is not {expected}"
            ) from None
        allowed = spec.get("EnumValues")
        if allowed and value not in allowed:
            raise DefinitionError(
                f"parameter {name}: {value!r} is not one of {', '.join(map(str, allowed))}"
            )
        values[name] = value
    return values
