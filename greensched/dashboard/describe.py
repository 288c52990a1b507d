"""Triggers in plain words, for the dashboard: ``every 5 minutes``, ``at 02:30 on Mon-Fri
(Europe/Paris)``, ``once at 2026-12-02 10:00 UTC``; :func:`describe_trigger`."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from greensched.triggers.calendarinterval import CalendarIntervalTrigger
from greensched.triggers.combining import AndTrigger, OrTrigger
from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.fields import CrontabDayOfWeekField
from greensched.triggers.date import DateTrigger
from greensched.triggers.interval import IntervalTrigger

__all__ = ("describe_trigger", "zone_name")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
_STEP = re.compile(r"^\*/(\d+)$")
_NUMBER = re.compile(r"^\d+$")


def zone_name(zone: tzinfo | None) -> str:
    """The name of a time zone (``Europe/Paris``, ``UTC``), ``''`` for none."""
    if zone is None:
        return ""
    return str(getattr(zone, "key", None) or getattr(zone, "zone", None) or zone)


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" + ("" if number == 1 else "s")


def _every(seconds: float) -> str:
    """``every 5 minutes``, ``every 1 hour 30 minutes``, ``every day``, ``every 0.5 seconds``."""
    if seconds < 1 or seconds != int(seconds):
        return f"every {seconds:g} seconds"
    left = int(seconds)
    parts = []
    for unit, size in _UNITS:
        number, left = divmod(left, size)
        if number:
            parts.append(_count(number, unit))
    if len(parts) == 1 and parts[0].startswith("1 "):
        return f"every {parts[0][2:]}"
    return "every " + " ".join(parts)


def _names(text: str, names: tuple[str, ...], first: int = 0) -> str:
    """A cron field's values with names (``mon-fri`` stays, ``0-4`` becomes ``Mon-Fri``, with an en dash)."""

    def name(value: str) -> str:
        if _NUMBER.match(value):
            index = int(value) - first
            return names[index] if 0 <= index < len(names) else value
        return value[:1].upper() + value[1:].lower()

    words = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        words.append(f"{name(low)}\u2013{name(high)}" if dash else name(part))
    return ", ".join(words)


def _cron_time(fields: dict[str, str]) -> str:
    hour, minute, second = fields["hour"], fields["minute"], fields["second"]
    if all(_NUMBER.match(value) for value in (hour, minute, second)):
        clock = f"{int(hour):02}:{int(minute):02}"
        return "at " + (clock if int(second) == 0 else f"{clock}:{int(second):02}")
    if hour == "*" and _NUMBER.match(minute) and second == "0":
        return f"every hour at minute {int(minute)}"
    # most significant first: a "*" is said only below a restricted field ("every minute of
    # hour 9"), then read least significant first
    words = []
    restricted = False
    for name in ("hour", "minute", "second"):
        value = fields[name]
        step = _STEP.match(value)
        if value == "*":
            if restricted:
                words.append(f"every {name}")
        elif name == "second" and value == "0" and words:
            continue
        else:
            restricted = True
            words.append(
                f"every {_count(int(step.group(1)), name)}" if step else f"{name} {value}"
            )
    return " of ".join(reversed(words)) if words else "every second"


def _cron(trigger: CronTrigger) -> str:
    fields = {field.name: str(field) for field in trigger.fields}
    words = [_cron_time(fields)]
    weekday = next(field for field in trigger.fields if field.name == "day_of_week")
    if fields["day_of_week"] != "*":
        # crontab(5) numbers the days from Sunday (0 and 7)
        crontab = isinstance(weekday, CrontabDayOfWeekField)
        names = ("Sun", *_WEEKDAYS) if crontab else _WEEKDAYS
        words.append("on " + _names(fields["day_of_week"], names))
    if fields["day"] != "*":
        words.append(f"on day {fields['day']} of the month")
    if fields["week"] != "*":
        words.append(f"in ISO week {fields['week']}")
    if fields["month"] != "*":
        words.append("in " + _names(fields["month"], _MONTHS, 1))
    if fields["year"] != "*":
        words.append(f"in {fields['year']}")
    if len(words) == 1 and words[0].startswith("at "):
        words.append("every day")
    return " ".join(words)


def _calendar(trigger: CalendarIntervalTrigger) -> str:
    parts = [
        _count(number, unit)
        for number, unit in (
            (trigger.years, "year"),
            (trigger.months, "month"),
            (trigger.weeks, "week"),
            (trigger.days, "day"),
        )
        if number
    ]
    every = " ".join(parts)
    if every.startswith("1 ") and len(parts) == 1:
        every = every[2:]
    time = trigger._time
    return f"every {every} at {time:%H:%M}" + (f":{time:%S}" if time.second else "")


def _with_zone(text: str, zone: Any) -> str:
    name = zone_name(zone)
    return f"{text} ({name})" if name else text


def describe_trigger(trigger: Any) -> str:
    """Return ``trigger``'s schedule in plain words, with its time zone where the times of day
    depend on it (``str(trigger)`` for a trigger it does not know)."""
    try:
        if isinstance(trigger, IntervalTrigger):
            return _every(trigger.interval.total_seconds())
        if isinstance(trigger, DateTrigger):
            when = trigger.run_date
            if when is None:
                return "once, when added"
            text = when.strftime("%Y-%m-%d %H:%M" + (":%S" if when.second else ""))
            return f"once at {text} {zone_name(when.tzinfo)}"
        if isinstance(trigger, CronTrigger):
            return _with_zone(_cron(trigger), trigger.timezone)
        if isinstance(trigger, CalendarIntervalTrigger):
            return _with_zone(_calendar(trigger), trigger.timezone)
        if isinstance(trigger, AndTrigger):
            return "when all of: " + "; ".join(describe_trigger(t) for t in trigger.triggers)
        if isinstance(trigger, OrTrigger):
            return "; or ".join(describe_trigger(t) for t in trigger.triggers)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass  # a subclass shaped otherwise: its own text
    return str(trigger)
