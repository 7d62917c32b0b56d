"""The function's configuration, read from the environment on every call.

Reading at call time (not import time) keeps the import cheap and lets one warm container,
or one test process, see configuration changes. Secrets appear here only as either a value
(local runs) or a Secrets Manager ARN; `approval.aws.secret` resolves them when needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: Largest request body the HTTP routes read; a review form is well under 1 KiB.
MAX_BODY_BYTES = 16 * 1024
#: Seconds to wait for Slack (webhook and response_url).
HTTP_TIMEOUT_SECONDS = 5.0
#: How far a Slack request timestamp may be from now, as Slack recommends.
SLACK_MAX_SKEW_SECONDS = 5 * 60
#: A signing secret shorter than this is refused: HMAC keys must not be guessable.
MIN_SECRET_LENGTH = 32

_WEEK = 7 * 24 * 3600
_SIGNING_SECRET = "SIGNING_SECRET"
_SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
_SLACK_SIGNING_SECRET = "SLACK_SIGNING_SECRET"


class ConfigError(RuntimeError):
    """The environment lacks or mangles a setting; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A secret given either directly (local) or as a Secrets Manager ARN (AWS)."""

    name: str
    value: str = ""
    arn: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.value or self.arn)


@dataclass(frozen=True)
class Config:
    """Everything the handler reads from its environment. See approval/README.md."""

    table: str
    base_url: str
    signing_secret: Secret
    approvers: str = "the model approvers"
    link_ttl_seconds: int = _WEEK
    retention_days: int = 30
    slack_webhook: Secret = Secret(_SLACK_WEBHOOK_URL)
    slack_signing_secret: Secret = Secret(_SLACK_SIGNING_SECRET)
    email_from: str = ""
    email_to: tuple[str, ...] = ()
    log_level: str = "INFO"

    @property
    def email_configured(self) -> bool:
        return bool(self.email_from and self.email_to)

    def require_base_url(self) -> str:
        if not self.base_url:
            raise ConfigError("APPROVAL_BASE_URL is not set: links would have nowhere to point")
        return self.base_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ

        def secret(name: str, arn_name: str = "") -> Secret:
            return Secret(name, env.get(name, ""), env.get(arn_name or f"{name}_ARN", ""))

        table = env.get("APPROVAL_TABLE", "")
        if not table:
            raise ConfigError("APPROVAL_TABLE is not set")
        return cls(
            table=table,
            base_url=env.get("APPROVAL_BASE_URL", "").rstrip("/"),
            signing_secret=secret(_SIGNING_SECRET),
            approvers=env.get("APPROVERS", "") or cls.approvers,
            link_ttl_seconds=_positive_int(env, "LINK_TTL_SECONDS", cls.link_ttl_seconds),
            retention_days=_positive_int(env, "RECORD_RETENTION_DAYS", cls.retention_days),
            slack_webhook=secret(_SLACK_WEBHOOK_URL, "SLACK_WEBHOOK_SECRET_ARN"),
            slack_signing_secret=secret(_SLACK_SIGNING_SECRET),
            email_from=env.get("EMAIL_FROM", "").strip(),
            email_to=tuple(a.strip() for a in env.get("EMAIL_TO", "").split(",") if a.strip()),
            log_level=env.get("LOG_LEVEL", "") or cls.log_level,
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: expected a positive number")
    return value
