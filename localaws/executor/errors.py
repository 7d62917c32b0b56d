"""The two ways an execution stops early, each carrying the text a person will read."""

from __future__ import annotations

#: SageMaker caps FailureReason at 1,024 characters.
MAX_REASON = 1024


class DefinitionError(Exception):
    """The definition (or the values given at start) cannot run; found before any step runs."""


class StepFailed(Exception):
    """One step failed; str(exc) is its FailureReason."""


def fit_reason(head: str, tail: str = "", limit: int = MAX_REASON) -> str:
    """`head` then `tail`, cut to `limit` characters by dropping the start of the tail.

    The end of a log is where a script prints its error, so that part is kept.
    """
    if not tail:
        return head if len(head) <= limit else head[: limit - 1] + "…"
    room = limit - len(head) - 1
    if room < 80:  # a very long head: keep the tail, which matters more
        head = head[: max(0, limit - 81)]
        room = limit - len(head) - 1
    if len(tail) > room:
        tail = "…" + tail[-(room - 1) :]
    return f"{head}\n{tail}"
