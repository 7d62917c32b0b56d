"""Segments: runs of states with one entry and one success exit, linked in diagram order.

The SDK links states with `next()`, but a segment's success exit is often a Choice rule
(e.g. "PipelineExecutionStatus == Succeeded") rather than a state's Next. A Segment carries
how to connect its exit, so `definition.py` can list the stages top-down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from workflow.sdk import BaseRule, Chain, Choice, State

Connect = Callable[[State], None]


@dataclass(frozen=True)
class Segment:
    entry: State
    #: Makes the given state follow this segment's success exit; None for a terminal segment.
    connect: Connect | None

    @classmethod
    def chain(cls, *states: State) -> Segment:
        """States run one after another; the last one's Next is the exit."""
        Chain(list(states))
        return cls(states[0], states[-1].next)

    @classmethod
    def ending(cls, *states: State) -> Segment:
        """States run one after another, the last one terminal (Succeed/Fail)."""
        Chain(list(states))
        return cls(states[0], None)


def exit_on(choice: Choice, rule: BaseRule) -> Connect:
    """An exit through a Choice rule, placed first among the choice's rules."""

    def connect(state: State) -> None:
        choice.choices.insert(0, [rule, state])

    return connect


def exits(*connects: Connect) -> Connect:
    """Several branches that all continue with the same state."""

    def connect(state: State) -> None:
        for each in connects:
            each(state)

    return connect


def link(*segments: Segment) -> Chain:
    """Connect each segment's exit to the next one's entry; the chain starts at the first."""
    for before, after in pairwise(segments):
        if before.connect is None:
            raise ValueError(f"segment starting at {before.entry.state_id} has no exit to link")
        before.connect(after.entry)
    return Chain([segments[0].entry])
