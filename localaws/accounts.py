"""The accounts of the local AWS: one per running `local_aws()`, each with its own state.

moto keeps every service's state per account (`backends[account_id][region]`). Each local AWS
is one account of moto's: its own 12-digit id, its own credentials (random per start), its own
pipeline executor, injected faults and object mirror. The seams reach that state from the
account id moto hands every backend instance, so two local AWS in one process never see each
other's buckets, executions or faults, and a request is served by the account its credentials
belong to.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from moto.core.models import DEFAULT_ACCOUNT_ID

from localaws.mirror import ObjectMirror

#: An executor receives a `localaws.sagemaker_seam.PipelineRun` per pipeline execution.
Executor = Callable[[Any], None]

_KEY_ALPHABET = string.ascii_uppercase + string.digits


class Closing(Protocol):
    """What a seam runs for an account until the account closes."""

    def close(self) -> None: ...


@dataclass
class Fault:
    """The next `remaining` calls of one SageMaker operation fail with `error_code`."""

    error_code: str
    message: str
    remaining: int


@dataclass(eq=False)
class Account:
    """One local AWS account: identity, credentials and the state its seams keep."""

    account_id: str
    region: str
    endpoint: str
    #: Generated per start; the local AWS refuses requests signed with any other key.
    access_key_id: str = field(default_factory=lambda: _access_key_id())
    secret_access_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    executor: Executor | None = None
    faults: dict[str, Fault] = field(default_factory=dict)
    #: Set whenever a pipeline execution or one of its steps changes state.
    changed: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    mirror: ObjectMirror = field(init=False)
    #: EventBridge's queue of deliveries to this account's targets (`localaws.events_seam`),
    #: made on the first event; closing the account makes what is queued and stops it.
    deliveries: Closing | None = None
    #: Seconds between runs of every Scheduled monitoring schedule (`local_aws(monitor_every=)`);
    #: None runs each at its own cron expression's hours (`localaws.monitoring_seam`).
    monitor_every: float | None = None
    #: Model Monitor's schedules and executions, and the clock that runs them
    #: (`localaws.monitoring_seam.Monitoring`), made on first use; closing the account stops it.
    monitoring: Closing | None = None

    def __post_init__(self) -> None:
        self.mirror = ObjectMirror(self.account_id)

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point a client or a job at this account."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def take_fault(self, operation: str) -> Fault | None:
        """The fault for this call of `operation`, if one is pending (and count it)."""
        if operation not in self.faults:  # every backend attribute read asks: stay lock-free
            return None
        with self.lock:
            fault = self.faults.get(operation)
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            return fault


def _access_key_id() -> str:
    # AWS's shape: 20 characters, upper-case letters and digits, "AKIA" for long-term keys.
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


_ACCOUNTS: dict[str, Account] = {}
_LOCK = threading.Lock()


def open_account(
    region: str, endpoint: str, executor: Executor | None, monitor_every: float | None = None
) -> Account:
    """A new account: moto's default id when it is free (stable ARNs and cache keys for the
    usual single local AWS), else a fresh random one."""
    with _LOCK:
        account_id = DEFAULT_ACCOUNT_ID
        while account_id in _ACCOUNTS:
            account_id = f"{secrets.randbelow(10**12):012d}"
        account = Account(
            account_id, region, endpoint, executor=executor, monitor_every=monitor_every
        )
        _ACCOUNTS[account_id] = account
        return account


def close_account(account: Account) -> None:
    # While the account is still found by its id; monitoring first: an execution in progress
    # still puts its metrics and reports.
    if account.monitoring is not None:
        account.monitoring.close()
    if account.deliveries is not None:
        account.deliveries.close()
    with _LOCK:
        _ACCOUNTS.pop(account.account_id, None)
    account.mirror.clear()


def account(account_id: str) -> Account | None:
    """The running local AWS account with this id, if any."""
    return _ACCOUNTS.get(account_id)


def only_account() -> Account | None:
    """The running account when exactly one runs: for callers moto gives no account."""
    accounts = list(_ACCOUNTS.values())
    return accounts[0] if len(accounts) == 1 else None
