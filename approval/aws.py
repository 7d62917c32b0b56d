"""Secrets, fetched once per container, and the shared boto3 clients (core.function_clients).

Secrets are cached by ARN for the container's life, as Lambda's extension cache would.
"""

from __future__ import annotations

from approval.config import MIN_SECRET_LENGTH, ConfigError, Secret
from core.function_clients import client

__all__ = ["client", "error_code", "secret", "signing_key"]

_SECRETS: dict[str, str] = {}


def secret(spec: Secret, min_length: int = 1) -> str:
    """The secret's value: given directly, or fetched from Secrets Manager once per ARN."""
    if spec.value:
        value = spec.value
    elif spec.arn:
        value = _SECRETS.get(spec.arn) or _fetch(spec.arn)
    else:
        raise ConfigError(f"{spec.name} (or its Secrets Manager ARN) is not set")
    if len(value) < min_length:
        raise ConfigError(f"{spec.name} is too short: use at least {min_length} characters")
    return value


def signing_key(spec: Secret) -> bytes:
    """The HMAC key for links, refusing short (guessable) secrets."""
    return secret(spec, MIN_SECRET_LENGTH).encode()


def _fetch(arn: str) -> str:
    value = client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"].strip()
    _SECRETS[arn] = value
    return value


def error_code(exc: BaseException) -> str:
    """An AWS error's code (or the exception's type), safe to log and show."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__
