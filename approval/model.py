"""What an approval is: its states, the actions a reviewer can take and the quality gate.

`Approval` deliberately has no task-token field: the token lives only in the table and in
the Step Functions callback, so nothing that renders or sends an `Approval` can leak it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core import contracts

PENDING = "PENDING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
#: Opened, but no notification channel delivered it; the token is dropped.
UNDELIVERED = "UNDELIVERED"

#: What a signed link lets its holder do. Only the decision actions change anything.
REVIEW = "review"
APPROVE = "approve"
REJECT = "reject"
DECISIONS = {APPROVE: APPROVED, REJECT: REJECTED}

#: Where a decision came from.
VIA_WEB = "web"
VIA_SLACK = "slack"
#: The SageMaker model registry (UpdateModelPackage, e.g. in Studio; approval.registry).
VIA_REGISTRY = "model registry"

#: The Step Functions error name a rejection fails the task with.
REJECTED_ERROR = contracts.REJECTED

#: How the Step Functions callback went; only a failure is stored on the item.
CALLBACK_DELIVERED = "delivered"
CALLBACK_FAILED = "failed"

#: SageMaker ConditionStep comparisons, as the quality gate names them.
COMPARISONS = {
    "LessThanOrEqualTo": ("≤", lambda v, t: v <= t),
    "LessThan": ("<", lambda v, t: v < t),
    "GreaterThanOrEqualTo": ("≥", lambda v, t: v >= t),
    "GreaterThan": (">", lambda v, t: v > t),
    "EqualTo": ("=", lambda v, t: v == t),
}


@dataclass(frozen=True)
class QualityGate:
    """The pipeline's registration condition, e.g. mse LessThanOrEqualTo 6.0."""

    metric: str
    threshold: float
    comparison: str

    @property
    def symbol(self) -> str:
        return COMPARISONS[self.comparison][0]

    def passes(self, value: float | None) -> bool | None:
        """Whether `value` meets the gate; None when there is no usable value."""
        if value is None or math.isnan(value):
            return None
        return COMPARISONS[self.comparison][1](value, self.threshold)

    def describe(self) -> str:
        return f"{self.metric} {self.symbol} {self.threshold:g}"


@dataclass(frozen=True)
class MetricRow:
    """One metric as shown to a reviewer, with the gate's verdict if the gate applies to it."""

    name: str
    value: float | None
    standard_deviation: float | None
    gate: str | None = None
    passes: bool | None = None

    @property
    def verdict(self) -> str:
        """The gate's verdict in words (colour alone must not carry it)."""
        return {True: "passes", False: "fails", None: "no value"}[self.passes]


@dataclass(frozen=True)
class ChampionRow:
    """One metric of the challenger (this run's model) against the champion's."""

    name: str
    challenger: float | None
    champion: float | None
    #: challenger - champion
    difference: float | None
    #: "challenger", "champion" or "same"
    better: str


@dataclass(frozen=True)
class Approval:
    """One request for a human decision, as stored (minus the token) and shown."""

    approval_id: str
    status: str
    execution_arn: str
    pipeline_execution_arn: str
    model_package_arn: str
    metrics: dict[str, Any]
    quality_gate: QualityGate
    approvers: str
    created_at: str
    #: Epoch seconds after which no link works and no decision is accepted.
    expires_at: int
    #: Why the run started, one line (core.contracts.describe_trigger); "" if not given.
    trigger: str = ""
    decided_by: str = ""
    decided_at: str = ""
    comment: str = ""
    decided_via: str = ""
    callback: str = ""
    callback_error: str = ""
    #: The challenger against the champion (the pipeline's comparison.json), when registered.
    comparison: dict[str, Any] | None = None
    #: The evaluation's pictures, name -> safe inline SVG (approval.review_files).
    pictures: dict[str, str] = field(default_factory=dict)

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    @property
    def decided_through(self) -> str:
        """Where the decision was taken, as a sentence says it ("via web", "via the model
        registry")."""
        return f"the {self.decided_via}" if self.decided_via == VIA_REGISTRY else self.decided_via

    @property
    def expires_at_iso(self) -> str:
        return iso_time(self.expires_at)

    @property
    def model_package_label(self) -> str:
        """'group v3' from arn:...:model-package/group/3, else the ARN itself."""
        return _package_label(self.model_package_arn)

    def metric_rows(self) -> list[MetricRow]:
        """The regression metrics in their reported order, the gate applied to its metric."""
        reported = self.metrics.get("regression_metrics", self.metrics)
        rows = []
        for name, entry in reported.items() if isinstance(reported, dict) else ():
            entry = entry if isinstance(entry, dict) else {"value": entry}
            value = _number(entry.get("value"))
            gated = name == self.quality_gate.metric
            rows.append(
                MetricRow(
                    name=name,
                    value=value,
                    standard_deviation=_number(entry.get("standard_deviation")),
                    gate=self.quality_gate.describe() if gated else None,
                    passes=self.quality_gate.passes(value) if gated else None,
                )
            )
        return rows

    def champion_rows(self) -> list[ChampionRow]:
        """Each metric of both models, when the pipeline compared them; [] when it did not."""
        comparison = self.comparison or {}
        if not comparison.get("champion") or not comparison.get("comparable"):
            return []
        rows = []
        metrics = comparison.get("metrics")
        for name, entry in metrics.items() if isinstance(metrics, dict) else ():
            if isinstance(entry, dict):
                rows.append(
                    ChampionRow(
                        name=name,
                        challenger=_number(entry.get("challenger")),
                        champion=_number(entry.get("champion")),
                        difference=_number(entry.get("difference")),
                        better=str(entry.get("better") or ""),
                    )
                )
        return rows

    @property
    def champion_label(self) -> str:
        """Which model is the champion, in words ("" without one)."""
        champion = (self.comparison or {}).get("champion")
        if not isinstance(champion, dict):
            return ""
        package = str(champion.get("model_package_arn") or "")
        label = _package_label(package) if package.startswith("arn:") else ""
        where = {
            "endpoint": "the model the endpoint serves",
            "approved-package": "the latest approved package",
        }.get(str(champion.get("source")), "the champion")
        return f"{where} {label}" if label else where

    @property
    def champion_note(self) -> str:
        """Why there is no comparison, when there is none."""
        comparison = self.comparison
        if comparison is None:
            return "The pipeline registered no comparison with a champion."
        return "" if self.champion_rows() else str(comparison.get("reason") or "")

    def decision_record(self) -> dict[str, str]:
        """What Step Functions receives: the task output, or the failure's cause."""
        return {
            "decision": self.status.lower(),
            "decided_by": self.decided_by,
            "comment": self.comment,
            "decided_at": self.decided_at,
        }


#: Never stored from a person's input: C0 controls and DEL (escape sequences for a terminal),
#: C1 controls U+0080-U+009F (U+009B is a one-character CSI to some terminals, U+0085 a line
#: break to others), the bidirectional formatting characters of Unicode's UAX #9 (marks
#: U+200E, U+200F and U+061C; embeddings and overrides U+202A-U+202E; isolates U+2066-U+2069),
#: which reorder what a page or terminal shows ("Trojan Source"), and lone surrogates, which
#: cannot be encoded to store at all. Line and paragraph separators count as line breaks.
_UNSAFE = [
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    *range(0xD800, 0xE000),
]
#: A name is one line: every whitespace control becomes a space (then runs collapse).
_NAME_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_UNSAFE),
    **{ord(c): " " for c in "\t\n\v\f\r\u2028\u2029"},
}
#: A comment keeps its tabs and line breaks (CR LF, CR, U+2028 and U+2029 become LF).
_COMMENT_TABLE: dict[int, str | None] = {
    **dict.fromkeys(_UNSAFE),
    **{ord(c): c for c in "\t\n"},
    **{ord(c): "\n" for c in "\r\u2028\u2029"},
}


def clean_text(value: str, *, multiline: bool = False) -> str:
    """A person's name (one line) or comment (`multiline`) as it may be stored and shown.

    Applied where input enters (the decision form, a Slack click), so the table, the
    pages, the Slack messages, Step Functions' output and the local run's summary.json and
    terminal lines only ever hold the cleaned text. Escaping for HTML or Slack still happens
    where each is rendered; this removes what no escaping makes harmless.
    """
    if multiline:
        return value.replace("\r\n", "\n").translate(_COMMENT_TABLE).strip()
    return " ".join(value.translate(_NAME_TABLE).split())


def _package_label(arn: str) -> str:
    _, _, resource = arn.partition(":model-package/")
    group, _, version = resource.partition("/")
    return f"{group} v{version}" if group and version else arn


def _number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def iso_time(epoch: float) -> str:
    """UTC ISO-8601 to the second, the one timestamp format of records and pages."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


class ApprovalNotFound(LookupError):
    """No approval has this id (never issued, or purged by TTL)."""


class ApprovalClosed(Exception):
    """The approval can no longer be decided; `approval` says why (decided or expired)."""

    def __init__(self, approval: Approval):
        super().__init__(f"approval {approval.approval_id} is {approval.status.lower()}")
        self.approval = approval
