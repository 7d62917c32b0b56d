"""`runs/<id>/report.html`: one self-contained page per run, read from the run folder alone.

The page is rendered from the files `mlops run` wrote (summary.json, definition.json,
execution_history.json, state_machine.asl.json, logs/, pictures/), so an old run can be
rendered again at any time. It runs no script and loads nothing: its CSS is inline, its
pictures are inline SVG (the evaluation's through approval.svg.sanitize), and a
Content-Security-Policy forbids anything else; links to the run's logs and files are
relative. Every value read from a file is escaped. A run that failed, was rejected, ran the
pipeline alone or ran a user's pipeline renders too: a section says what its run lacks.
"""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from approval import svg
from core import contracts
from core.errors import UsageError
from core.files import write_atomic
from mlops.execution_path import (
    Visit,
    asl_states,
    execution_end,
    execution_input,
    fold,
    visits,
)
from mlops.history import REPORT, SUMMARY, PastRun, decision_line, endpoint_line
from mlops.pipeline_graph import Graph, pipeline_graph
from mlops.report_drawings import Bar, dag_svg, path_svg, timeline_svg
from mlops.report_html import (
    STYLE,
    as_number,
    as_seconds,
    as_text,
    facts,
    fmt,
    note,
    section,
)
from mlops.report_metrics import metrics_section

#: The page forbids every fetch: no scripts, fonts, frames or connections; styles only inline;
#: images only as data: URIs (an evaluation picture may embed a PNG).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
#: The run folder's files, as `mlops run` names them.
DEFINITION, ASL, HISTORY, TEMPLATE = (
    "definition.json",
    "state_machine.asl.json",
    "execution_history.json",
    "template.json",
)
#: Links to these come first in the page's list of files, in this order.
_RUN_FILES = (SUMMARY, DEFINITION, ASL, HISTORY, TEMPLATE, "evaluation.json", "build.log")


def write_report(folder: Path) -> Path:
    """Render `<folder>/report.html` from the run folder's files; its path."""
    path = folder / REPORT
    write_atomic(path, render(folder))
    return path


def open_report(folder: Path) -> str:
    """Open the run's report in the user's browser (rendered first if the run has none).

    Returns the URI opened. The browser is Python's webbrowser choice, so the BROWSER
    environment variable names another.
    """
    path = folder / REPORT
    if not path.is_file():
        try:
            write_report(folder)
        except OSError as error:
            raise UsageError(
                f"RUN {folder.name}: it has no {REPORT} and one cannot be written there "
                f"({error.strerror or error})"
            ) from None
    uri = path.resolve().as_uri()
    if not webbrowser.open(uri):
        raise UsageError(f"--open: no browser found to open {path} (set BROWSER to one)")
    return uri


def render(folder: Path) -> str:
    """The report page of the run in `folder`, as HTML text."""
    run = _RunFiles(folder)
    sections = [
        _header(run),
        _pipeline_section(run),
        _workflow_section(run),
        _timeline_section(run),
        metrics_section(run.past),
        _pictures_section(run),
        _decision_section(run),
        _deployment_section(run),
        _cost_section(run),
        _files_section(run),
    ]
    title = f"Run {run.run_id}: {run.get('status') or 'unknown status'}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


class _RunFiles:
    """The run folder's JSON files, each None when missing or unreadable (noted, not raised)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: dict[str, str] = {}
        summary = self._json(SUMMARY)
        self.summary: dict[str, Any] = summary if isinstance(summary, dict) else {}
        self.run_id = str(self.summary.get("run_id") or folder.name)
        # Its fields, and when it started as its id says (wherever the folder is now).
        self.past = PastRun(Path(self.run_id), self.summary)
        definition = self._json(DEFINITION)
        self.definition = definition if isinstance(definition, dict) else None
        asl = self._json(ASL)
        self.asl = asl if isinstance(asl, dict) else None
        history = self._json(HISTORY)
        if isinstance(history, dict):  # the API's own shape, {"events": [...]}
            history = history.get("events")
        self.events: list[dict[str, Any]] | None = (
            [e for e in history if isinstance(e, dict)] if isinstance(history, list) else None
        )
        self.graph: Graph | None = (
            None if self.definition is None else pipeline_graph(self.definition)
        )
        self.visits: list[Visit] = visits(self.events or [])

    def _json(self, name: str) -> Any:
        path = self.folder / name
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            self.problems[name] = f"{name} is not readable JSON ({error})"
            return None

    def get(self, *path: str) -> Any:
        return self.past.field(*path)

    @property
    def workflow_ran(self) -> bool:
        return "execution_status" in self.summary or self.events is not None

    def steps(self) -> dict[str, dict[str, Any]]:
        return {str(s.get("name")): s for s in self.get("steps") or [] if isinstance(s, dict)}


# -- sections --------------------------------------------------------------------------------


def _header(run: _RunFiles) -> str:
    status = str(run.get("status") or "unknown")
    css = {"Succeeded": "ok", "Failed": "failed"}.get(status, "other")
    problems = "".join(note(p) for p in run.problems.values())
    if not run.summary:
        problems += note(f"{SUMMARY} is missing or not an object: the run's outcome is unknown")
    failure = run.get("failure_reason")
    if run.get("execution_status") not in (None, "SUCCEEDED") and run.get("execution_cause"):
        failure = f"{run.get('execution_error')}: {run.get('execution_cause')}"
    return (
        f'<header class="{css}"><h1>Run {escape(run.run_id)} '
        f'<span class="status {css}">{escape(status)}</span></h1>'
        + facts(
            [
                ("Started (UTC)", run.past.started),
                ("Duration", as_seconds(run.get("timings", "total"))),
                ("Pipeline", _pipeline_name(run)),
                ("Module", run.get("module")),
                ("Trigger", _trigger(run)),
                ("Decision", _decision_line(run)),
                ("Endpoint", endpoint_line(run.past)),
                ("Failure", failure),
            ]
        )
        + problems
        + "</header>"
    )


def _pipeline_section(run: _RunFiles) -> str:
    if run.graph is None:
        return section(
            "pipeline",
            "Pipeline",
            note(run.problems.get(DEFINITION) or f"{DEFINITION} is missing: no DAG to draw"),
        )
    steps = run.steps()
    ran = sum(1 for s in run.graph.steps if s.name in steps)
    legend = (
        '<p class="legend"><span class="key ok">succeeded</span>'
        '<span class="key failed">failed</span><span class="key running">running</span>'
        '<span class="key notrun">not run</span><span class="key cached">cache hit</span>'
        " Arrows: a step uses another's properties; dashed, DependsOn; "
        "if and else, a condition's branches.</p>"
    )
    return section(
        "pipeline",
        "Pipeline",
        f"<p>{len(run.graph.steps)} steps, {ran} of them ran in this execution.</p>",
        f'<div class="picture">{dag_svg(run.graph, steps)}</div>',
        legend,
    )


def _workflow_section(run: _RunFiles) -> str:
    title = "State machine path"
    if run.events is None:
        if not run.workflow_ran:
            return section("workflow", title, note("No state machine ran: the pipeline ran alone."))
        return section(
            "workflow",
            title,
            note(run.problems.get(HISTORY) or f"{HISTORY} is missing: no path to draw"),
        )
    end, error, cause = execution_end(run.events)
    ended = f"Execution {end.removeprefix('Execution').lower() or end}"
    if error or cause:
        ended += f": {error or ''}{': ' if error and cause else ''}{cause or ''}"
    entered = {v.name for v in run.visits}
    skipped = [n for n in asl_states(run.asl or {}) if n not in entered]
    body = [
        f"<p>{len(run.visits)} states entered, in order (each loop drawn once, with its "
        f"count). {escape(ended)}.</p>",
    ]
    if run.visits:
        body.append(f'<div class="picture">{path_svg(fold(run.visits))}</div>')
        body.append(
            '<p class="legend"><span class="key state-task">task</span>'
            '<span class="key state-other">choice, pass, wait</span>'
            '<span class="key caught">error caught</span>'
            '<span class="key failed">failed here</span></p>'
        )
    if skipped:
        names = ", ".join(skipped)
        body.append(
            f"<details><summary>{len(skipped)} states of the state machine were not entered"
            f'</summary><p class="not-entered">{escape(names)}</p></details>'
        )
    return section("workflow", title, *body)


def _timeline_section(run: _RunFiles) -> str:
    body = []
    steps = [s for s in run.get("steps") or [] if isinstance(s, dict)]
    if steps:
        start = _step_starts(steps, run.graph)
        bars = [
            Bar(
                str(s.get("name")),
                _step_words(s),
                start.get(str(s.get("name")), 0.0),
                as_number(s.get("seconds")) or 0.0,
                _step_css(s),
                tip=_step_detail(s),
            )
            for s in steps
        ]
        body.append(
            "<h3>Pipeline steps</h3><p>Each step drawn from when the steps it waits for had "
            "ended (its place in the DAG) for as long as it ran.</p>"
            f'<div class="picture">{timeline_svg(bars, "steps", "The steps over time")}</div>'
        )
    else:
        body.append(note("No pipeline step ran."))
    phases = _phase_bars(run)
    if phases:
        body.append(
            "<h3>The run's phases</h3>"
            f'<div class="picture">{timeline_svg(phases, "phases", "The phases over time")}</div>'
        )
    return section("timeline", "Timeline", *body)


def _step_starts(steps: list[dict[str, Any]], graph: Graph | None) -> dict[str, float]:
    """When each step could start: when the last step it waits for ended (0 without a DAG)."""
    seconds = {str(s.get("name")): as_number(s.get("seconds")) or 0.0 for s in steps}
    if graph is None:
        return {}
    before: dict[str, list[str]] = {}
    for edge in graph.edges:
        before.setdefault(edge.target, []).append(edge.source)
    start: dict[str, float] = {}
    layer = graph.layers()
    for name in sorted(seconds, key=lambda n: layer.get(n, 0)):
        start[name] = max(
            (start.get(p, 0.0) + seconds.get(p, 0.0) for p in before.get(name, []) if p in seconds),
            default=0.0,
        )
    return start


def _step_words(step: Mapping[str, Any]) -> str:
    """Its seconds, and what else is worth a glance: a cache hit, a status but success."""
    seconds = as_number(step.get("seconds"))
    words = [] if seconds is None else [f"{seconds:.2f} s"]
    if step.get("cache_hit"):
        words.append("cache hit")
    if step.get("status") != "Succeeded":
        words.append(str(step.get("status") or "?").lower())
    return ", ".join(words)


def _step_detail(step: Mapping[str, Any]) -> str:
    words = [str(step.get("type") or "?"), str(step.get("status") or "?")]
    if step.get("cache_hit"):
        words.append("cache hit")
    seconds = as_number(step.get("seconds"))
    if seconds is not None:
        words.append(f"{seconds:.2f} s")
    return ", ".join(words)


def _step_css(step: Mapping[str, Any]) -> str:
    if step.get("status") == "Failed":
        return "failed"
    return "cached" if step.get("cache_hit") else ""


#: The workflow's phases in the order they follow each other; `stack` ends with `startup`,
#: `smoke_test` is part of `deploy` (mlops/run.py and mlops/follow.phase_times measure them).
_SEQUENCE = ("startup", "pipeline", "approval", "deploy")
_PHASE_WORDS = {
    "build": "building the user's pipeline",
    "startup": "start-up to the execution's start",
    "stack": "deploying the stack (part of start-up)",
    "pipeline": "execution start to approval",
    "approval": "waiting for the decision",
    "deploy": "decision to the execution's end",
    "smoke_test": "the smoke test (part of deploy)",
    "total": "the whole run",
}


def _phase_bars(run: _RunFiles) -> list[Bar]:
    timings = run.get("timings")
    if not isinstance(timings, dict):
        return []
    seconds = {str(k): v for k, v in timings.items() if as_number(v) is not None}
    start: dict[str, float] = {}
    clock = 0.0
    for phase in _SEQUENCE:
        if phase in seconds:
            start[phase] = clock
            clock += seconds[phase]
    if "stack" in seconds and "startup" in seconds:
        start["stack"] = max(0.0, seconds["startup"] - seconds["stack"])
    if "smoke_test" in seconds:
        start["smoke_test"] = _smoke_test_start(run, seconds, start)
    order = [*_SEQUENCE, "stack", "smoke_test"]
    names = sorted(seconds, key=lambda k: (k == "total", order.index(k) if k in order else -1))
    return [
        Bar(
            name,
            f"{seconds[name]:.2f} s",
            start.get(name, 0.0),
            seconds[name],
            "total" if name == "total" else "",
            tip=f"{seconds[name]:.2f} s, {_PHASE_WORDS.get(name, name)}",
        )
        for name in names
    ]


def _smoke_test_start(
    run: _RunFiles, seconds: Mapping[str, float], start: Mapping[str, float]
) -> float:
    """The smoke test's first state, on the run's clock (the execution starts at `startup`)."""
    deploy_end = start.get("deploy", 0.0) + seconds.get("deploy", 0.0)
    if not run.visits or run.visits[0].entered is None:
        return max(0.0, deploy_end - seconds["smoke_test"])
    origin = run.visits[0].entered
    first = next(
        (v.entered for v in run.visits if v.name == contracts.SMOKE_TEST_FIRST_STATE and v.entered),
        None,
    )
    if first is None:
        return max(0.0, deploy_end - seconds["smoke_test"])
    return seconds.get("startup", 0.0) + (first - origin).total_seconds()


def _pictures_section(run: _RunFiles) -> str:
    title = "Evaluation pictures"
    pictures = run.get("pictures")
    if not isinstance(pictures, dict) or not pictures:
        return section("pictures", title, note("No pictures recorded for this run."))
    figures = []
    for index, (name, relative) in enumerate(pictures.items(), 1):
        caption = str(name).replace("_", " ")
        try:
            inline = svg.sanitize(_picture_text(run.folder, relative), f"picture{index}")
        except (OSError, UnicodeDecodeError, ValueError) as error:  # SvgRejected is a ValueError
            figures.append(
                f'<figure class="missing" data-picture="{escape(str(name))}">'
                f"{note(f'{caption}: not shown ({error})')}</figure>"
            )
            continue
        figures.append(
            f'<figure data-picture="{escape(str(name))}"><div class="picture">{inline}</div>'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    return section("pictures", title, *figures)


def _picture_text(folder: Path, relative: Any) -> str:
    """A picture's SVG text: a file inside the run folder, of at most svg.MAX_BYTES."""
    if not isinstance(relative, str) or not relative:
        raise ValueError("no file named")
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ValueError(f"{relative} is outside the run folder")
    if not path.is_file():
        raise ValueError(f"{relative} is missing")
    with path.open("rb") as file:
        data = file.read(svg.MAX_BYTES + 1)
    if len(data) > svg.MAX_BYTES:
        raise ValueError(f"{relative} is larger than {svg.MAX_BYTES // 1024} KiB")
    return data.decode("utf-8")


def _decision_section(run: _RunFiles) -> str:
    if not run.workflow_ran:
        return section(
            "decision", "Decision", note("No decision: the pipeline ran alone (--pipeline-only).")
        )
    decision = run.get("decision")
    if not decision:
        return section(
            "decision",
            "Decision",
            note("No decision was taken: the execution ended before its approval."),
        )
    return section(
        "decision",
        "Decision",
        f'<p class="decision {escape(str(decision))}">The model was '
        f"<strong>{escape(str(decision))}</strong>.</p>",
        facts(
            [
                ("Decided by", run.get("decided_by")),
                ("Reason", run.get("decision_reason")),
                ("Model package", run.get("model_package_arn")),
                ("Package status", run.get("model_approval_status")),
            ]
        ),
    )


def _deployment_section(run: _RunFiles) -> str:
    title = "Deployment"
    if not run.workflow_ran:
        return section("deployment", title, note("Nothing deployed: the pipeline ran alone."))
    body = []
    if run.get("endpoint_name"):
        body.append(facts([("Endpoint", endpoint_line(run.past))]))
    else:
        why = (
            "the model was rejected"
            if run.get("decision") == "rejected"
            else f"the execution ended {str(run.get('execution_status') or 'early').lower()}"
        )
        body.append(note(f"Nothing deployed: {why}."))
    smoke = run.get("smoke_test")
    if isinstance(smoke, dict):
        body.append(
            f'<h3>Smoke test: <span class="status {_smoke_css(smoke)}">'
            f"{escape(as_text(smoke.get('status')))}</span></h3>"
            + facts(
                [
                    ("Endpoint", smoke.get("endpoint")),
                    ("Rows", smoke.get("rows")),
                    ("Largest difference", smoke.get("max_abs_diff")),
                    ("Result", smoke.get("reason")),
                ]
            )
        )
    else:
        body.append(note("Smoke test: not run."))
    return section("deployment", title, *body)


def _smoke_css(smoke: Mapping[str, Any]) -> str:
    return {"passed": "ok", "failed": "failed"}.get(str(smoke.get("status")), "other")


def _cost_section(run: _RunFiles) -> str:
    """summary.json's `cost` (mlops/cost.py): its total and each item, read defensively."""
    title = "Estimated cost"
    cost = run.get("cost")
    if not isinstance(cost, dict):
        return section("cost", title, note("Cost: not recorded for this run."))
    items = [i for i in cost.get("items") or [] if isinstance(i, dict)]
    currency = as_text(cost.get("currency") or "")
    body = [
        f'<p class="total">Total: <strong>{fmt(cost.get("total"))} {escape(currency)}</strong></p>',
        facts(
            [
                ("Region", cost.get("region")),
                ("Prices read", cost.get("prices_read_on")),
            ]
        ),
    ]
    if items:
        head = ["what", "instance type", "count", "seconds", "billed seconds", "quantity"]
        head += ["rate", f"amount ({currency})"]
        header = "".join(f"<th>{escape(h)}</th>" for h in head)
        rows = "".join(f"<tr>{''.join(_cost_cells(item))}</tr>" for item in items)
        body.append(
            f'<table class="cost"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'
        )
    if cost.get("note"):
        body.append(note(as_text(cost.get("note"))))
    return section("cost", title, *body)


def _cost_cells(item: Mapping[str, Any]) -> list[str]:
    unit = f" {item['unit']}" if isinstance(item.get("unit"), str) else ""
    quantity, rate, amount = item.get("quantity"), item.get("rate"), item.get("amount")
    cells = [escape(as_text(item.get("what"))), escape(as_text(item.get("instance_type")))]
    cells += [fmt(item.get(key)) for key in ("count", "seconds", "billed_seconds")]
    cells.append(fmt(quantity) + (escape(unit) if quantity is not None else ""))
    cells.append(fmt(rate) + (f" per{escape(unit)}" if rate is not None else ""))
    priced = amount is not None or not item.get("reason")
    cells.append(fmt(amount) if priced else f"not priced: {escape(as_text(item.get('reason')))}")
    return [f"<td>{cell}</td>" for cell in cells]


def _files_section(run: _RunFiles) -> str:
    """Relative links to the run's logs and files: they sit beside the page."""
    folder = run.folder
    present = [name for name in _RUN_FILES if (folder / name).is_file()]
    others = (
        sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file()
            and p.name not in present
            and p.name != REPORT
            and not p.name.startswith(".")
        )
        if folder.is_dir()
        else []
    )
    logs = _listed(folder, "logs")
    notifications = _listed(folder, "notifications")
    folders = (
        sorted(
            f"{p.name}/"
            for p in folder.iterdir()
            if p.is_dir() and p.name not in ("logs", "notifications") and not p.name.startswith(".")
        )
        if folder.is_dir()
        else []
    )
    body = [
        "<h3>Logs</h3>",
        _links(logs) if logs else note("No step logs in this run."),
        "<h3>Run files</h3>",
        _links([*present, *others, *folders]),
    ]
    if notifications:
        body += ["<h3>Notifications</h3>", _links(notifications)]
    missing = [n for n in (DEFINITION, ASL, HISTORY, TEMPLATE) if n not in present]
    if missing and run.workflow_ran:
        body.append(note(f"Not in this run: {', '.join(missing)}."))
    return section("files", "Logs and files", *body)


def _listed(folder: Path, sub: str) -> list[str]:
    base = folder / sub
    if not base.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in base.rglob("*") if p.is_file())


def _links(paths: list[str]) -> str:
    items = "".join(f'<li><a href="{escape(quote(p))}">{escape(p)}</a></li>' for p in paths)
    return f'<ul class="files">{items}</ul>'


# -- values ----------------------------------------------------------------------------------


def _trigger(run: _RunFiles) -> str | None:
    if run.events is None:
        return None
    try:
        given = json.loads(execution_input(run.events) or "{}")
    except ValueError:
        given = {}
    trigger = given.get(contracts.TRIGGER) if isinstance(given, dict) else None
    # Without one, the state machine takes the run as started by hand.
    return contracts.describe_trigger(trigger or {"Type": "manual"})


def _pipeline_name(run: _RunFiles) -> str | None:
    name = run.get("pipeline_name")
    arn = run.get("pipeline_execution_arn")
    if not name and isinstance(arn, str) and ":pipeline/" in arn:
        name = arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    return str(name) if name else None


def _decision_line(run: _RunFiles) -> str | None:
    return "none (pipeline only)" if not run.workflow_ran else decision_line(run.past)
