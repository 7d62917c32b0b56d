"""The HTML a reviewer sees: the review page, the result page, error pages and the email body.

Self-contained pages: inline CSS, no scripts, fonts or images, so the strict
Content-Security-Policy holds and the page works in any mail-linked browser. Every value
that came from outside (ARNs, metrics, names, comments) passes through `html.escape`.
"""

from __future__ import annotations

from html import escape

from approval.model import (
    APPROVE,
    APPROVED,
    CALLBACK_FAILED,
    REJECT,
    UNDELIVERED,
    Approval,
    ChampionRow,
    MetricRow,
    format_number,
)

#: Form field names of POST /decision, shared with the handler that reads them.
FIELD_ID = "id"
FIELD_ACTION = "action"
FIELD_EXPIRES = "exp"
FIELD_SIGNATURE = "sig"
FIELD_DECIDED_BY = "decided_by"
FIELD_COMMENT = "comment"
#: Longest accepted name and comment; the form says so and the handler enforces it.
MAX_NAME_LENGTH = 200
MAX_COMMENT_LENGTH = 2000

DECISION_PATH = "decision"
#: The order and captions of the evaluation's pictures (core.contracts.PICTURES).
CAPTIONS = {
    "predicted_vs_actual": "Predicted against actual, on the test split",
    "residuals": "Residuals (predicted - actual)",
    "feature_importance": "Feature importance (share of total gain)",
}

_CSS = """
:root{--ok:#1a7f37;--bad:#c62828;--muted:#57606a;--line:#d0d7de}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1.5rem}
main{max-width:52rem;margin:0 auto}
h1{font-size:1.6rem;margin:.2rem 0 1rem}
h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,monospace}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line)}
td.num{font-variant-numeric:tabular-nums}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}
.muted{color:var(--muted)}
.decide{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
form{border:1px solid var(--line);border-radius:.5rem;padding:1rem}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}
input[type=text],textarea{width:100%;padding:.45rem;font:inherit;border:1px solid var(--line);
border-radius:.3rem}
textarea{min-height:4.5rem}
button{margin-top:.8rem;font:inherit;font-weight:600;color:#fff;border:0;border-radius:.3rem;
padding:.55rem 1.2rem;cursor:pointer}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #0969da;
outline-offset:2px}
.approve button{background:var(--ok)}.reject button{background:var(--bad)}
.banner{border-left:.35rem solid var(--line);padding:.6rem 1rem;margin:1rem 0}
.banner.ok{border-color:var(--ok)}.banner.bad{border-color:var(--bad)}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{color:var(--muted);font-size:.9rem}
"""


def review_page(approval: Approval, signatures: dict[str, str]) -> str:
    """The page a review link shows: the facts, then an Approve and a Reject form.

    `signatures` maps each decision action to its link signature. A decided or expired
    approval shows its state and no forms: looking at the page never changes anything.
    """
    title = f"<h1>Approve model package {_e(approval.model_package_label)}?</h1>"
    if not approval.is_pending or approval.is_expired():
        body = title + _outcome_banner(approval) + _facts(approval) + _pictures(approval)
    else:
        body = (
            title
            + _facts(approval)
            + _pictures(approval)
            + '<h2>Your decision</h2><div class="decide">'
            + _decision_form(approval, APPROVE, signatures[APPROVE])
            + _decision_form(approval, REJECT, signatures[REJECT])
            + "</div>"
        )
    return _document(f"Review {approval.model_package_label}", body)


def result_page(approval: Approval) -> str:
    """What the reviewer sees after deciding, including whether the workflow was told."""
    verb = approval.status.lower()
    body = (
        f"<h1>Model package {_e(approval.model_package_label)} {_e(verb)}</h1>"
        + _outcome_banner(approval)
        + _facts(approval)
    )
    return _document(f"{verb.capitalize()}: {approval.model_package_label}", body)


def error_page(title: str, message: str, approval: Approval | None = None) -> str:
    """An error explained in words; with the approval's state when that is the explanation."""
    body = f"<h1>{_e(title)}</h1><p>{_e(message)}</p>"
    if approval is not None:
        body += _outcome_banner(approval) if not approval.is_pending else ""
        body += _facts(approval)
    return _document(title, body)


def email_html(approval: Approval, review_url: str) -> str:
    """The email's HTML part: the same facts, and one link that opens the review page."""
    link = _e(review_url)
    body = (
        f"<h1>Approval needed: {_e(approval.model_package_label)}</h1>"
        f"<p>A new model package passed the pipeline and waits for a human decision. "
        f"You are asked as one of {_e(approval.approvers)}.</p>"
        f'<p><a href="{link}"><strong>Open the review page</strong></a> to approve or reject. '
        f"The link expires {_e(approval.expires_at_iso)}.</p>"
        + _facts(approval)
        + f'<p class="muted">If the link does not open, paste this address: {link}</p>'
    )
    return _document(f"Approval needed: {approval.model_package_label}", body)


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _facts(approval: Approval) -> str:
    rows = [
        ("Model package", f"<code>{_e(approval.model_package_arn)}</code>"),
        ("Pipeline execution", f"<code>{_e(approval.pipeline_execution_arn)}</code>"),
        ("Workflow execution", f"<code>{_e(approval.execution_arn)}</code>"),
        *([("Why this run", _e(approval.trigger))] if approval.trigger else []),
        ("Quality gate", _e(approval.quality_gate.describe())),
        ("Asked", _e(approval.approvers)),
        ("Requested", _e(approval.created_at)),
        ("Link expires", _e(approval.expires_at_iso)),
    ]
    facts = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return (
        f"<h2>Model</h2><dl>{facts}</dl><h2>Metrics</h2>{_metrics(approval.metric_rows())}"
        + _champion(approval)
    )


def _champion(approval: Approval) -> str:
    """The challenger beside the champion, per metric, with the difference and the better."""
    rows = approval.champion_rows()
    if not rows:
        note = approval.champion_note
        return f'<h2>Against the champion</h2><p class="muted">{_e(note)}</p>' if note else ""
    body = "".join(
        f"<tr><th scope=row>{_e(row.name)}</th>"
        f'<td class="num">{_e(format_number(row.challenger))}</td>'
        f'<td class="num">{_e(format_number(row.champion))}</td>'
        f'<td class="num">{_e(_signed(row.difference))}</td>'
        f"<td>{_better(row)}</td></tr>"
        for row in rows
    )
    return (
        "<h2>Against the champion</h2>"
        f"<p>The champion is {_e(approval.champion_label)}, scored on the same test rows.</p>"
        "<table><caption class=muted>This model (challenger) against the champion</caption>"
        "<thead><tr><th scope=col>Metric</th><th scope=col>Challenger</th>"
        "<th scope=col>Champion</th><th scope=col>Difference</th>"
        "<th scope=col>Better</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _better(row: ChampionRow) -> str:
    if row.better == "challenger":
        return '<span class="pass">challenger</span>'
    if row.better == "champion":
        return '<span class="fail">champion</span>'
    return '<span class="muted">the same</span>' if row.better == "same" else ""


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4g}"


def _pictures(approval: Approval) -> str:
    """The evaluation's pictures, inline (already made safe when the approval opened)."""
    if not approval.pictures:
        return ""
    figures = "".join(
        f'<figure id="{_e(name.replace("_", "-"))}">{approval.pictures[name]}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
        for name, caption in CAPTIONS.items()
        if name in approval.pictures
    )
    return f"<h2>Pictures</h2>{figures}"


def _metrics(rows: list[MetricRow]) -> str:
    if not rows:
        return '<p class="muted">The pipeline reported no metrics.</p>'
    body = "".join(
        f"<tr><th scope=row>{_e(row.name)}</th>"
        f'<td class="num">{_e(format_number(row.value))}</td>'
        f'<td class="num">{_e(format_number(row.standard_deviation))}</td>'
        f"<td>{_gate_cell(row)}</td></tr>"
        for row in rows
    )
    return (
        "<table><caption class=muted>Test-set regression metrics</caption>"
        "<thead><tr><th scope=col>Metric</th><th scope=col>Value</th>"
        "<th scope=col>Std. dev.</th><th scope=col>Quality gate</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _gate_cell(row: MetricRow) -> str:
    if row.gate is None:
        return '<span class="muted">not gated</span>'
    tone = "pass" if row.passes else "fail"
    return f'{_e(row.gate)}: <span class="{tone}">{_e(row.verdict)}</span>'


def _decision_form(approval: Approval, action: str, signature: str) -> str:
    label = action.capitalize()
    hidden = {
        FIELD_ID: approval.approval_id,
        FIELD_ACTION: action,
        FIELD_EXPIRES: str(approval.expires_at),
        FIELD_SIGNATURE: signature,
    }
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{_e(value)}">' for name, value in hidden.items()
    )
    comment_label = "Comment (optional)" if action == APPROVE else "Reason (optional)"
    return (
        f'<form class="{action}" method="post" action="{DECISION_PATH}">{inputs}'
        f'<label for="{action}-by">Your name or email</label>'
        f'<input type="text" id="{action}-by" name="{FIELD_DECIDED_BY}" required '
        f'maxlength="{MAX_NAME_LENGTH}" autocomplete="email">'
        f'<label for="{action}-comment">{comment_label}</label>'
        f'<textarea id="{action}-comment" name="{FIELD_COMMENT}" '
        f'maxlength="{MAX_COMMENT_LENGTH}"></textarea>'
        f'<button type="submit" id="{action}-button">{label}</button></form>'
    )


def _outcome_banner(approval: Approval) -> str:
    if approval.is_pending:
        return (
            '<p class="banner bad">This approval expired '
            f"{_e(approval.expires_at_iso)} without a decision.</p>"
        )
    if approval.status == UNDELIVERED:
        return '<p class="banner bad">This approval was withdrawn: nobody could be notified.</p>'
    tone = "ok" if approval.status == APPROVED else "bad"
    text = f"{approval.status.capitalize()} by {approval.decided_by} at {approval.decided_at}"
    text += f" (via {approval.decided_through})." if approval.decided_via else "."
    parts = [f'<div class="banner {tone}"><p><strong>{_e(text)}</strong></p>']
    if approval.comment:
        parts.append(f"<p>Comment: {_e(approval.comment)}</p>")
    if approval.callback == CALLBACK_FAILED:
        parts.append(
            '<p class="fail">The workflow could not be resumed: '
            f"{_e(approval.callback_error)}. The decision is recorded, but the pipeline run "
            "did not receive it (it may already have timed out or been stopped).</p>"
        )
    elif approval.callback:
        parts.append("<p>The workflow has received the decision.</p>")
    parts.append("</div>")
    return "".join(parts)


def _e(value: object) -> str:
    return escape(str(value), quote=True)
