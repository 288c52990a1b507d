"""A trigger that fires when the wall-clock time matches cron-like fields."""

from __future__ import annotations

from calendar import isleap
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as _timezone
from typing import Any, ClassVar

from greensched import _dst
from greensched._validators import jitter as validate_jitter
from greensched._validators import require_state_version
from greensched.triggers.base import BaseTrigger, choose_timezone
from greensched.triggers.cron._crontab import crontab_fields, split_crontab
from greensched.triggers.cron.expressions import AllExpression
from greensched.triggers.cron.fields import (
    DEFAULT_VALUES,
    MAX_VALUES,
    BaseField,
    CrontabDayOfWeekField,
    DayOfMonthField,
    DayOfWeekField,
    MonthField,
    WeekField,
)
from greensched.util import astimezone, convert_to_datetime, datetime_repr

__all__ = ("CronTrigger",)

_UTC = _timezone.utc
_ONE_SECOND = timedelta(seconds=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_MAX_YEAR = MAX_VALUES["year"]
# The Gregorian calendar (leap years, weekdays, ISO weeks) repeats every 400 years: a year
# without a match rules out every year congruent to it.
_CALENDAR_CYCLE = 400
_MONTH_LENGTHS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

#: A wall time: year, month, day, hour, minute, second
_Wall = tuple[int, int, int, int, int, int]


class CronTrigger(BaseTrigger):
    """Fires when the wall-clock time in ``timezone`` matches all the given fields, like the
    UNIX cron scheduler.

    Each field takes an int or a string: ``*`` (any value), ``*/n`` (every n-th value from the
    field's minimum), ``a`` (a value), ``a-b`` (a range), ``a-b/n`` and ``a/n`` (every n-th
    value of a range, or from ``a`` on), and comma-separated lists of these. ``month`` also
    takes names (``jan`` ... ``dec``), ``day_of_week`` names (``mon`` ... ``sun``; as a number
    ``mon`` is 0), and ``day`` takes ``last`` (the last day of the month), ``1st fri`` ...
    ``5th fri`` and ``last fri``. Names may have steps (``mon-fri/2``), and are
    case-insensitive.

    Fields more significant than the least significant given one default to ``*``, the less
    significant ones to their minimum (``week`` and ``day_of_week`` to ``*``): ``hour=5``
    fires at 05:00:00 every day. With no field given, the trigger fires every second.

    A day must match ``day``, ``week`` and ``day_of_week`` (a trigger made by
    :meth:`from_crontab` follows crontab's rule for the two day fields instead). The fields are
    matched against the wall-clock time in ``timezone``; at daylight saving changes:

    * a match whose wall time does not exist (inside a spring-forward gap, of any length) fires
      at the first instant after the gap: ``30 2 * * *`` in Europe/Berlin fires at 03:00 CEST on
      the day clocks go from 02:00 to 03:00;
    * a wall time that occurs twice (inside a fall-back overlap) matches on its first
      occurrence; it matches on the second occurrence too only if the ``hour`` field allows
      every hour (``*`` or an equivalent such as ``0-23``). So ``30 2 * * *`` fires once, while
      ``*/15 * * * *`` keeps firing every 15 minutes of elapsed time through the repeated hour.

    Fire times are returned in ``timezone`` and are never wall times that do not exist.

    :param year: 4-digit year (1970-9999)
    :param month: month (1-12, ``jan``-``dec``)
    :param day: day of the month (1-31, ``last``, ``3rd fri``, ...)
    :param week: ISO week of the year (1-53)
    :param day_of_week: day of the week (0-6 or ``mon``-``sun``; 0 is Monday)
    :param hour: hour (0-23)
    :param minute: minute (0-59)
    :param second: second (0-59)
    :param start_date: the earliest time to fire on (inclusive): a datetime, a date or an ISO
        8601 string
    :param end_date: the latest time to fire on (inclusive)
    :param timezone: the zone the fields are matched in, also that of naive dates and of the
        returned fire times (a tzinfo or an IANA zone name; a pytz zone becomes the
        :class:`~zoneinfo.ZoneInfo` of the same name, as in APScheduler 3.11); if omitted, the
        zone of an aware ``start_date``, else of an aware ``end_date``, else the local zone
    :param jitter: delay each fire time by a random number of seconds between 0 and ``jitter``
    :raises ValueError: if a field is not a valid expression (the message names the field, the
        offending text and what was expected), ``jitter`` is negative or not finite,
        ``timezone`` is an unknown zone name, or a date string is not ISO 8601
    :raises TypeError: if a field is neither an int nor a string, or a date, ``timezone`` or
        ``jitter`` is of an unsupported type

    .. note:: No silent truncation: APScheduler 3.x reads ``'mon-fri/2'`` as ``'mon-fri'``,
       ``'jan-jun/2'`` as ``'jan-jun'``, ``'fri#9'`` as ``'fri'`` and ``'lastx'`` as ``'last'``;
       greensched applies steps after names and rejects every other expression it cannot
       parse completely. A field of another type than int or string raises an
       :exc:`~greensched._validators.InvalidValueError` (both a :exc:`TypeError` and the
       :exc:`ValueError` APScheduler 3.x raises).

    .. note:: Daylight saving: APScheduler 3.x returns the non-existent wall time
       (``02:30+01:00`` on the spring-forward day in Europe/Berlin), fires fixed-time jobs
       twice in the fall-back overlap and skips the runs of a day a zone leaves out (Samoa's
       2011-12-30); greensched follows the rules above (a daily 12:00 job in Pacific/Apia
       fires on 2011-12-31 at 00:00, then at 12:00).

    .. note:: With a ``previous_fire_time``, the next fire time is always after it, and never
       before ``start_date``. APScheduler 3.x starts from ``now`` instead when ``now`` is
       earlier than ``previous_fire_time`` (and can then return a time at or before it), and
       ignores ``start_date`` once there is a previous fire time.

    .. note:: A jittered fire time past ``end_date`` ends the schedule (``None``), as
       :class:`~greensched.triggers.interval.IntervalTrigger` does; APScheduler 3.x fires at
       ``end_date`` instead. As in APScheduler 3.x, the next fire time is computed from the
       previous (jittered) one, so a jitter longer than the gap between two matches skips
       matches.

    .. note:: A ``start_date`` or ``end_date`` whose wall time falls in a daylight saving gap
       is moved to the first instant after the gap (APScheduler 3.x moves it by the length of
       the gap). ``repr()`` of a trigger without fields reads ``<CronTrigger
       (timezone='UTC')>``, without APScheduler 3.x's stray comma.
    """

    #: The fields, most significant first
    FIELD_NAMES: ClassVar[tuple[str, ...]] = (
        "year",
        "month",
        "day",
        "week",
        "day_of_week",
        "hour",
        "minute",
        "second",
    )
    #: The field class of each field of the keyword form
    FIELDS_MAP: ClassVar[dict[str, type[BaseField]]] = {
        "year": BaseField,
        "month": MonthField,
        "week": WeekField,
        "day": DayOfMonthField,
        "day_of_week": DayOfWeekField,
        "hour": BaseField,
        "minute": BaseField,
        "second": BaseField,
    }

    __slots__ = (
        "_all_days",
        "_crontab",
        "_day_field",
        "_day_or",
        "_end_utc",
        "_fields_by_name",
        "_fixed_offset",
        "_hour_field",
        "_hour_full",
        "_minute_field",
        "_month_field",
        "_second_field",
        "_start_utc",
        "_week_field",
        "_weekday_field",
        "_year_field",
        "end_date",
        "fields",
        "jitter",
        "start_date",
        "timezone",
    )

    timezone: tzinfo
    start_date: datetime | None
    end_date: datetime | None
    jitter: float | None
    fields: list[BaseField]
    _all_days: bool
    _crontab: bool
    _day_or: bool
    _hour_full: bool
    _start_utc: datetime | None
    _end_utc: datetime | None
    _fields_by_name: dict[str, BaseField]
    _fixed_offset: bool
    _year_field: BaseField
    _month_field: BaseField
    _day_field: DayOfMonthField
    _week_field: WeekField
    _weekday_field: DayOfWeekField
    _hour_field: BaseField
    _minute_field: BaseField
    _second_field: BaseField

    def __init__(
        self,
        year: int | str | None = None,
        month: int | str | None = None,
        day: int | str | None = None,
        week: int | str | None = None,
        day_of_week: int | str | None = None,
        hour: int | str | None = None,
        minute: int | str | None = None,
        second: int | str | None = None,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: tzinfo | str | None = None,
        jitter: float | None = None,
    ) -> None:
        zone = choose_timezone(timezone, start_date, end_date)
        self.timezone = zone

        converted = convert_to_datetime(start_date, zone, "start_date")
        self.start_date = None if converted is None else _dst.skip_gap(converted)
        converted = convert_to_datetime(end_date, zone, "end_date")
        self.end_date = None if converted is None else _dst.skip_gap(converted)
        self.jitter = validate_jitter(jitter)

        values = {
            "year": year,
            "month": month,
            "day": day,
            "week": week,
            "day_of_week": day_of_week,
            "hour": hour,
            "minute": minute,
            "second": second,
        }
        given = [name for name in self.FIELD_NAMES if values[name] is not None]
        least_significant = given[-1] if given else None
        fields = []
        past_given = False
        for name in self.FIELD_NAMES:
            value = values[name]
            if value is not None:
                field = self.FIELDS_MAP[name](name, value, False)
                past_given = name == least_significant
            elif past_given:
                field = self.FIELDS_MAP[name](name, DEFAULT_VALUES[name], True)
            else:
                field = self.FIELDS_MAP[name](name, "*", True)
            fields.append(field)
        self.fields = fields
        self._prepare()

    @classmethod
    def from_crontab(
        cls,
        expr: str,
        timezone: tzinfo | str | None = None,
        *,
        legacy: bool = False,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        jitter: float | None = None,
    ) -> CronTrigger:
        """Create a trigger from a crontab expression, read as crontab(5) does.

        ``expr`` has five fields (minute, hour, day of month, month, day of week), or six with
        a leading second, or is one of ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``,
        ``@daily``, ``@midnight``, ``@hourly``. Each field takes the forms of the keyword
        form's fields (without ``last`` and ``3rd fri``), and:

        * day of week: 0 to 7, where 0 and 7 are Sunday and 1 is Monday; names ``sun`` to
          ``sat`` (``sun`` ending a range is 7: ``fri-sun``); ``5L`` (the last Friday of the
          month) and ``5#3`` (the third Friday); ``?`` (same as ``*``);
        * day of month: ``L`` (the last day), ``LW`` (the last weekday, Monday to Friday),
          ``15W`` (the weekday nearest to the 15th, not leaving the month); ``?``;
        * when both the day of month and the day of week are restricted (neither starts with
          ``*`` or ``?``), a day matching *either* fires (``0 0 1 * mon``: the 1st and every
          Monday); otherwise a day must match both, as cron reads it: ``0 0 */2 * mon`` fires on
          the Mondays that are odd days of the month;
        * any step of 1 or more is accepted, as cron accepts it: a step wider than its range
          selects the range's first value only (``*/60`` in the minute field is minute 0,
          ``0 9-11/3 * * *`` fires at 9:00, ``0 */24 * * *`` at midnight, ``5-5/1`` is 5).
          The keyword form rejects such steps, as APScheduler 3.x does.

        Names and letters are case-insensitive. A reversed range (``5-3``), a step of 0 and a
        value out of the field's range are rejected.

        :param expr: the crontab expression
        :param timezone: as for :class:`CronTrigger`
        :param legacy: read ``expr`` as APScheduler 3.x does: exactly five fields, day of
            week numbers with 0 = Monday (the keyword form's), both day fields always
            matched together, no crontab extension (``L``, ``W``, ``#``, ``?``, aliases), and
            no step wider than its range (``*/60`` is rejected)
        :param start_date: as for :class:`CronTrigger`
        :param end_date: as for :class:`CronTrigger`
        :param jitter: as for :class:`CronTrigger`
        :raises ValueError: if ``expr`` has the wrong number of fields, or a field is not a
            valid expression (the message names the field, the offending text and what was
            expected)

        .. note:: APScheduler 3.x reads the day of week with 0 = Monday (``0 9 * * 1-5``
           fires Tuesday to Saturday), always matches both day fields, knows no ``L``,
           ``W``, ``#``, ``?``, six-field or ``@`` forms, and rejects a step wider than its
           range (``*/60 * * * *``, ``0 9-11/3 * * *``, ``0 0 * * 5-5/1``), which cron runs.
           Pass ``legacy=True`` to keep its reading. ``start_date``, ``end_date`` and
           ``jitter`` are greensched additions.

        .. note:: ``a/n`` (from ``a`` to the field's maximum, every n-th value), which the
           keyword form accepts, is refused here as cron refuses it: write ``a-59/n``.

        .. note:: ``str()`` and ``repr()`` of a trigger made this way show the expression in
           crontab notation (``cron[crontab='0 9 * * 1-5']``), so that its day-of-week
           numbers are not read in the keyword form's numbering.
        """
        texts = split_crontab(expr, legacy=legacy)
        if legacy:
            return cls(
                minute=texts["minute"],
                hour=texts["hour"],
                day=texts["day"],
                month=texts["month"],
                day_of_week=texts["day_of_week"],
                start_date=start_date,
                end_date=end_date,
                timezone=timezone,
                jitter=jitter,
            )
        trigger = cls(start_date=start_date, end_date=end_date, timezone=timezone, jitter=jitter)
        trigger.fields = crontab_fields(texts)
        trigger._prepare()
        return trigger

    def _prepare(self) -> None:
        """Derive what the computation needs from the public attributes."""
        self._start_utc = None if self.start_date is None else self.start_date.astimezone(_UTC)
        self._end_utc = None if self.end_date is None else self.end_date.astimezone(_UTC)
        by_name = {field.name: field for field in self.fields}
        self._fields_by_name = by_name
        day, week, day_of_week = by_name["day"], by_name["week"], by_name["day_of_week"]
        if not (
            isinstance(day, DayOfMonthField)
            and isinstance(week, WeekField)
            and isinstance(day_of_week, DayOfWeekField)
        ):
            raise TypeError(f"unexpected field classes for day, week, day_of_week: {self.fields}")
        self._year_field, self._month_field = by_name["year"], by_name["month"]
        self._day_field, self._week_field, self._weekday_field = day, week, day_of_week
        self._hour_field, self._minute_field = by_name["hour"], by_name["minute"]
        self._second_field = by_name["second"]
        self._fixed_offset = isinstance(self.timezone, _timezone)
        self._crontab = isinstance(day_of_week, CrontabDayOfWeekField)
        self._day_or = self._crontab and not _is_star(day) and not _is_star(day_of_week)
        self._hour_full = self._hour_field._full
        self._all_days = day._full and day_of_week._full and week._full

    # --- the next fire time -----------------------------------------------------------------

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the earliest time that matches all fields, at or after ``now`` and
        ``start_date`` (after ``previous_fire_time`` when given), or ``None`` once past
        ``end_date`` or when no such time exists up to the year 9999.

        :param previous_fire_time: the previous fire time this trigger returned, or ``None``
            on the first call
        :param now: current datetime
        """
        try:
            if previous_fire_time is not None:
                start = previous_fire_time.astimezone(_UTC) + _ONE_MICROSECOND
            else:
                start = now.astimezone(_UTC)
            if self._start_utc is not None and self._start_utc > start:
                start = self._start_utc
            fire_time = self._next_instant(start)
            if fire_time is None:
                return None
            if fire_time.year == _MAX_YEAR:
                fire_time.astimezone(_UTC)  # is it an instant before datetime.max in UTC?
            # an aware datetime of another zone compares as an instant
            if self._end_utc is not None and fire_time > self._end_utc:
                return None
        except OverflowError:  # past datetime.max
            return None
        if not self.jitter:
            return fire_time
        jittered = self._apply_jitter(fire_time, self.jitter, now)
        # compared in UTC: two datetimes sharing a tzinfo compare by wall time
        if jittered is None or (
            self._end_utc is not None and jittered.astimezone(_UTC) > self._end_utc
        ):
            return None
        return jittered

    def _next_instant(self, start: datetime) -> datetime | None:
        """Return the first fire time at or after the UTC instant ``start``, in the trigger's
        zone."""
        zone = self.timezone
        local = start.astimezone(zone)
        if local.microsecond:  # round up to a whole second (zone offsets are whole seconds)
            start += _ONE_SECOND - timedelta(microseconds=local.microsecond)
            local = start.astimezone(zone)
        wall = (local.year, local.month, local.day, local.hour, local.minute, local.second)
        found = self._next_wall(*wall)
        if found is None:
            return None
        if self._fixed_offset or (
            local.utcoffset() == datetime(*wall, tzinfo=zone, fold=1 - local.fold).utcoffset()
        ):
            return self._instant(found)  # ``local`` is not in a fall-back overlap
        overlap_start, overlap_end = self._overlap(wall)
        if local.fold:  # in the repeated wall times, the second time round
            if found < overlap_end:
                if self._hour_full:
                    return datetime(*found, tzinfo=zone, fold=1)
                found = self._next_wall(*overlap_end)
                if found is None:
                    return None
            return self._instant(found)
        # in the repeated wall times, the first time round: the first match may come in the
        # second round, before the wall time of ``found`` comes again
        if self._hour_full and found >= overlap_end:
            repeated = self._next_wall(*overlap_start)
            if repeated is not None and repeated < overlap_end:
                return datetime(*repeated, tzinfo=zone, fold=1)
        return self._instant(found)

    def _next_wall(
        self, year: int, month: int, day: int, hour: int, minute: int, second: int
    ) -> _Wall | None:
        """Return the first wall time at or after the given one that matches all fields.

        Field arithmetic: the most significant field that does not match moves to its next
        allowed value (the less significant ones go back to their minimum), or, if it has
        none left, the next more significant field moves on by one.
        """
        year_field, month_field = self._year_field, self._month_field
        time_of_day: tuple[int, int, int] | None = (hour, minute, second)
        fresh = (month, day) == (1, 1) and time_of_day == (0, 0, 0)
        dead_years: set[int] = set()  # years (mod 400) found to have no match
        while True:
            next_year = year_field._next_value(year, _MAX_YEAR)
            while next_year is not None and next_year % _CALENDAR_CYCLE in dead_years:
                next_year = year_field._next_value(next_year + 1, _MAX_YEAR)
            if next_year is None:
                return None
            if next_year != year:
                year, month, day, time_of_day, fresh = next_year, 1, 1, None, True

            next_month = month_field._next_value(month, 12)
            if next_month is None:
                if fresh:
                    dead_years.add(year % _CALENDAR_CYCLE)
                    if len(dead_years) == _CALENDAR_CYCLE:
                        return None
                year, month, day, time_of_day, fresh = year + 1, 1, 1, None, True
                continue
            if next_month != month:
                month, day, time_of_day = next_month, 1, None

            next_day = self._next_day(year, month, day)
            if next_day is None:
                month, day, time_of_day = month + 1, 1, None
                continue
            if next_day != day:
                day, time_of_day = next_day, None

            found = self._next_time(*(time_of_day or (0, 0, 0)))
            if found is None:
                day, time_of_day = day + 1, None
                continue
            return (year, month, day, *found)

    def _next_time(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """Return the first matching time of day from ``hour:minute:second`` (``None``: none
        left in the day)."""
        hour_field, minute_field, second_field = (
            self._hour_field,
            self._minute_field,
            self._second_field,
        )
        while True:
            next_hour = hour_field._next_value(hour, 23)
            if next_hour is None:
                return None
            if next_hour != hour:
                hour, minute, second = next_hour, 0, 0
            next_minute = minute_field._next_value(minute, 59)
            if next_minute is None:
                hour, minute, second = hour + 1, 0, 0
                continue
            if next_minute != minute:
                minute, second = next_minute, 0
            next_second = second_field._next_value(second, 59)
            if next_second is None:
                minute, second = minute + 1, 0
                continue
            return hour, minute, next_second

    def _next_day(self, year: int, month: int, day: int) -> int | None:
        """Return the first day of the month from ``day`` that matches ``day``, ``week`` and
        ``day_of_week`` (``None``: none this month)."""
        last_day = _month_length(year, month)
        if self._all_days:
            return day if day <= last_day else None
        day_field, weekday_field = self._day_field, self._weekday_field
        first_weekday = date(year, month, 1).weekday()
        while day <= last_day:
            if self._day_or:
                by_day = day_field._next_day(year, month, day, last_day)
                by_weekday = weekday_field._next_day(year, month, day, last_day, first_weekday)
                if by_day is None or (by_weekday is not None and by_weekday < by_day):
                    by_day = by_weekday
                if by_day is None:
                    return None
                candidate = by_day
            else:
                candidate = day
                while True:  # each round moves forward, or stops
                    if not day_field._full:
                        found = day_field._next_day(year, month, candidate, last_day)
                        if found is None:
                            return None
                        candidate = found
                    if weekday_field._full:
                        break
                    found = weekday_field._next_day(
                        year, month, candidate, last_day, first_weekday
                    )
                    if found is None:
                        return None
                    if found == candidate:
                        break
                    candidate = found
            week_field = self._week_field
            if week_field._full:
                return candidate
            found = week_field._next_day(year, month, candidate, last_day, first_weekday)
            if found is None or found == candidate:
                return found
            day = found
        return None

    # --- from wall times to instants ----------------------------------------------------------

    def _instant(self, wall: _Wall) -> datetime:
        """Return a wall time as an aware datetime: its first occurrence if it occurs twice,
        the first instant after the gap if it does not exist."""
        first = datetime(*wall, tzinfo=self.timezone)
        return first if self._fixed_offset else _dst.skip_gap(first)

    def _overlap(self, wall: _Wall) -> tuple[_Wall, _Wall]:
        """Return the wall times ``(start, end)`` of the fall-back overlap that the repeated
        wall time ``wall`` is in."""
        start, end = _dst.overlap(datetime(*wall), self.timezone)
        return _components(start), _components(end)

    # --- pickling and text --------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 2,
            "timezone": self.timezone,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "fields": self.fields,
            "jitter": self.jitter,
            "crontab": self._crontab,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        # version 2 is also APScheduler 3.x's (without "crontab"), version 1 its older one
        require_state_version(self, state, 2)
        zone = astimezone(state["timezone"])  # a pytz zone (older pickles) becomes zoneinfo
        assert zone is not None
        self.timezone = zone
        self.start_date = state["start_date"]
        self.end_date = state["end_date"]
        crontab = state.get("crontab")
        if isinstance(crontab, str):
            # written for APScheduler 3.x to read too (greensched.jobstores._pickling):
            # "fields" is the keyword-form equivalent, the crontab text the trigger itself
            self.fields = crontab_fields(split_crontab(crontab))
        else:
            # True or False (or absent): the field classes carry the reading
            self.fields = list(state["fields"])
        self.jitter = state.get("jitter")
        self._prepare()

    def _crontab_text(self) -> str:
        fields = self._fields_by_name
        names = ["minute", "hour", "day", "month", "day_of_week"]
        if not fields["second"].is_default:
            names.insert(0, "second")
        return " ".join(str(fields[name]) for name in names)

    def _options(self) -> list[str]:
        if self._crontab:
            return [f"crontab='{self._crontab_text()}'"]
        return [f"{field.name}='{field}'" for field in self.fields if not field.is_default]

    def __str__(self) -> str:
        return f"cron[{', '.join(self._options())}]"

    def __repr__(self) -> str:
        options = self._options()
        if self.start_date is not None:
            options.append(f"start_date={datetime_repr(self.start_date)!r}")
        if self.end_date is not None:
            options.append(f"end_date={datetime_repr(self.end_date)!r}")
        if self.jitter:
            options.append(f"jitter={self.jitter}")
        options.append(f"timezone='{self.timezone}'")
        return f"<{type(self).__name__} ({', '.join(options)})>"


def _components(dt: datetime) -> _Wall:
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if isleap(year) else 28
    return _MONTH_LENGTHS[month - 1]


def _is_star(field: BaseField) -> bool:
    """Whether a day field starts with ``*`` (or ``?``), with or without a step (``*/2``):
    cron's test for a day field that does not take part in the either-day rule."""
    return type(field.expressions[0]) is AllExpression
