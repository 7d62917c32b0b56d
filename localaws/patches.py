"""Replacing attributes of moto's classes, each original kept so it can be put back.

The seams that bridge moto's gaps by swapping its methods (CloudFormation, EventBridge) share
this: swap everything once, however often `install` is called; put the originals back on
`uninstall`, as tests that compare with moto's own behaviour need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

#: (owner, attribute name, a function of the original giving its replacement).
Replacement = tuple[Any, str, Callable[[Any], Any]]


def replaced_by(value: Any) -> Callable[[Any], Any]:
    """A replacement that does not need the original: `value` itself."""
    return lambda _original: value


class Patches:
    """One seam's replaced attributes and their originals."""

    def __init__(self) -> None:
        self._originals: dict[tuple[Any, str], Any] = {}
        self._lock = threading.Lock()

    def apply(self, replacements: Callable[[], Iterable[Replacement]]) -> None:
        """Swap the replacements in, unless they already are (idempotent)."""
        with self._lock:
            if self._originals:
                return
            for owner, name, replace in replacements():
                original = owner.__dict__[name]
                self._originals[(owner, name)] = original
                setattr(owner, name, replace(original))

    def restore(self) -> None:
        """Put the originals back."""
        with self._lock:
            for (owner, name), original in self._originals.items():
                setattr(owner, name, original)
            self._originals.clear()

    def original(self, owner: Any, name: str) -> Any:
        """What `owner.name` was before this seam replaced it (its replacements call it)."""
        return self._originals[(owner, name)]

    @property
    def applied(self) -> bool:
        return bool(self._originals)
