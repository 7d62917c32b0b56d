"""Check the whole definition and order its steps, before any step runs.

Steps nested in a Condition step's IfSteps/ElseSteps join one flat graph with an implicit
dependency on their condition, so one topological order (definition order breaking ties)
serves the whole walk; a step runs only if its branch was taken and nothing it needs was
skipped, which is how SageMaker leaves the untaken branch out of the execution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from localaws.executor.algorithms import check_training
from localaws.executor.cache import parse_duration
from localaws.executor.errors import DefinitionError
from localaws.executor.expressions import step_references
from localaws.executor.quality_check import check_fields, check_quality_check

SUPPORTED_TYPES = (
    "Processing",
    "QualityCheck",
    "Training",
    "Transform",
    "Model",
    "Lambda",
    "Condition",
    "RegisterModel",
    "Fail",
)


@dataclass
class PlannedStep:
    """One step of the definition, with what it waits for."""

    name: str
    type: str
    spec: dict[str, Any]
    needs: set[str] = field(default_factory=set)
    #: (condition step name, True for IfSteps / False for ElseSteps), None at top level.
    branch: tuple[str, bool] | None = None

    @property
    def arguments(self) -> dict[str, Any]:
        return self.spec.get("Arguments") or {}


def plan(definition: dict[str, Any]) -> list[PlannedStep]:
    """Every step in an order that respects its dependencies; DefinitionError if impossible."""
    if not isinstance(definition, dict) or not isinstance(definition.get("Steps"), list):
        raise DefinitionError("the pipeline definition has no Steps list")
    steps = _flatten(definition["Steps"], None)
    names = [s.name for s in steps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionError(f"duplicate step name(s): {', '.join(duplicates)}")
    unsupported = [s for s in steps if s.type not in SUPPORTED_TYPES]
    if unsupported:
        listed = ", ".join(f"{s.name} (type {s.type})" for s in unsupported)
        raise DefinitionError(
            f"the local executor cannot run step(s) {listed}; "
            f"it runs {', '.join(SUPPORTED_TYPES)} steps"
        )
    known = set(names)
    for step in steps:
        _check_step(step, known)
        if step.type == "Training":
            check_training(step.name, step.arguments)
        if step.type == "QualityCheck":
            check_quality_check(step.name, step.spec)
    return _order(steps)


def _flatten(specs: list[Any], branch: tuple[str, bool] | None) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("Name"), str):
            raise DefinitionError(f"a step without a Name: {str(spec)[:200]}")
        name, kind = spec["Name"], spec.get("Type")
        if not isinstance(kind, str):
            raise DefinitionError(f"step {name} has no Type")
        arguments = spec.get("Arguments") or {}
        if not isinstance(arguments, dict):
            raise DefinitionError(f"step {name}: Arguments must be an object")
        step = PlannedStep(name, kind, spec, branch=branch)
        # A Condition waits for what its conditions read; its branches carry their own needs.
        # A QualityCheck also reads its check fields (a supplied baseline may be a property).
        read = arguments.get("Conditions") if kind == "Condition" else arguments
        if kind == "QualityCheck":
            read = {**arguments, **check_fields(spec)}
        step.needs = set(step_references(read)) | _depends_on(spec)
        if branch is not None:
            step.needs.add(branch[0])
        steps.append(step)
        if kind == "Condition":
            for key, outcome in (("IfSteps", True), ("ElseSteps", False)):
                nested = arguments.get(key) or []
                if not isinstance(nested, list):
                    raise DefinitionError(f"step {name}: {key} must be a list")
                steps.extend(_flatten(nested, (name, outcome)))
    return steps


def _depends_on(spec: dict[str, Any]) -> set[str]:
    depends = spec.get("DependsOn") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise DefinitionError(f"step {spec['Name']}: DependsOn must be a list of step names")
    return set(depends)


def _check_step(step: PlannedStep, known: set[str]) -> None:
    missing = sorted(step.needs - known)
    if missing:
        raise DefinitionError(f"step {step.name} refers to unknown step(s) {', '.join(missing)}")
    if step.name in step.needs:
        raise DefinitionError(f"step {step.name} depends on itself")
    if not re.fullmatch(r"[A-Za-z0-9\-_]{1,64}", step.name):
        raise DefinitionError(f"step name {step.name!r}: expected 1-64 of A-Z a-z 0-9 - _")
    cache = step.spec.get("CacheConfig")
    if cache is not None:
        if not isinstance(cache, dict) or not isinstance(cache.get("Enabled", False), bool):
            raise DefinitionError(f"step {step.name}: CacheConfig.Enabled must be true or false")
        if cache.get("ExpireAfter") is not None:
            try:
                parse_duration(cache["ExpireAfter"])
            except ValueError as exc:
                raise DefinitionError(f"step {step.name}: CacheConfig.ExpireAfter {exc}") from None
    if step.type == "Condition" and not isinstance(step.arguments.get("Conditions"), list):
        raise DefinitionError(f"step {step.name}: a Condition step needs a Conditions list")


def _order(steps: list[PlannedStep]) -> list[PlannedStep]:
    """Kahn's algorithm; among ready steps the earliest in the definition goes first."""
    pending = list(steps)
    done: set[str] = set()
    ordered: list[PlannedStep] = []
    while pending:
        ready = next((s for s in pending if s.needs <= done), None)
        if ready is None:
            cycle = ", ".join(s.name for s in pending)
            raise DefinitionError(f"steps depend on each other in a cycle: {cycle}")
        pending.remove(ready)
        done.add(ready.name)
        ordered.append(ready)
    return ordered
