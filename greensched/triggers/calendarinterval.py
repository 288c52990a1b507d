"""A trigger that fires at a fixed wall-clock time every N years, months, weeks or days."""

from __future__ import annotations

from datetime import MAXYEAR, date, datetime, time, timedelta, tzinfo
from datetime import timezone as _timezone
from typing import Any
from zoneinfo import ZoneInfo

from greensched._validators import jitter as validate_jitter
from greensched._validators import require_state_version
from greensched.triggers.base import BaseTrigger, choose_timezone
from greensched.util import convert_to_datetime, localize

__all__ = ("CalendarIntervalTrigger",)

_UTC = _timezone.utc

#: The mean length of a month in the Gregorian calendar (146097 days every 4800 months)
_DAYS_PER_MONTH = 146097 / 4800

#: How far (in days) ``n`` calendar months may stray from ``n * _DAYS_PER_MONTH`` (under 4 days,
#: measured over a whole 400-year cycle), with room to spare: the search for the first fire time
#: starts this far before the estimate, so that the estimate never overshoots it
_ESTIMATE_SLACK_DAYS = 7


class CalendarIntervalTrigger(BaseTrigger):
    """Fires at the same wall-clock time (``hour:minute:second`` in ``timezone``) every
    ``years + months + weeks + days``, starting on ``start_date``.

    The fire dates form a grid: the ``k``-th one is ``start_date`` moved by ``k * (12 * years +
    months)`` months, keeping the day of the month, then by ``k * (7 * weeks + days)`` days. A
    day that does not exist in its month (January 31 plus one month, or February 29 plus one
    year outside leap years) is skipped, and the grid goes on from ``start_date``, so the
    schedule keeps its day of the month: a monthly trigger starting on January 31 fires on
    January 31, March 31, May 31, July 31, August 31...

    Each fire time is the grid date combined with the wall time. A wall time that occurs twice
    (in the hour a daylight saving change turns the clocks back) fires once, at its first
    occurrence. When the first fire time is asked for, it is the first one at or after ``now``;
    after that, each one is the first grid point after the previous fire time.

    :param years: number of years to wait
    :param months: number of months to wait
    :param weeks: number of weeks to wait
    :param days: number of days to wait
    :param hour: hour to fire at (0-23)
    :param minute: minute to fire at (0-59)
    :param second: second to fire at (0-59)
    :param start_date: the first date to fire on, and the origin of the grid: a date, an ISO 8601
        date string (``'2024-01-31'``), or a datetime or datetime string, of which only the date
        counts (an aware one is first converted to ``timezone``); if omitted, the day the job
        is added (the scheduler's clock) in ``timezone``: until then (:meth:`fill_defaults`)
        the attribute reads ``None``, a pickled or exported trigger keeps it unset, and
        ``repr()`` leaves it out
    :param end_date: the last date to fire on (same forms as ``start_date``)
    :param timezone: the zone of the wall time and of the returned fire times (a tzinfo or an
        IANA zone name); if omitted, the zone of an aware ``start_date`` datetime, else of an
        aware ``end_date`` datetime, else the local zone
    :param jitter: delay each fire time by a random number of seconds between 0 and ``jitter``
    :raises TypeError: if a length, ``hour``, ``minute``, ``second`` or ``jitter`` is not a
        number of the right kind, or a date or ``timezone`` is of an unsupported type
    :raises ValueError: if a length is negative, every length is zero, ``hour``, ``minute`` or
        ``second`` is out of range, ``jitter`` is negative or not finite, ``end_date`` is
        earlier than ``start_date`` (for a default ``start_date``: raised by
        :meth:`fill_defaults`, so by ``add_job``), ``timezone`` is an unknown zone name, or a date string is
        not ISO 8601

    .. note:: A wall time that does not exist on a date (it falls in the gap where a daylight
       saving change moves the clocks forward) fires at the first instant after the gap (03:00
       for 02:30 when the clocks jump from 02:00 to 03:00; the next midnight where a whole day
       is skipped, as in Samoa on 2011-12-30), as Vixie cron does. APScheduler 3.11 skips that
       date: a daily job at 02:30 does not run at all that day.

    .. note:: A ``start_date`` in the past does not replay the past: the first fire time is the
       first grid point at or after ``now``, found by arithmetic (a ``start_date`` a century
       ago costs no more than one yesterday). APScheduler 3.11 returns the fire time of
       ``start_date`` itself, even if it has passed (and so does a trigger created today after
       its wall time), which the scheduler then reports as missed or runs late.

    .. note:: Every fire time comes from the grid of ``start_date``. APScheduler 3.11 moves
       each fire date from the *previous* one, which gives the same dates when only
       ``years``/``months`` or only ``weeks``/``days`` are given, but not when both are: there
       the day of the month drifts whenever the days spill into the next month (``months=1,
       days=1`` from January 30: greensched fires on April 1, May 3, June 3...; APScheduler
       on March 31, June 1, July 2...). A ``previous_fire_time`` off the grid (a
       ``next_run_time`` set by hand) is followed by the next grid point, not by a shifted
       schedule, and jitter never moves the later fire times (APScheduler 3.11 moves on from
       the date of a jittered fire time, so a delay past midnight loses a day).

    .. note:: ``jitter`` is elapsed time added in UTC, so a delayed fire time is never a wall time
       inside a daylight saving gap (APScheduler 3.11 adds it to the wall time), and a delay that
       passes the end of ``end_date`` ends the schedule (APScheduler 3.11 still returns it).

    .. note:: Lengths must be integers of zero or more, and ``hour``, ``minute`` and ``second``
       integers: APScheduler 3.11 accepts negative lengths (and then fires backwards in time)
       and fractional ones (``days=1.5`` fires daily). The zone is taken from an aware
       ``start_date`` or ``end_date`` datetime when ``timezone`` is omitted (APScheduler 3.11
       then uses the local zone), datetime strings are accepted as dates, and the default
       ``start_date`` is today in ``timezone`` (APScheduler 3.11: today on the host's clock, in
       its local zone).
    """

    __slots__ = (
        "_time",
        "days",
        "end_date",
        "jitter",
        "months",
        "start_date",
        "timezone",
        "weeks",
        "years",
    )

    years: int
    months: int
    weeks: int
    days: int
    start_date: date | None
    end_date: date | None
    timezone: tzinfo
    jitter: float | None
    _time: time

    def __init__(
        self,
        *,
        years: int = 0,
        months: int = 0,
        weeks: int = 0,
        days: int = 0,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        timezone: tzinfo | str | None = None,
        jitter: float | None = None,
    ) -> None:
        lengths = {"years": years, "months": months, "weeks": weeks, "days": days}
        for name, value in lengths.items():
            _check_length(name, value)
        if not any(lengths.values()):
            given = ", ".join(f"{name}={value!r}" for name, value in lengths.items())
            raise ValueError(f"interval must be at least 1 day long, got: {given}")
        self.years, self.months, self.weeks, self.days = years, months, weeks, days
        self._time = time(
            _check_time_field("hour", hour, 23),
            _check_time_field("minute", minute, 59),
            _check_time_field("second", second, 59),
        )

        self.timezone = _without_pytz(choose_timezone(timezone, start_date, end_date))

        self.start_date = _to_date(start_date, self.timezone, "start_date")
        self.end_date = _to_date(end_date, self.timezone, "end_date")
        self._check_end_date()
        self.jitter = validate_jitter(jitter)

    def fill_defaults(self, now: datetime) -> None:
        """Set an unset ``start_date`` to the date of ``now`` in the trigger's zone.

        :raises ValueError: if ``end_date`` is earlier than that date
        """
        if self.start_date is None:
            self.start_date = now.astimezone(self.timezone).date()
            self._check_end_date()

    def _check_end_date(self) -> None:
        """:raises ValueError: if ``end_date`` is earlier than ``start_date`` (both set)"""
        first, last = self.start_date, self.end_date
        if first is not None and last is not None and last < first:
            raise ValueError(
                f"end_date must not be earlier than start_date ({first}), got: {last!r}"
            )

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next fire time, or ``None`` once past ``end_date``.

        :param previous_fire_time: the previous fire time this trigger returned, or ``None``
            on the first call
        :param now: current datetime; the first call of a trigger without ``start_date`` takes
            its date as the start (see :meth:`fill_defaults`)
        """
        self.fill_defaults(now)
        if previous_fire_time is None:
            bound, inclusive = now.astimezone(_UTC), True
        else:
            bound, inclusive = previous_fire_time.astimezone(_UTC), False
        try:
            next_fire_time = self._next_grid_point(bound, inclusive)
        except OverflowError:  # the grid has run past the year 9999
            return None
        if next_fire_time is None or not self.jitter:
            return next_fire_time
        jittered = self._apply_jitter(next_fire_time, self.jitter, now)
        if jittered is None or (
            self.end_date is not None and jittered.astimezone(self.timezone).date() > self.end_date
        ):
            return None
        return jittered

    def _next_grid_point(self, bound: datetime, inclusive: bool) -> datetime | None:
        """Return the first fire time at (``inclusive``) or after the UTC instant ``bound``,
        ``None`` if it would come after ``end_date``.

        :raises OverflowError: if the search runs past the last representable date
        """
        zone = self.timezone
        assert self.start_date is not None, "filled in by fill_defaults()"
        step_months = 12 * self.years + self.months
        step_days = 7 * self.weeks + self.days
        # Start a little before the grid point estimated from the mean length of a month; the
        # slack guarantees that no grid point at or after ``bound`` is passed over
        period = step_months * _DAYS_PER_MONTH + step_days
        bound_day = bound.astimezone(zone).date()
        span = (bound_day - self.start_date).days - _ESTIMATE_SLACK_DAYS
        index = max(int(span // period) - 1, 0)
        while True:
            day = self._grid_date(index, step_months, step_days)
            index += 1
            if day is None:  # the day of the month does not exist in that month
                continue
            if self.end_date is not None and day > self.end_date:
                return None
            if (bound_day - day).days > 1:
                continue  # too early even if a gap moved its wall time into the next day
            # a wall time in a gap comes back as the first instant after the gap; an ambiguous
            # one (fold=0) as its first occurrence
            candidate = localize(datetime.combine(day, self._time), zone)
            # compared in UTC: an aware datetime in a fall-back overlap never equals one in
            # another zone (PEP 495), so ``candidate == bound`` would miss an exact match
            instant = candidate.astimezone(_UTC)
            if instant > bound or (inclusive and instant == bound):
                if self.end_date is not None and candidate.date() > self.end_date:
                    return None  # a gap that ends on the next day
                return candidate

    def _grid_date(self, index: int, step_months: int, step_days: int) -> date | None:
        """Return the ``index``-th grid date, or ``None`` if its day does not exist.

        :raises OverflowError: if the date is past the last representable one
        """
        day = self.start_date
        assert day is not None, "filled in by fill_defaults()"
        if step_months:
            year, month = divmod(day.year * 12 + day.month - 1 + index * step_months, 12)
            if year > MAXYEAR:
                raise OverflowError("date value out of range")
            try:
                day = day.replace(year=year, month=month + 1)
            except ValueError:
                return None
        if step_days:
            day += timedelta(days=index * step_days)
        return day

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 1,
            "interval": [self.years, self.months, self.weeks, self.days],
            "time": [self._time.hour, self._time.minute, self._time.second],
            "start_date": self.start_date,
            "end_date": self.end_date,
            "timezone": self.timezone,
            "jitter": self.jitter,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        require_state_version(self, state, 1)
        self.years, self.months, self.weeks, self.days = state["interval"]
        self._time = time(*state["time"])
        self.timezone = state["timezone"]
        start_date = state["start_date"]
        self.start_date = None if start_date is None else _as_plain_date(start_date)
        end_date = state["end_date"]
        self.end_date = None if end_date is None else _as_plain_date(end_date)
        self.jitter = state.get("jitter")

    def __repr__(self) -> str:
        # APScheduler 3.11's format, which is also its str()
        fields = [
            f"{name}={value}"
            for name, value in (
                ("years", self.years),
                ("months", self.months),
                ("weeks", self.weeks),
                ("days", self.days),
            )
            if value
        ]
        wall_time = self._time.replace(tzinfo=self.timezone).isoformat()
        fields.append(f"time={wall_time!r}")
        if self.start_date is not None:
            fields.append(f"start_date='{self.start_date}'")
        if self.end_date is not None:
            fields.append(f"end_date='{self.end_date}'")
        zone = self.timezone
        zone_name = zone.key if isinstance(zone, ZoneInfo) and zone.key else repr(zone)
        fields.append(f"timezone={zone_name!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


def _check_length(name: str, value: Any) -> None:
    """Reject a number of years, months, weeks or days that is not an integer of zero or more.

    :raises TypeError: if ``value`` is not an int
    :raises ValueError: if it is negative
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got: {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be zero or more, got: {value!r}")


def _check_time_field(name: str, value: Any, highest: int) -> int:
    """Return ``value`` if it is an integer from 0 to ``highest``.

    :raises TypeError: if ``value`` is not an int
    :raises ValueError: if it is out of range
    """
    rule = f"an integer between 0 and {highest}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be {rule}, got: {value!r}")
    if not 0 <= value <= highest:
        raise ValueError(f"{name} must be {rule}, got: {value!r}")
    return value


def _without_pytz(zone: tzinfo) -> tzinfo:
    """Replace a pytz zone by its zoneinfo (or fixed offset) equivalent, as APScheduler 3.11
    does: pytz zones give wrong offsets unless every datetime goes through their
    ``localize()``."""
    if not hasattr(zone, "localize"):
        return zone
    name = getattr(zone, "zone", None)
    if name:
        return ZoneInfo(name)
    offset = zone.utcoffset(None)
    assert offset is not None
    return _timezone(offset)


def _to_date(value: date | str | None, zone: tzinfo, name: str) -> date | None:
    """Convert a date, a datetime or an ISO 8601 string to a date in ``zone``.

    An aware datetime is converted to ``zone`` first; a naive one keeps its date.

    :raises TypeError: if ``value`` is of another type
    :raises ValueError: if a string is not ISO 8601
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:  # a datetime string
            converted = convert_to_datetime(value, zone, name)
            assert converted is not None
            value = converted
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone)
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(
        f"Unsupported type for {name}: {value.__class__.__name__} "
        "(expected a date, a datetime or a string)"
    )


def _as_plain_date(value: date) -> date:
    """Return the date of a datetime (as an APScheduler 3.11 state may hold), a date as is."""
    return value.date() if isinstance(value, datetime) else value
