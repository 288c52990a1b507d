"""A trigger that fires at fixed intervals of elapsed time."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as _timezone
from typing import Any

from greensched import _dst
from greensched._validators import jitter as validate_jitter
from greensched._validators import require_state_version
from greensched.triggers.base import BaseTrigger, choose_timezone
from greensched.util import convert_to_datetime, datetime_repr

__all__ = ("IntervalTrigger",)

_UTC = _timezone.utc


class IntervalTrigger(BaseTrigger):
    """Fires every ``weeks + days + hours + minutes + seconds``, starting on ``start_date``.

    The fire times form a grid ``start_date + k * interval`` of *elapsed* time, as in
    APScheduler 3.x: across a daylight saving change the wall time of the fire times shifts by
    the change (``hours=24`` fires at 12:00 before spring forward and at 13:00 after it). Fire
    times are returned in ``timezone``. When the first fire time is asked for after
    ``start_date`` has passed, it is the first grid point at or after ``now``: missed grid points
    are not replayed and the grid keeps its alignment.

    An interval of zero becomes one second, as in APScheduler 3.x.

    :param weeks: number of weeks to wait
    :param days: number of days to wait
    :param hours: number of hours to wait
    :param minutes: number of minutes to wait
    :param seconds: number of seconds to wait
    :param start_date: the first fire time and the origin of the grid (a datetime, a date or an
        ISO 8601 string); if omitted, the time the job is added (the scheduler's clock) plus
        one interval: until then (:meth:`fill_defaults`) the attribute reads ``None``, a
        pickled or exported trigger keeps it unset, and ``repr()`` leaves it out
    :param end_date: the latest time the trigger may fire on
    :param timezone: the zone of naive dates and of the returned fire times (a tzinfo or an IANA
        zone name); if omitted, the zone of an aware ``start_date``, else of an aware
        ``end_date``, else the local zone
    :param jitter: delay each fire time by a random number of seconds between 0 and ``jitter``
    :raises TypeError: if a length or ``jitter`` is not a number, or a date or ``timezone`` is
        of an unsupported type
    :raises ValueError: if a length or ``jitter`` is negative or not finite, the interval is too
        long for a :class:`~datetime.timedelta`, ``timezone`` is an unknown zone name, or a date
        string is not ISO 8601

    .. note:: Jitter does not accumulate. APScheduler 3.x adds the next interval to the previous
       *jittered* fire time, so each delay shifts every later fire time and the schedule drifts
       by about ``jitter / 2`` per fire. greensched computes the next fire time on the
       unjittered grid, then delays it: each fire time lies in ``[grid point, grid point +
       jitter]``. The grid point is recovered from the previous fire time as the last grid point
       at or before it, which is exact while ``jitter < interval``; with a larger jitter a
       delayed fire can pass the next grid point, which is then skipped (fire times still
       increase and stay on the grid).

    .. note:: APScheduler 3.x accepts negative lengths (and then fires backwards in time);
       greensched rejects them with :exc:`ValueError`. A ``start_date`` or ``end_date`` whose
       wall time falls in a daylight saving gap is moved to the first instant after the gap.

    .. note:: APScheduler 3.x fills a left-out ``start_date`` in the constructor, from the system
       clock; greensched leaves it unset until the job is added (see
       :meth:`~greensched.triggers.base.BaseTrigger.fill_defaults`), so that it comes from the
       scheduler's clock.
    """

    __slots__ = ("end_date", "interval", "jitter", "start_date", "timezone")

    interval: timedelta
    timezone: tzinfo
    start_date: datetime | None
    end_date: datetime | None
    jitter: float | None

    def __init__(
        self,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: tzinfo | str | None = None,
        jitter: float | None = None,
    ) -> None:
        given = (weeks, days, hours, minutes, seconds)
        interval = _intervals.get(given)
        # a hit is right only for plain ints and floats (True == 1, and a Decimal can equal one)
        if interval is None or not _PLAIN_LENGTHS.issuperset(map(type, given)):
            interval = _interval(given)
        self.interval = interval

        zone = choose_timezone(timezone, start_date, end_date)
        self.timezone = zone

        if start_date is None:
            self.start_date = None  # filled in by fill_defaults()
        else:
            converted = convert_to_datetime(start_date, zone, "start_date")
            assert converted is not None
            self.start_date = _dst.skip_gap(converted)
            try:
                self.start_date.astimezone(_UTC) + interval  # room for a second fire time?
            except OverflowError:
                raise _no_room(interval, f"start_date {start_date}") from None
        converted = convert_to_datetime(end_date, zone, "end_date")
        self.end_date = None if converted is None else _dst.skip_gap(converted)
        self.jitter = validate_jitter(jitter)

    def fill_defaults(self, now: datetime) -> None:
        """Set an unset ``start_date`` to ``now`` plus one interval (in the trigger's zone).

        :raises ValueError: if that leaves no room for a second fire time before the year 10000
        """
        if self.start_date is not None:
            return
        try:
            start = now.astimezone(_UTC) + self.interval
            start + self.interval  # room for a second fire time?
        except OverflowError:
            raise _no_room(self.interval, "now") from None
        self.start_date = start.astimezone(self.timezone)

    @property
    def interval_length(self) -> float:
        """The interval in seconds (computed: one float less per trigger to keep in memory)."""
        return self.interval.total_seconds()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next fire time, or ``None`` once past ``end_date``.

        :param previous_fire_time: the previous fire time this trigger returned, or ``None``
            on the first call
        :param now: current datetime; the first call of a trigger without ``start_date`` takes
            it as the time the schedule starts from (see :meth:`fill_defaults`)
        """
        if self.start_date is None:  # (checked here: this is on the loop's hot path)
            self.fill_defaults(now)
        try:
            next_time = self._next_grid_point(previous_fire_time, now)
        except OverflowError:
            return None  # past the last representable date: the schedule is over

        if self.end_date is not None and next_time > self.end_date:
            return None
        next_fire_time = next_time.astimezone(self.timezone)
        if not self.jitter:
            return next_fire_time
        jittered = self._apply_jitter(next_fire_time, self.jitter, now)
        # as in APScheduler 3.x, a delay past end_date ends the schedule (compared in UTC: two
        # datetimes sharing a tzinfo compare by wall time, which is wrong in a fall-back overlap)
        if jittered is None or (
            self.end_date is not None and jittered.astimezone(_UTC) > self.end_date
        ):
            return None
        return jittered

    def _next_grid_point(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """The grid point after ``previous_fire_time`` (or the first at or after ``now``), in
        UTC, before jitter and ``end_date``.

        :raises OverflowError: if it lies past :attr:`datetime.max`
        """
        assert self.start_date is not None, "filled in by fill_defaults()"
        start = self.start_date.astimezone(_UTC)
        if previous_fire_time is not None:
            previous = previous_fire_time.astimezone(_UTC)
            if self.jitter:
                # the grid point the (jittered) previous fire time came from, plus one
                slot = max((previous - start) // self.interval + 1, 0)
                return start + slot * self.interval
            return previous + self.interval
        current = now.astimezone(_UTC)
        if start > current:
            return start
        # the first grid point at or after now
        return start - ((start - current) // self.interval) * self.interval

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 2,
            "timezone": self.timezone,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "interval": self.interval,
            "jitter": self.jitter,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        require_state_version(self, state, 2)
        self.timezone = state["timezone"]
        self.start_date = state["start_date"]
        self.end_date = state["end_date"]
        self.interval = _shared_interval(state["interval"])
        self.jitter = state.get("jitter")  # version 1 has no jitter

    def __str__(self) -> str:
        return f"interval[{self.interval}]"

    def __repr__(self) -> str:
        options = [f"interval={self.interval!r}"]
        if self.start_date is not None:
            options.append(f"start_date={datetime_repr(self.start_date)!r}")
        if self.end_date is not None:
            options.append(f"end_date={datetime_repr(self.end_date)!r}")
        if self.jitter:
            options.append(f"jitter={self.jitter}")
        return f"<{type(self).__name__} ({', '.join(options)}, timezone='{self.timezone}')>"


_LENGTH_NAMES = ("weeks", "days", "hours", "minutes", "seconds")
_PLAIN_LENGTHS = frozenset((int, float))

#: The intervals of the lengths given so far (``(weeks, days, hours, minutes, seconds)``), for
#: the first :data:`_MAX_SHARED_INTERVALS` different ones: the next trigger with the same
#: lengths skips their checks and arithmetic
_intervals: dict[tuple[Any, ...], timedelta] = {}


def _interval(given: tuple[Any, ...]) -> timedelta:
    """The interval of the lengths ``given`` (``(weeks, days, hours, minutes, seconds)``),
    checked; one second for none (as in APScheduler 3.x).

    :raises TypeError, ValueError: naming a bad length
    """
    lengths = dict(zip(_LENGTH_NAMES, given))
    for name, value in lengths.items():
        _check_length(name, value)
    try:
        interval = timedelta(**lengths)
    except OverflowError:
        text = ", ".join(f"{name}={value!r}" for name, value in lengths.items() if value)
        raise ValueError(f"interval must be at most {timedelta.max}, got: {text}") from None
    if not interval:
        interval = timedelta(seconds=1)
    interval = _shared_interval(interval)
    if _PLAIN_LENGTHS.issuperset(map(type, given)) and len(_intervals) < _MAX_SHARED_INTERVALS:
        _intervals[given] = interval
    return interval


#: The most different intervals :func:`_shared_interval` keeps
_MAX_SHARED_INTERVALS = 1024
_shared_intervals: dict[timedelta, timedelta] = {}


def _shared_interval(interval: timedelta) -> timedelta:
    """Return one :class:`~datetime.timedelta` object for all equal intervals (a timedelta is
    immutable): the triggers of many jobs with the same interval then keep one object, not
    one each. Only the first :data:`_MAX_SHARED_INTERVALS` different intervals are kept."""
    shared = _shared_intervals.get(interval)
    if shared is not None:
        return shared
    if len(_shared_intervals) < _MAX_SHARED_INTERVALS:
        _shared_intervals[interval] = interval
    return interval


def _no_room(interval: timedelta, origin: str) -> ValueError:
    """The error for an interval that leaves no room for a second fire time after its start
    (``origin`` says where the start came from)."""
    return ValueError(
        f"interval must leave room for a second fire time before the year "
        f"{datetime.max.year + 1}, got: {interval} from {origin}"
    )


def _check_length(name: str, value: Any) -> None:
    """Reject an interval length that is not a finite number of zero or more.

    :raises TypeError: if ``value`` is not an int or a float
    :raises ValueError: if it is negative, infinite or NaN
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got: {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got: {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be zero or more, got: {value!r}")
