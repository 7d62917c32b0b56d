"""Seam 3: DynamoDB writes that are atomic under concurrency, as DynamoDB guarantees.

moto's DynamoDB backend takes no lock, so two concurrent conditional writes can both see the
old item and both succeed. The approval service relies on exactly one conditional update
winning, so every write here runs under one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

_WRITE_LOCK = threading.RLock()


class AtomicDynamoDBBackend(DynamoDBBackend):
    """moto's DynamoDB backend with serialised writes."""

    # moto derives URL routing from the backend's module: keep moto's own.
    __module__ = DynamoDBBackend.__module__

    def put_item(self, *args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return super().put_item(*args, **kwargs)

    def update_item(self, *args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return super().update_item(*args, **kwargs)

    def delete_item(self, *args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return super().delete_item(*args, **kwargs)

    def transact_write_items(self, *args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return super().transact_write_items(*args, **kwargs)


def install() -> None:
    """Make every DynamoDB backend moto creates from now on the atomic one.

    The local AWS calls this before moto has created any backend of the service, so no
    reset is needed (moto's reset would wipe every other service's state too).
    """
    dynamodb_backends.backend = AtomicDynamoDBBackend
