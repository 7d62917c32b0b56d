"""The run report's HTML pieces: sections, notes, fact lists, values as a person reads them,
and the page's one stylesheet. Text passed in is escaped here (a section's body is markup
its caller built from escaped text)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from html import escape
from typing import Any


def section(key: str, title: str, *body: str) -> str:
    """A titled section of the page; `key` is its id, one of the report's own."""
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(body)}</section>'


def note(text: str) -> str:
    """A line saying what is missing or why (the page's sections never just go blank)."""
    return f'<p class="note">{escape(text)}</p>'


def facts(rows: Iterable[tuple[str, Any]]) -> str:
    """A definition list of the rows whose value is set; values are escaped here."""
    items = [
        f"<dt>{escape(label)}</dt><dd>{escape(as_text(value))}</dd>"
        for label, value in rows
        if value not in (None, "", [], {})
    ]
    return f'<dl class="facts">{"".join(items)}</dl>' if items else ""


def as_mapping(value: Any) -> dict[str, Any]:
    """`value` if it is an object, else an empty one: the files are read, not trusted."""
    return value if isinstance(value, dict) else {}


def as_number(value: Any) -> float | None:
    """A finite number, or None (for text, booleans, NaN and infinities alike)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def plain(value: float) -> str:
    """A threshold or tolerance as it was given, without trailing zeros."""
    return f"{value:.6g}"


def fmt(value: Any) -> str:
    """A number to 4 significant decimals, anything else as escaped text, nothing as '-'."""
    number = as_number(value)
    if number is not None:
        return (
            f"{number:.4g}"
            if abs(number) < 1e-3 and number
            else f"{number:,.4f}".rstrip("0").rstrip(".")
        )
    return escape(as_text(value))


def as_text(value: Any) -> str:
    """Any value as text, nothing as '-'; not escaped."""
    if value is None or value == "":
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def as_seconds(value: Any) -> str | None:
    """A duration to a tenth of a second, or None."""
    number = as_number(value)
    return None if number is None else f"{number:.1f} s"


STYLE = """
:root{color-scheme:light;--ok:#1e8e3e;--bad:#d93025;--run:#1a73e8;--warn:#f9ab00;--dim:#5f6368}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1180px;padding:0 20px 40px;color:#202124;background:#fff}
header{border-bottom:4px solid var(--dim);padding:12px 0 6px;margin-bottom:8px}
header.ok{border-color:var(--ok)}header.failed{border-color:var(--bad)}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dadce0}
h3{font-size:15px;margin:16px 0 6px}
.status{font-size:13px;padding:2px 8px;border-radius:10px;color:#fff;background:var(--dim);
vertical-align:middle}.status.ok{background:var(--ok)}.status.failed{background:var(--bad)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.facts dt{color:var(--dim)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.note{color:var(--dim);font-style:italic}
.picture{overflow-x:auto}.picture svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;
text-align:left}td{font-variant-numeric:tabular-nums}
.gate.passed strong{color:var(--ok)}.gate.failed strong{color:var(--bad)}
figure{margin:12px 0;display:inline-block;vertical-align:top;max-width:100%}
figcaption{color:var(--dim);text-align:center}
.legend{color:var(--dim);font-size:12px}.key{display:inline-block;margin-right:10px}
.key::before{content:"";display:inline-block;width:10px;height:10px;margin-right:4px;
border:1px solid var(--dim);vertical-align:-1px;border-radius:2px}
.key.ok::before{background:#e6f4ea;border-color:var(--ok)}
.key.failed::before{background:#fce8e6;border-color:var(--bad)}
.key.running::before,.key.state-task::before{background:#e8f0fe;border-color:var(--run)}
.key.notrun::before{border-style:dashed}.key.cached::before{background:var(--warn);border-radius:5px}
.key.caught::before{background:#fef7e0;border-color:var(--warn)}
.key.state-other::before{background:#f8f9fa}
.not-entered{color:var(--dim);font-size:12px}
ul.files{columns:2;margin:4px 0}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#202124}
.dag .step rect{fill:#f1f3f4;stroke:var(--dim);stroke-width:1.5}
.dag .ok rect{fill:#e6f4ea;stroke:var(--ok)}.dag .failed rect{fill:#fce8e6;stroke:var(--bad)}
.dag .running rect{fill:#e8f0fe;stroke:var(--run)}
.dag .notrun rect{fill:#fff;stroke:#9aa0a6;stroke-dasharray:4 3}.dag .notrun text{fill:#80868b}
.dag .step rect.badge{fill:var(--warn);stroke:none}
.dag text.name{font-weight:600}.dag text.detail,.timeline .detail{fill:var(--dim);font-size:11px}
.dag .edge path{fill:none;stroke:var(--dim);stroke-width:1.3}.dag .edge polygon{fill:var(--dim)}
.dag .edge.depends path{stroke-dasharray:5 4}
.dag .edge.if path{stroke:var(--ok)}.dag .edge.if polygon{fill:var(--ok)}
.dag .edge.else path{stroke:var(--bad)}.dag .edge.else polygon{fill:var(--bad)}
.dag .edge-label{font-size:11px;fill:var(--dim)}
.path .state rect{fill:#f8f9fa;stroke:#9aa0a6}
.path .state.task rect{fill:#e8f0fe;stroke:var(--run)}
.path .state.succeed rect{fill:#e6f4ea;stroke:var(--ok)}
.path .state.caught rect{fill:#fef7e0;stroke:var(--warn)}
.path .state.failed rect{fill:#fce8e6;stroke:var(--bad);stroke-width:2}
.path .state .seconds{fill:var(--dim);font-size:11px}
.path .link{fill:none;stroke:#9aa0a6}.path .loop{fill:none;stroke:var(--run);stroke-width:1.5}
.path .loop-count{fill:var(--run);font-size:11px}
.timeline .row rect{fill:var(--run)}.timeline .row.cached rect{fill:var(--warn)}
.timeline .row.failed rect{fill:var(--bad)}.timeline .row.total rect{fill:#9aa0a6}
.timeline line.tick{stroke:#e8eaed}.timeline text.tick{fill:var(--dim);font-size:10px}
"""
