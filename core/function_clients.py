"""boto3 clients for the Lambda functions, created once per container on first use.

boto3 costs more to import than the rest of a function's package together, and a request
that fails validation never needs it, so it is imported on first use, not at module import.
Clients are cached by service, region, endpoint and access key: a local AWS has its own
endpoint and keys per start, as a new Lambda container has new role credentials. Standard
library only at import time: this module ships in the functions' zip (deploy/bundle.py).
"""

from __future__ import annotations

import os
import threading
from typing import Any

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, ...], Any] = {}
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
