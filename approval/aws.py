"""boto3 clients and secrets, created once per container and imported only when first used.

boto3 costs more to import than the rest of the package together, and an HTTP request that
fails validation never needs it, so it is imported here on first use, not at module import.
Clients are cached by service, region, endpoint and access key (a local AWS has its own
endpoint and keys per start, as a new Lambda container has new role credentials); secrets by
ARN, for the container's life, as Lambda's extension cache would.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from approval.config import MIN_SECRET_LENGTH, ConfigError, Secret

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, ...], Any] = {}
_SECRETS: dict[str, str] = {}
_SESSION: Any = None


def client(service: str) -> Any:
    """A shared boto3 client for `service` in the function's region and endpoint."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    key = (service, region, os.environ.get("AWS_ENDPOINT_URL", ""), access_key)
    cached = _CLIENTS.get(key)
    if cached is not None:
        return cached
    with _LOCK:
        if key not in _CLIENTS:
            # The runtime's credentials as they are now (Lambda sets them in the environment);
            # without them, boto3's default chain.
            credentials = (
                {
                    "aws_access_key_id": access_key,
                    "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
                    "aws_session_token": os.environ.get("AWS_SESSION_TOKEN"),
                }
                if access_key
                else {}
            )
            _CLIENTS[key] = _session().client(service, region_name=region or None, **credentials)
        return _CLIENTS[key]


def _session() -> Any:
    global _SESSION
    if _SESSION is None:
        import boto3.session

        _SESSION = boto3.session.Session()
    return _SESSION


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
