"""EventBridge Scheduler schedule expressions: the default cadence and a strict validator.

CloudFormation accepts any string for `ScheduleExpression` and only the Scheduler API rejects
a bad one, halfway through a deployment. Validating here turns that into an error at
template-build time (and in the tests, for every expression the project ships).

Grammar (EventBridge Scheduler, "Schedule types"):

* ``at(yyyy-mm-ddThh:mm:ss)`` one time, in the schedule's time zone;
* ``rate(value unit)`` with unit ``minute|hour|day`` when value is 1, plural otherwise;
* ``cron(minutes hours day-of-month month day-of-week year)``: exactly six fields, and one of
  day-of-month and day-of-week must be ``?`` (not both).
"""

from __future__ import annotations

import datetime as dt
import re

#: Monday 06:00 (in the schedule's time zone): fresh data from the weekend, reviewers at work.
DEFAULT_SCHEDULE = "cron(0 6 ? * MON *)"
DEFAULT_TIMEZONE = "UTC"

_RATE_UNITS = ("minute", "hour", "day")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_EXPRESSION = re.compile(r"^(at|rate|cron)\((.*)\)$", re.DOTALL)


class InvalidScheduleExpression(ValueError):
    """The expression would be rejected by EventBridge Scheduler; the message says why."""


class _Field:
    """One cron field: its numeric range, names, and the special characters it allows."""

    def __init__(self, name: str, low: int, high: int, names: tuple[str, ...] = ()) -> None:
        self.name, self.low, self.high = name, low, high
        self.names = {n: low + i for i, n in enumerate(names)}

    def number(self, token: str, expression: str) -> int:
        value = self.names.get(token.upper()) if not token.isdigit() else int(token)
        if value is None or not self.low <= value <= self.high:
            allowed = f"{self.low}-{self.high}"
            if self.names:
                allowed += f" or {min(self.names, key=self.names.__getitem__)}-"
                allowed += max(self.names, key=self.names.__getitem__)
            raise _bad(expression, f"{self.name} value {token!r} is not in {allowed}")
        return value


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _WEEKDAYS)
_YEAR = _Field("year", 1970, 2199)


def validate_schedule_expression(expression: str) -> str:
    """Return `expression` unchanged if EventBridge Scheduler accepts it, else raise."""
    match = _EXPRESSION.match(expression.strip()) if isinstance(expression, str) else None
    if match is None or match.group(0) != expression:
        raise _bad(expression, "expected at(...), rate(...) or cron(...) with no spaces around")
    kind, body = match.groups()
    {"at": _check_at, "rate": _check_rate, "cron": _check_cron}[kind](body, expression)
    return expression


def is_valid_schedule_expression(expression: str) -> bool:
    try:
        validate_schedule_expression(expression)
    except InvalidScheduleExpression:
        return False
    return True


def _check_at(body: str, expression: str) -> None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body):
        raise _bad(expression, "at() takes yyyy-mm-ddThh:mm:ss")
    try:
        dt.datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise _bad(expression, f"{body} is not a real date and time") from None


def _check_rate(body: str, expression: str) -> None:
    match = re.fullmatch(r"([1-9]\d*) ([a-z]+)", body)
    if match is None:
        raise _bad(expression, "rate() takes a positive whole number and a unit, e.g. rate(7 days)")
    value, unit = int(match.group(1)), match.group(2)
    expected = _RATE_UNITS if value == 1 else tuple(u + "s" for u in _RATE_UNITS)
    if unit not in expected:
        raise _bad(expression, f"with value {value} the unit must be one of {', '.join(expected)}")


def _check_cron(body: str, expression: str) -> None:
    fields = body.split(" ")
    if len(fields) != 6 or not all(fields):
        raise _bad(
            expression,
            "cron() takes six fields separated by single spaces: "
            "minutes hours day-of-month month day-of-week year",
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    for field, text in ((_MINUTES, minutes), (_HOURS, hours), (_MONTH, month), (_YEAR, year)):
        _check_list(field, text, expression)
    if (day_of_month == "?") == (day_of_week == "?"):
        raise _bad(expression, "exactly one of day-of-month and day-of-week must be '?'")
    if day_of_month != "?":
        _check_day_of_month(day_of_month, expression)
    if day_of_week != "?":
        _check_day_of_week(day_of_week, expression)


def _check_list(field: _Field, text: str, expression: str) -> None:
    """Comma-separated items, each *, a value or a range, with an optional /increment."""
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            raise _bad(expression, f"{field.name} increment {item!r} needs a positive number")
        if base == "*":
            if not slash and text != "*":
                raise _bad(expression, f"{field.name} '*' cannot be combined in a list")
            continue
        low, dash, high = base.partition("-")
        if not low or (dash and not high):
            raise _bad(expression, f"{field.name} item {item!r} is not a value or a range")
        field.number(low, expression)
        if dash:
            field.number(high, expression)


def _check_day_of_month(text: str, expression: str) -> None:
    if text in ("L", "LW"):
        return
    if text.endswith("W"):
        _DAY_OF_MONTH.number(text[:-1], expression)  # nearest weekday to that day
        return
    _check_list(_DAY_OF_MONTH, text, expression)


def _check_day_of_week(text: str, expression: str) -> None:
    if text == "L":
        return
    if text.endswith("L") and len(text) > 1:
        _DAY_OF_WEEK.number(text[:-1], expression)  # the last such weekday of the month
        return
    day, hash_, nth = text.partition("#")
    if hash_:
        _DAY_OF_WEEK.number(day, expression)
        if nth not in {"1", "2", "3", "4", "5"}:
            raise _bad(expression, f"day-of-week {text!r}: the week after '#' must be 1-5")
        return
    _check_list(_DAY_OF_WEEK, text, expression)


def _bad(expression: object, reason: str) -> InvalidScheduleExpression:
    return InvalidScheduleExpression(f"schedule expression {expression!r}: {reason}")
