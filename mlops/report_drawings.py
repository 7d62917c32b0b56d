"""The run report's pictures, drawn as inline SVG: the pipeline's DAG and the execution's path.

Plain SVG text with no ids, scripts or external references, styled by the page's CSS classes;
every name from a run's files is escaped. The layout is simple on purpose (no graphviz on the
machine): steps in longest-path layers left to right, ordered within a layer by where their
predecessors are; the path as columns of states read top to bottom.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from mlops.execution_path import Stop
from mlops.pipeline_graph import Edge, Graph

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 184, 46, 64, 18, 14
#: About how many characters of 12px text fit in a node.
_NODE_CHARS = 23
#: SageMaker step statuses (ListPipelineExecutionSteps' StepStatus) to a drawing class.
_STEP_CLASS = {
    "Succeeded": "ok",
    "Failed": "failed",
    "Starting": "running",
    "Executing": "running",
    "Stopping": "stopped",
    "Stopped": "stopped",
}
STATE_W, STATE_H, STATE_GAP, COLUMN_GAP = 250, 26, 8, 46
#: States per column of the path picture.
STATES_PER_COLUMN = 16


def dag_svg(graph: Graph, steps: Mapping[str, Mapping[str, Any]]) -> str:
    """The DAG, each step coloured by its status in `steps` (summary.json's, by name).

    An edge that spans several layers passes through a thin slot of its own in each layer
    between (the usual "dummy node" of layered drawing), so it runs beside the steps of those
    layers instead of under them.
    """
    layout = _Layout(graph)
    parts = [
        _svg_open(
            "dag",
            layout.width,
            layout.height,
            f"The pipeline's {len(graph.steps)} steps and their order",
        )
    ]
    for edge, slots in layout.routes:
        parts.append(_arrow(layout.points(edge, slots), edge.kind, edge.source, edge.target))
    for step in graph.steps:
        x, y = layout.where[step.name]
        parts.append(_node(step.name, step.type, steps.get(step.name), x, y))
    parts.append("</svg>")
    return "".join(parts)


#: A passing edge's slot in a layer it crosses, and the space around each slot.
_LANE_H, _LANE_GAP = 6, 8


class _Layout:
    """Where each step (and each passing edge's slot) sits: layers left to right, slots
    ordered within a layer by the mean position of their neighbours, swept down and up."""

    def __init__(self, graph: Graph) -> None:
        layer = graph.layers()
        first = {s.name: i for i, s in enumerate(graph.steps)}
        columns: dict[int, list[str]] = {}
        for step in graph.steps:
            columns.setdefault(layer[step.name], []).append(step.name)
        self.lanes: set[str] = set()
        self.routes: list[tuple[Edge, list[str]]] = []
        before: dict[str, list[str]] = {}
        after: dict[str, list[str]] = {}
        for number, edge in enumerate(graph.edges):
            crossed = range(layer[edge.source] + 1, layer[edge.target])
            slots = [f"{number}:{depth}" for depth in crossed]
            for depth, slot in zip(crossed, slots, strict=True):
                columns[depth].append(slot)
                first[slot] = first[edge.source]
            self.lanes.update(slots)
            self.routes.append((edge, slots))
            chain = [edge.source, *slots, edge.target]
            for a, b in itertools.pairwise(chain):
                before.setdefault(b, []).append(a)
                after.setdefault(a, []).append(b)
        rank: dict[str, float] = {}
        for names in columns.values():
            names.sort(key=lambda n: first[n])
            rank.update((n, i) for i, n in enumerate(names))
        depths = sorted(columns)
        down, up = depths[1:], depths[-2::-1]
        for sweep, near in ((down, before), (up, after), (down, before)):
            for depth in sweep:
                names = columns[depth]  # in its current order: the sort is stable
                names.sort(key=lambda n: _mean([rank[m] for m in near.get(n, [])], rank[n]))
                rank.update((n, i) for i, n in enumerate(names))
        heights = {d: sum(self._size(n) for n in columns[d]) - _LANE_GAP for d in columns}
        tallest = max(heights.values(), default=0)
        self.width = PAD * 2 + len(columns) * NODE_W + max(0, len(columns) - 1) * GAP_X
        self.height = PAD * 2 + tallest
        self.where: dict[str, tuple[float, float]] = {}
        for depth, names in columns.items():
            y = PAD + (tallest - heights[depth]) / 2
            for name in names:
                self.where[name] = (PAD + depth * (NODE_W + GAP_X), y)
                y += self._size(name)

    def _size(self, name: str) -> float:
        return _LANE_H + _LANE_GAP if name in self.lanes else NODE_H + GAP_Y

    def points(self, edge: Edge, slots: list[str]) -> list[tuple[float, float]]:
        """The edge's way: out of its source, through each slot, into its target."""
        (x, y) = self.where[edge.source]
        way = [(x + NODE_W, y + NODE_H / 2)]
        for slot in slots:
            x, y = self.where[slot]
            way += [(x, y + _LANE_H / 2), (x + NODE_W, y + _LANE_H / 2)]
        x, y = self.where[edge.target]
        return [*way, (x, y + NODE_H / 2)]


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _svg_open(kind: str, width: float, height: float, label: str) -> str:
    return (
        f'<svg class="{kind}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'aria-label="{escape(label)}">'
    )


def _arrow(way: list[tuple[float, float]], kind: str, source: str, target: str) -> str:
    """A smooth path through `way`: curves between layers, straight through a passing slot."""
    (x, y), rest = way[0], way[1:]
    path = [f"M{x:.1f},{y:.1f}"]
    for index, (x2, y2) in enumerate(rest):
        last = index == len(rest) - 1
        end = x2 - 6 if last else x2  # the arrowhead takes the last 6 px
        if index % 2 == 0:  # between layers
            bend = max(20.0, (x2 - x) / 2)
            path.append(f"C{x + bend:.1f},{y:.1f} {x2 - bend:.1f},{y2:.1f} {end:.1f},{y2:.1f}")
        else:  # through a layer's slot
            path.append(f"L{end:.1f},{y2:.1f}")
        x, y = x2, y2
    head = f"{x:.1f},{y:.1f} {x - 8:.1f},{y - 4:.1f} {x - 8:.1f},{y + 4:.1f}"
    label = ""
    if kind in ("if", "else"):
        label = (
            f'<text class="edge-label" x="{x - 30:.1f}" y="{y - 6:.1f}" '
            f'text-anchor="middle">{kind}</text>'
        )
    return (
        f'<g class="edge {kind}" data-from="{escape(source)}" data-to="{escape(target)}">'
        f"<title>{escape(source)} \u2192 {escape(target)} ({_EDGE_WORDS[kind]})</title>"
        f'<path d="{" ".join(path)}"/><polygon points="{head}"/>{label}</g>'
    )


_EDGE_WORDS = {
    "if": "runs when the condition holds",
    "else": "runs when the condition fails",
    "data": "uses its properties",
    "depends": "DependsOn",
}


def _node(name: str, kind: str, report: Mapping[str, Any] | None, x: float, y: float) -> str:
    status = str(report.get("status")) if report else "not run"
    css = _STEP_CLASS.get(status, "notrun" if report is None else "other")
    cached = bool(report and report.get("cache_hit"))
    seconds = report.get("seconds") if report else None
    detail = [kind]
    if cached:
        detail.append("cache hit")
    elif isinstance(seconds, int | float):
        detail.append(f"{seconds:.1f} s")
    else:
        detail.append(status.lower())
    tip = f"{name} ({kind}): {status}" + (", cache hit" if cached else "")
    if isinstance(seconds, int | float):
        tip += f", {seconds:.3f} s"
    badge = (
        f'<rect class="badge" x="{x + NODE_W - 16:.1f}" y="{y + 5:.1f}" '
        'width="10" height="10" rx="5"/>'
        if cached
        else ""
    )
    return (
        f'<g class="step {css}{" cached" if cached else ""}" data-step="{escape(name)}" '
        f'data-status="{escape(status)}" data-cache-hit="{str(cached).lower()}">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="7"/>{badge}'
        f'<text class="name" x="{x + 10:.1f}" y="{y + 19:.1f}">{escape(_clip(name))}</text>'
        f'<text class="detail" x="{x + 10:.1f}" y="{y + 36:.1f}">'
        f"{escape(_clip(' · '.join(detail)))}</text></g>"
    )


def path_svg(stops: Sequence[Stop]) -> str:
    """The execution's path: its states top to bottom in columns, loops bracketed with a count."""
    count = len(stops)
    columns = max(1, -(-count // STATES_PER_COLUMN))
    rows = min(count, STATES_PER_COLUMN)
    left = 34  # room for the loops' brackets and counts
    width = PAD * 2 + columns * (left + STATE_W) + (columns - 1) * COLUMN_GAP
    height = PAD * 2 + rows * STATE_H + max(0, rows - 1) * STATE_GAP
    parts = [_svg_open("path", width, height, f"The {count} states the execution went through")]

    def spot(index: int) -> tuple[float, float]:
        column, row = divmod(index, STATES_PER_COLUMN)
        return (
            PAD + left + column * (left + STATE_W + COLUMN_GAP),
            PAD + row * (STATE_H + STATE_GAP),
        )

    for index in range(1, count):
        (x1, y1), (x2, y2) = spot(index - 1), spot(index)
        if x1 == x2:
            parts.append(
                f'<path class="link" d="M{x1 + STATE_W / 2:.1f},{y1 + STATE_H:.1f} V{y2:.1f}"/>'
            )
        else:  # from the bottom of one column to the top of the next
            parts.append(
                f'<path class="link" d="M{x1 + STATE_W / 2:.1f},{y1 + STATE_H:.1f} '
                f"v6 H{x1 + STATE_W + COLUMN_GAP / 2:.1f} V{y2 - 6:.1f} "
                f'H{x2 + STATE_W / 2:.1f} V{y2:.1f}"/>'
            )
    parts.extend(_loop_brackets(stops, spot))
    for index, stop in enumerate(stops):
        x, y = spot(index)
        seconds = "" if stop.seconds is None else f"{stop.seconds:.2f} s"
        tip = f"{stop.name} ({stop.type} state): {_OUTCOME_WORDS.get(stop.outcome, stop.outcome)}"
        if stop.repeats > 1:
            tip += f", entered {stop.repeats} times"
        errors = sorted({v.error for v in stop.visits if v.error})
        if errors:
            tip += f" ({', '.join(errors)})"
        if seconds:
            tip += f", {seconds}"
        parts.append(
            f'<g class="state {stop.outcome} {escape(stop.type.lower())}" '
            f'data-state="{escape(stop.name)}" data-outcome="{stop.outcome}" '
            f'data-repeats="{stop.repeats}"><title>{escape(tip)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{STATE_W}" height="{STATE_H}" rx="5"/>'
            f'<text x="{x + 8:.1f}" y="{y + 17:.1f}">{escape(_clip(stop.name, 27))}</text>'
            f'<text class="seconds" x="{x + STATE_W - 8:.1f}" y="{y + 17:.1f}" '
            f'text-anchor="end">{seconds}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


_OUTCOME_WORDS = {
    "ok": "exited",
    "caught": "an error was caught",
    "failed": "the execution failed here",
    "open": "still running",
}


def _loop_brackets(stops: Sequence[Stop], spot: Any) -> list[str]:
    """A bracket left of each loop's states (per column when a loop spans two), with its count."""
    parts = []
    index = 0
    while index < len(stops):
        loop = stops[index].loop
        if loop is None:
            index += 1
            continue
        end = index
        column = spot(index)[0]
        while end + 1 < len(stops) and stops[end + 1].loop == loop and spot(end + 1)[0] == column:
            end += 1
        (x, top), (_, bottom) = spot(index), spot(end)
        bottom += STATE_H
        parts.append(
            f'<path class="loop" d="M{x - 4:.1f},{top + 3:.1f} H{x - 12:.1f} '
            f'V{bottom - 3:.1f} H{x - 4:.1f}"/>'
            f'<text class="loop-count" x="{x - 15:.1f}" y="{(top + bottom) / 2 + 4:.1f}" '
            f'text-anchor="end">\u00d7{stops[index].repeats}</text>'
        )
        index = end + 1
    return parts


@dataclass(frozen=True)
class Bar:
    """One row of a timeline: what, the words beside it, and when it ran (seconds)."""

    label: str
    #: A few words beside the label; `tip` is the row's tooltip (the label and detail if unset).
    detail: str
    start: float
    seconds: float
    css: str = ""
    tip: str = ""


def timeline_svg(bars: Sequence[Bar], kind: str, label: str) -> str:
    """A Gantt-like chart: one row per bar, on one time axis from 0 to the latest end."""
    span = max((b.start + b.seconds for b in bars), default=0.0) or 1.0
    label_w, chart_w, row_h = 330, 520, 22
    width = PAD * 2 + label_w + chart_w
    height = PAD * 2 + len(bars) * row_h + 18
    scale = chart_w / span
    parts = [_svg_open(f"timeline {kind}", width, height, label)]
    x0 = PAD + label_w
    for tick in _ticks(span):
        x = x0 + tick * scale
        parts.append(
            f'<line class="tick" x1="{x:.1f}" y1="{PAD:.1f}" x2="{x:.1f}" '
            f'y2="{height - PAD - 14:.1f}"/><text class="tick" x="{x:.1f}" '
            f'y="{height - PAD:.1f}" text-anchor="middle">{tick:g} s</text>'
        )
    for index, bar in enumerate(bars):
        y = PAD + index * row_h
        parts.append(
            f'<g class="row {escape(bar.css)}" data-label="{escape(bar.label)}">'
            f"<title>{escape(bar.label)}: {escape(bar.tip or bar.detail)}</title>"
            f'<text x="{PAD:.1f}" y="{y + 15:.1f}">{escape(_clip(bar.label, 26))}'
            f'<tspan class="detail" x="{PAD + 190:.1f}">{escape(_clip(bar.detail, 20))}</tspan>'
            f'</text><rect x="{x0 + bar.start * scale:.1f}" y="{y + 4:.1f}" '
            f'width="{max(bar.seconds * scale, 2):.1f}" height="{row_h - 8}" rx="2"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(span: float) -> list[float]:
    """About five round times from 0 to `span`."""
    step = 10 ** math.floor(math.log10(span / 5)) if span > 0 else 1
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= 6:
            step *= factor
            break
    return [round(i * step, 6) for i in range(int(span / step) + 1)]


def _clip(text: str, chars: int = _NODE_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "\u2026"
