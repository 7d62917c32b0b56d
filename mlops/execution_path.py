"""The states a Step Functions execution went through, read back from its history.

Each `<Type>StateEntered` event opens a state and the next `<Type>StateExited` of that name
closes it; a Task's `TaskFailed`, `TaskTimedOut`, ... in between is an error the state's Catch
or Retry took; a Fail state, or a state still open when the execution failed, is where it
failed (event types: https://docs.aws.amazon.com/step-functions/latest/apireference/
API_HistoryEvent.html). Polling loops repeat a few states many times; `fold` draws each loop
once with its count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The execution's own end events that are not a success.
_EXECUTION_FAILED = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
#: The longest loop `fold` recognises, in states.
_LONGEST_LOOP = 4


@dataclass
class Visit:
    """One entry into a state."""

    name: str
    type: str
    entered: dt.datetime | None
    exited: dt.datetime | None = None
    #: "ok", "caught" (an error a Catch or Retry handled), "failed" or "open" (never exited).
    outcome: str = "ok"
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        if self.entered is None or self.exited is None:
            return None
        return max(0.0, (self.exited - self.entered).total_seconds())


@dataclass
class Stop:
    """One box of the drawn path: a state, or a loop's state with its visits summed."""

    name: str
    type: str
    seconds: float | None
    outcome: str
    #: Set for the states of a loop: its index among the path's loops, and how often it ran.
    loop: int | None = None
    repeats: int = 1
    visits: list[Visit] = field(default_factory=list)


def visits(events: Iterable[Mapping[str, Any]]) -> list[Visit]:
    """Every state entry of the history, in order."""
    path: list[Visit] = []
    open_visits: list[Visit] = []
    ended_badly = False
    for event in events:
        kind = str(event.get("type", ""))
        when = timestamp(event.get("timestamp"))
        if kind.endswith("StateEntered"):
            name = _state_name(event, "stateEnteredEventDetails")
            visit = Visit(name, kind.removesuffix("StateEntered"), when)
            if visit.type == "Fail":
                visit.outcome = "failed"
            path.append(visit)
            open_visits.append(visit)
        elif kind.endswith("StateExited"):
            name = _state_name(event, "stateExitedEventDetails")
            for visit in reversed(open_visits):
                if visit.name == name:
                    visit.exited = when
                    open_visits.remove(visit)
                    break
        elif kind in _EXECUTION_FAILED:
            ended_badly = True
        elif kind.endswith(("Failed", "TimedOut", "Aborted")) and open_visits:
            current = open_visits[-1]
            if current.outcome == "ok":
                current.outcome = "caught"
            current.error = _error(event) or current.error
    for visit in open_visits:
        if visit.outcome != "failed":
            visit.outcome = "failed" if ended_badly else "open"
    return path


def fold(path: Sequence[Visit]) -> list[Stop]:
    """The path with each run of a repeated sequence of states (a polling loop) drawn once.

    At each position the loop covering the most visits wins; a state met once is a Stop of
    its own.
    """
    stops: list[Stop] = []
    loops = 0
    index = 0
    while index < len(path):
        best_length, best_count = 1, 1
        for length in range(1, _LONGEST_LOOP + 1):
            pattern = [v.name for v in path[index : index + length]]
            if len(pattern) < length:
                break
            count = 1
            while [
                v.name for v in path[index + count * length : index + (count + 1) * length]
            ] == pattern:
                count += 1
            if count > 1 and count * length > best_count * best_length:
                best_length, best_count = length, count
        covered = path[index : index + best_length * best_count]
        if best_count == 1:
            visit = covered[0]
            stops.append(Stop(visit.name, visit.type, visit.seconds, visit.outcome, visits=[visit]))
        else:
            loops += 1
            for offset in range(best_length):
                members = list(covered[offset::best_length])
                seconds = [v.seconds for v in members if v.seconds is not None]
                stops.append(
                    Stop(
                        members[0].name,
                        members[0].type,
                        sum(seconds) if seconds else None,
                        _worst(v.outcome for v in members),
                        loop=loops,
                        repeats=best_count,
                        visits=members,
                    )
                )
        index += len(covered)
    return stops


def execution_end(events: Sequence[Mapping[str, Any]]) -> tuple[str, str | None, str | None]:
    """How the execution ended: its last event's type, with the error and cause if failed."""
    for event in reversed(events):
        kind = str(event.get("type", ""))
        if kind.startswith("Execution") and kind != "ExecutionStarted":
            details = _details(event)
            return kind, details.get("error"), details.get("cause")
    return "running", None, None


def execution_input(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The execution's input as started (JSON text), if the history has it."""
    for event in events:
        if event.get("type") == "ExecutionStarted":
            return _details(event).get("input")
    return None


def timestamp(value: Any) -> dt.datetime | None:
    """An event's time as boto3 gives it (datetime), as JSON wrote it (str) or epoch seconds."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def asl_states(definition: Mapping[str, Any]) -> list[str]:
    """Every state name of an ASL definition, those of Parallel branches and Maps included."""
    names: list[str] = []
    states = definition.get("States")
    for name, state in states.items() if isinstance(states, Mapping) else []:
        names.append(str(name))
        if not isinstance(state, Mapping):
            continue
        inner = [*(state.get("Branches") or [])]
        inner += [
            state[k] for k in ("Iterator", "ItemProcessor") if isinstance(state.get(k), Mapping)
        ]
        for machine in inner:
            if isinstance(machine, Mapping):
                names.extend(asl_states(machine))
    return names


_SEVERITY = ("ok", "caught", "open", "failed")


def _worst(outcomes: Iterable[str]) -> str:
    return max(outcomes, key=lambda o: _SEVERITY.index(o) if o in _SEVERITY else 0)


def _state_name(event: Mapping[str, Any], key: str) -> str:
    details = event.get(key)
    return str(details.get("name", "?")) if isinstance(details, Mapping) else "?"


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's `<type>EventDetails`, whatever its type."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _error(event: Mapping[str, Any]) -> str | None:
    details = _details(event)
    error = details.get("error")
    return str(error) if error else None
