"""The expressions a cron field is made of: ``*/5``, ``1-5``, ``jan-mar``, ``3rd fri``, ``L``, ...

Each expression class parses one comma-separated item of a field. A field asks its
expressions for the next allowed value (hours, minutes, ...) or, for the day fields, the next
allowed day of a month.

Errors raised here are :exc:`ValueError`\\s whose message says what was expected
(``"expected a step of 1 or more"``); the field that compiles the expression adds its name and
the offending text.

A step wider than the range it steps through (``*/60`` in the minute field) is rejected, as
APScheduler 3.x does, unless the expression is read as crontab(5) reads it (``crontab=True``,
for :meth:`CronTrigger.from_crontab <greensched.triggers.cron.CronTrigger.from_crontab>`):
cron takes any step of 1 or more, and a step wider than the range selects the range's first
value only.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from greensched.triggers.cron.fields import BaseField

__all__ = (
    "AllExpression",
    "CrontabLastDayOfMonthExpression",
    "CrontabWeekdayPositionExpression",
    "CrontabWeekdayRangeExpression",
    "LastDayOfMonthExpression",
    "LastWeekdayOfMonthExpression",
    "MonthRangeExpression",
    "NearestWeekdayExpression",
    "RangeExpression",
    "WeekdayPositionExpression",
    "WeekdayRangeExpression",
)

#: Weekday names in APScheduler's keyword numbering (``mon`` = 0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Weekday names in crontab numbering (``sun`` = 0, and 7 is Sunday too)
CRONTAB_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: Month names (``jan`` = 1)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# Longer digit strings are out of every field's range: cap them before int(), which refuses
# strings of more than 4300 digits (with a ValueError of its own wording).
_MAX_DIGITS = 9
_TOO_LARGE: int = 10**_MAX_DIGITS


def _to_int(value: int | str | None, what: str) -> int | None:
    """Convert a number given as an int or a string of ASCII digits (``None`` stays ``None``)."""
    if value is None or isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError(f"expected {what} to be a number")
    if len(value) > _MAX_DIGITS:
        return _TOO_LARGE
    return int(value)


def _name_index(names: tuple[str, ...], name: str, what: str) -> int:
    try:
        return names.index(name.lower())
    except ValueError:
        raise ValueError(f"expected a {what} name ({names[0]}-{names[-1]})") from None


def _check_step(step: int | None, width: int, crontab: bool) -> None:
    """Reject a step larger than the range it steps through, as APScheduler 3.x does, unless
    ``crontab``: cron takes any step (a step wider than the range selects its first value)."""
    if step is not None and step > width and not crontab:
        if width == 0:
            raise ValueError("expected no step on a single value")
        raise ValueError(f"expected a step from 1 to {width}, the width of the range")


class AllExpression:
    """``*`` (every value of the field) or ``*/n`` (every n-th value, from the field's minimum).

    :param step: the step, or ``None`` for every value
    :raises ValueError: if ``step`` is zero
    """

    __slots__ = ("step",)

    value_re: ClassVar[re.Pattern[str]] = re.compile(r"\*(?:/(?P<step>[0-9]+))?", re.ASCII)
    #: Whether the allowed values depend on the month (the day expressions)
    dynamic: ClassVar[bool] = False

    step: int | None

    def __init__(self, step: int | str | None = None) -> None:
        self.step = _to_int(step, "the step")
        if self.step is not None and self.step < 1:
            raise ValueError("expected a step of 1 or more")

    def validate_range(self, field_name: str) -> None:
        """Check the expression against the bounds of the field called ``field_name``.

        :raises ValueError: if a value or the step does not fit the field
        """
        from greensched.triggers.cron.fields import MAX_VALUES, MIN_VALUES

        self._validate(MIN_VALUES[field_name], MAX_VALUES[field_name])

    def _validate(self, low: int, high: int, *, crontab: bool = False) -> None:
        """Check the expression against a field's bounds ``low`` and ``high``.

        :param crontab: accept a step wider than the range, as crontab(5) does
        :raises ValueError: if a value or the step does not fit
        """
        _check_step(self.step, high - low, crontab)

    def _next(self, value: int, low: int, high: int) -> int | None:
        """Return the smallest allowed value from ``value`` up to ``high`` (``None``: none).

        :param low: the field's minimum, where a ``*/n`` step starts counting
        """
        value = max(value, low)
        if self.step:
            value += (low - value) % self.step
        return value if value <= high else None

    def get_next_value(self, date: datetime, field: BaseField) -> int | None:
        """Return the next value of ``field`` allowed by this expression, from the value it has
        in ``date`` (``None`` if there is none left before the field's maximum)."""
        return self._next(field.get_value(date), field.get_min(date), field.get_max(date))

    def _key(self) -> tuple[Any, ...]:
        return (self.step,)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, AllExpression)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self), self._key()))

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _slot_names(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # also reads the __dict__ of an APScheduler 3.x expression (same attribute names)
        for name in _slot_names(type(self)):
            setattr(self, name, state.get(name))

    def __str__(self) -> str:
        return f"*/{self.step}" if self.step else "*"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.step!r})"


def _slot_names(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


class RangeExpression(AllExpression):
    """A value (``5``), a range (``1-5``), a range with a step (``0-30/10``) or a start with a
    step (``5/15``: from 5 to the field's maximum, every 15).

    :param first: the first value
    :param last: the last value (``None``: the field's maximum if a step is given, else
        ``first``)
    :param step: every n-th value from ``first``
    :raises ValueError: if ``first`` is greater than ``last``, or ``step`` is zero
    """

    __slots__ = ("first", "last")

    value_re: ClassVar[re.Pattern[str]] = re.compile(
        r"(?P<first>[0-9]+)(?:-(?P<last>[0-9]+))?(?:/(?P<step>[0-9]+))?", re.ASCII
    )

    first: int
    last: int | None

    def __init__(
        self,
        first: int | str,
        last: int | str | None = None,
        step: int | str | None = None,
    ) -> None:
        super().__init__(step)
        first_value = _to_int(first, "the first value")
        assert first_value is not None
        last_value = _to_int(last, "the last value")
        if last_value is None and self.step is None:
            last_value = first_value
        if last_value is not None and first_value > last_value:
            raise ValueError("expected a range whose first value is not greater than its last")
        self.first = first_value
        self.last = last_value

    def _validate(self, low: int, high: int, *, crontab: bool = False) -> None:
        if crontab and self.last is None and self.step is not None:
            # cron takes a step after '*' or a range only ('5/15' is refused by cronie)
            raise ValueError("expected a step after '*' or a range only, as cron reads it")
        last = high if self.last is None else self.last
        # ('a/n': ``first`` may be above ``high`` when ``last`` is not given)
        if self.first < low or self.first > high or last > high:
            raise ValueError(f"expected values from {low} to {high}")
        _check_step(self.step, last - self.first, crontab)

    def _next(self, value: int, low: int, high: int) -> int | None:
        value = max(value, self.first)
        if self.last is not None:
            high = min(high, self.last)
        if self.step:
            value += (self.first - value) % self.step
        return value if value <= high else None

    def _key(self) -> tuple[Any, ...]:
        return (self.first, self.last, self.step)

    def _format(self, value: int) -> str:
        return str(value)

    def __str__(self) -> str:
        text = self._format(self.first)
        # '5-5' is shown as '5', but '5-5/2' (crontab) must not become '5/2' (5, 7, ... 59)
        if self.last is not None and (self.last != self.first or self.step):
            text += "-" + self._format(self.last)
        if self.step:
            text += f"/{self.step}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.first!r}, {self.last!r}, {self.step!r})"


class MonthRangeExpression(RangeExpression):
    """A month name (``jan``), a range of names (``jan-mar``), optionally with a step
    (``jan-dec/3``, ``jan/3``). Names are case-insensitive.

    .. note:: APScheduler 3.x ignores a step after month names (``'jan-jun/2'`` is read as
       ``'jan-jun'``); greensched applies it.
    """

    __slots__ = ()

    value_re: ClassVar[re.Pattern[str]] = re.compile(
        r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?(?:/(?P<step>[0-9]+))?",
        re.IGNORECASE | re.ASCII,
    )

    def __init__(self, first: str, last: str | None = None, step: int | str | None = None) -> None:
        first_number = _name_index(MONTHS, first, "month") + 1
        last_number = None if last is None else _name_index(MONTHS, last, "month") + 1
        super().__init__(first_number, last_number, step)

    def _format(self, value: int) -> str:
        return MONTHS[value - 1]

    def __repr__(self) -> str:
        last = None if self.last is None else MONTHS[self.last - 1]
        return f"{type(self).__name__}({MONTHS[self.first - 1]!r}, {last!r}, {self.step!r})"


class WeekdayRangeExpression(RangeExpression):
    """A weekday name (``mon``), a range of names (``mon-fri``), optionally with a step
    (``mon-fri/2``: Monday, Wednesday, Friday). Names are case-insensitive; ``mon`` = 0.

    .. note:: APScheduler 3.x ignores a step after weekday names (``'mon-fri/2'`` is read as
       ``'mon-fri'``, every weekday); greensched applies it.
    """

    __slots__ = ()

    value_re: ClassVar[re.Pattern[str]] = re.compile(
        r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?(?:/(?P<step>[0-9]+))?",
        re.IGNORECASE | re.ASCII,
    )
    names: ClassVar[tuple[str, ...]] = WEEKDAYS

    def __init__(self, first: str, last: str | None = None, step: int | str | None = None) -> None:
        first_number = _name_index(self.names, first, "weekday")
        last_number = None if last is None else self._last_number(first_number, last)
        super().__init__(first_number, last_number, step)

    def _last_number(self, first_number: int, last: str) -> int:
        return _name_index(self.names, last, "weekday")

    def _format(self, value: int) -> str:
        return self.names[value % 7]

    def __repr__(self) -> str:
        last = None if self.last is None else self._format(self.last)
        return f"{type(self).__name__}({self._format(self.first)!r}, {last!r}, {self.step!r})"


class CrontabWeekdayRangeExpression(WeekdayRangeExpression):
    """A weekday name or range of names in a crontab's day-of-week field, where ``sun`` = 0 and
    ``sat`` = 6; ``sun`` ending a range is 7, so ``fri-sun`` is Friday to Sunday."""

    __slots__ = ()

    names: ClassVar[tuple[str, ...]] = CRONTAB_WEEKDAYS

    def _last_number(self, first_number: int, last: str) -> int:
        number = _name_index(self.names, last, "weekday")
        return 7 if number == 0 and first_number > 0 else number


class _MonthlyDayExpression(AllExpression):
    """An expression that selects at most one day in each month (which day depends on the
    month): fields ask it with :meth:`_day`, not :meth:`_next`."""

    __slots__ = ()

    dynamic: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__(None)

    def _validate(self, low: int, high: int, *, crontab: bool = False) -> None:
        pass

    def _day(self, year: int, month: int) -> int | None:  # pragma: no cover - abstract
        """Return the day of ``year``-``month`` this expression selects (``None``: none)."""
        raise NotImplementedError

    def _next(self, value: int, low: int, high: int) -> int | None:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} depends on the month: use _day()")

    def get_next_value(self, date: datetime, field: BaseField) -> int | None:
        """Return the day of ``date``'s month this expression selects, if it is not before
        ``date``'s day (``None`` otherwise)."""
        day = self._day(date.year, date.month)
        return day if day is not None and day >= date.day else None

    def _key(self) -> tuple[Any, ...]:
        return ()


class WeekdayPositionExpression(_MonthlyDayExpression):
    """The n-th or the last given weekday of the month, in the ``day`` field: ``1st fri`` ...
    ``5th fri``, ``last fri``. Case-insensitive. A month without a 5th such weekday is skipped.

    :param option_name: ``1st``, ``2nd``, ``3rd``, ``4th``, ``5th`` or ``last``
    :param weekday_name: a weekday name (``mon`` ... ``sun``)
    """

    __slots__ = ("option_num", "weekday")

    options: ClassVar[tuple[str, ...]] = ("1st", "2nd", "3rd", "4th", "5th", "last")
    value_re: ClassVar[re.Pattern[str]] = re.compile(
        r"(?P<option_name>1st|2nd|3rd|4th|5th|last) +(?P<weekday_name>\S+)",
        re.IGNORECASE | re.ASCII,
    )

    #: 0-4 for the 1st to the 5th, 5 for the last
    option_num: int
    #: the weekday, ``mon`` = 0
    weekday: int

    def __init__(self, option_name: str, weekday_name: str) -> None:
        super().__init__()
        try:
            self.option_num = self.options.index(option_name.lower())
        except ValueError:
            raise ValueError("expected one of 1st, 2nd, 3rd, 4th, 5th or last") from None
        self.weekday = _name_index(WEEKDAYS, weekday_name, "weekday")

    def _day(self, year: int, month: int) -> int | None:
        first_weekday, last_day = monthrange(year, month)
        first_hit = 1 + (self.weekday - first_weekday) % 7
        if self.option_num < 5:
            day = first_hit + 7 * self.option_num
        else:
            day = first_hit + 7 * ((last_day - first_hit) // 7)
        return day if day <= last_day else None

    def _key(self) -> tuple[Any, ...]:
        return (self.option_num, self.weekday)

    def __str__(self) -> str:
        return f"{self.options[self.option_num]} {WEEKDAYS[self.weekday]}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.options[self.option_num]!r}, {WEEKDAYS[self.weekday]!r})"
        )


class CrontabWeekdayPositionExpression(WeekdayPositionExpression):
    """The n-th or the last given weekday of the month, in a crontab's day-of-week field:
    ``5#3`` (third Friday), ``fri#3``, ``5L`` (last Friday), ``friL``. Weekday numbers are
    crontab's: 0 and 7 are Sunday. Case-insensitive.

    :param weekday_name: a crontab weekday number (0-7) or name (``sun`` ... ``sat``)
    :param nth: the occurrence (1-5); ``None`` for the last one
    :param last: ``'L'`` for the last occurrence (the regular expression's group)
    """

    __slots__ = ("label",)

    value_re: ClassVar[re.Pattern[str]] = re.compile(
        r"(?P<weekday_name>[0-9]+|[a-z]+)(?:#(?P<nth>[0-9]+)|(?P<last>l))",
        re.IGNORECASE | re.ASCII,
    )

    #: the weekday as written (a number or a lower-case name), for ``str()``
    label: str

    def __init__(
        self, weekday_name: str, nth: int | str | None = None, last: str | None = None
    ) -> None:
        _MonthlyDayExpression.__init__(self)
        if weekday_name.isdigit():
            number = _to_int(weekday_name, "the weekday")
            assert number is not None
            if number > 7:
                raise ValueError("expected a weekday from 0 to 7 (0 and 7 are Sunday)")
            self.label = str(number)
        else:
            number = _name_index(CRONTAB_WEEKDAYS, weekday_name, "weekday")
            self.label = CRONTAB_WEEKDAYS[number]
        self.weekday = (number + 6) % 7
        if nth is None:
            self.option_num = 5
        else:
            occurrence = _to_int(nth, "the occurrence")
            assert occurrence is not None
            if not 1 <= occurrence <= 5:
                raise ValueError("expected an occurrence from 1 to 5 after '#'")
            self.option_num = occurrence - 1

    def __str__(self) -> str:
        if self.option_num == 5:
            return f"{self.label}L"
        return f"{self.label}#{self.option_num + 1}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class LastDayOfMonthExpression(_MonthlyDayExpression):
    """The last day of the month, in the ``day`` field: ``last``."""

    __slots__ = ()

    value_re: ClassVar[re.Pattern[str]] = re.compile(r"last", re.IGNORECASE | re.ASCII)

    def _day(self, year: int, month: int) -> int | None:
        return monthrange(year, month)[1]

    def __str__(self) -> str:
        return "last"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CrontabLastDayOfMonthExpression(LastDayOfMonthExpression):
    """The last day of the month, in a crontab's day-of-month field: ``L``."""

    __slots__ = ()

    value_re: ClassVar[re.Pattern[str]] = re.compile(r"l", re.IGNORECASE | re.ASCII)

    def __str__(self) -> str:
        return "L"


class LastWeekdayOfMonthExpression(_MonthlyDayExpression):
    """The last weekday (Monday to Friday) of the month, in a crontab's day-of-month field:
    ``LW``."""

    __slots__ = ()

    value_re: ClassVar[re.Pattern[str]] = re.compile(r"lw", re.IGNORECASE | re.ASCII)

    def _day(self, year: int, month: int) -> int | None:
        first_weekday, last_day = monthrange(year, month)
        weekday = (first_weekday + last_day - 1) % 7
        return last_day - max(weekday - 4, 0)

    def __str__(self) -> str:
        return "LW"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NearestWeekdayExpression(_MonthlyDayExpression):
    """The weekday (Monday to Friday) nearest to a day of the month, in a crontab's
    day-of-month field: ``15W``. It never leaves the month: ``1W`` on a Saturday is Monday the
    3rd, and ``31W`` on a Sunday is Friday the 29th. A day past the end of a shorter month is
    taken as its last day (``31W`` in April is the weekday nearest to April 30), as croniter
    does.

    :param day: the day of the month (1-31)
    """

    __slots__ = ("day",)

    value_re: ClassVar[re.Pattern[str]] = re.compile(r"(?P<day>[0-9]+)w", re.IGNORECASE | re.ASCII)

    day: int

    def __init__(self, day: int | str) -> None:
        super().__init__()
        value = _to_int(day, "the day")
        assert value is not None
        self.day = value

    def _validate(self, low: int, high: int, *, crontab: bool = False) -> None:
        if not low <= self.day <= high:
            raise ValueError(f"expected a day from {low} to {high} before 'W'")

    def _day(self, year: int, month: int) -> int | None:
        first_weekday, last_day = monthrange(year, month)
        day = min(self.day, last_day)
        weekday = (first_weekday + day - 1) % 7
        if weekday == 5:  # Saturday: the Friday before, unless that is in the previous month
            return day - 1 if day > 1 else day + 2
        if weekday == 6:  # Sunday: the Monday after, unless that is in the next month
            return day + 1 if day < last_day else day - 2
        return day

    def _key(self) -> tuple[Any, ...]:
        return (self.day,)

    def __str__(self) -> str:
        return f"{self.day}W"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.day!r})"
