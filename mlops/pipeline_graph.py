"""The DAG of any SageMaker pipeline definition: its steps and what each waits for.

Read generically from the definition JSON (a user's pipeline as much as ours), as SageMaker
builds it: a step waits for the steps it names in DependsOn and for those whose properties it
uses (`{"Get": "Steps.<Name>...."}` anywhere in it, property files of Std:JsonGet included),
and a condition's If and Else steps run after the condition
(https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-steps.html, "Data
dependency between steps" and "Custom dependency between steps").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Edge kinds, strongest first: a pair linked twice is drawn as its strongest link.
EDGE_KINDS = ("if", "else", "data", "depends")


@dataclass(frozen=True)
class Step:
    """One step of the definition, branches included."""

    name: str
    type: str
    #: "QualityGate if" for a step in a condition's If branch; None at the top level.
    branch: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str


@dataclass
class Graph:
    steps: list[Step] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def layers(self) -> dict[str, int]:
        """Longest-path layering: a step is one layer right of its furthest predecessor.

        A definition with a cycle (SageMaker refuses one) still gets layers: the edge that
        closes the cycle is ignored.
        """
        before: dict[str, list[str]] = {s.name: [] for s in self.steps}
        for edge in self.edges:
            before[edge.target].append(edge.source)
        layer: dict[str, int] = {}
        visiting: set[str] = set()

        def place(name: str) -> int:
            if name in layer:
                return layer[name]
            visiting.add(name)
            depth = max(
                (place(p) + 1 for p in before[name] if p not in visiting),
                default=0,
            )
            visiting.discard(name)
            layer[name] = depth
            return depth

        for step in self.steps:
            place(step.name)
        return layer


def pipeline_graph(definition: Mapping[str, Any]) -> Graph:
    """The steps of `definition` in definition order and the edges between them."""
    graph = Graph()
    raw: list[tuple[Step, Mapping[str, Any]]] = []
    for step, body in _walk(definition.get("Steps"), None):
        graph.steps.append(step)
        raw.append((step, body))
    names = {s.name for s in graph.steps}
    # Longest names first, so "Steps.Train2.X" is Train2's even when a step Train exists.
    by_length = sorted(names, key=len, reverse=True)
    property_files = {
        str(f.get("PropertyFileName")): step.name
        for step, body in raw
        for f in body.get("PropertyFiles") or []
        if isinstance(f, Mapping)
    }
    found: dict[tuple[str, str], str] = {}

    def link(source: str, target: str, kind: str) -> None:
        if source == target or source not in names:
            return
        known = found.get((source, target))
        if known is None or EDGE_KINDS.index(kind) < EDGE_KINDS.index(known):
            found[(source, target)] = kind

    for step, body in raw:
        for name in body.get("DependsOn") or []:
            link(str(name), step.name, "depends")
        arguments = body.get("Arguments")
        if step.type == "Condition" and isinstance(arguments, Mapping):
            # The branches are steps of their own; only the conditions are this step's.
            for kind, key in (("if", "IfSteps"), ("else", "ElseSteps")):
                for branch in arguments.get(key) or []:
                    if isinstance(branch, Mapping) and "Name" in branch:
                        link(step.name, str(branch["Name"]), kind)
            searched: Any = arguments.get("Conditions")
        else:
            searched = {k: v for k, v in body.items() if k not in ("Name", "Type", "DependsOn")}
        for reference in _references(searched, property_files):
            source = next(
                (
                    n
                    for n in by_length
                    if reference == n or reference.startswith((n + ".", n + "["))
                ),
                None,
            )
            if source is not None:
                link(source, step.name, "data")
    order = {s.name: i for i, s in enumerate(graph.steps)}
    graph.edges = [
        Edge(source, target, kind)
        for (source, target), kind in sorted(
            found.items(), key=lambda item: (order[item[0][0]], order[item[0][1]])
        )
    ]
    return graph


def _walk(steps: Any, branch: str | None) -> Iterator[tuple[Step, Mapping[str, Any]]]:
    for body in steps if isinstance(steps, list) else []:
        if not isinstance(body, Mapping) or "Name" not in body:
            continue
        step = Step(str(body["Name"]), str(body.get("Type", "?")), branch)
        yield step, body
        arguments = body.get("Arguments")
        if step.type == "Condition" and isinstance(arguments, Mapping):
            yield from _walk(arguments.get("IfSteps"), f"{step.name} if")
            yield from _walk(arguments.get("ElseSteps"), f"{step.name} else")


def _references(value: Any, property_files: Mapping[str, str]) -> Iterator[str]:
    """What `value` reads of other steps: "<Name>.<property>" for each step property it gets."""
    if isinstance(value, Mapping):
        got = value.get("Get")
        if isinstance(got, str) and got.startswith("Steps."):
            yield got.removeprefix("Steps.")
        json_get = value.get("Std:JsonGet")
        if isinstance(json_get, Mapping) and isinstance(json_get.get("PropertyFile"), str):
            # A property file given by name: the step that declares it.
            owner = property_files.get(json_get["PropertyFile"])
            if owner:
                yield owner
        for item in value.values():
            yield from _references(item, property_files)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, property_files)
