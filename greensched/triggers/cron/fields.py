"""The fields of a cron trigger (``year``, ``month``, ``day``, ``week``, ``day_of_week``,
``hour``, ``minute``, ``second``), each a comma-separated list of expressions."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, ClassVar

from greensched._validators import InvalidValueError, require_state_version
from greensched.triggers.cron.expressions import (
    AllExpression,
    CrontabLastDayOfMonthExpression,
    CrontabWeekdayPositionExpression,
    CrontabWeekdayRangeExpression,
    LastDayOfMonthExpression,
    LastWeekdayOfMonthExpression,
    MonthRangeExpression,
    NearestWeekdayExpression,
    RangeExpression,
    WeekdayPositionExpression,
    WeekdayRangeExpression,
)

__all__ = (
    "DEFAULT_VALUES",
    "MAX_VALUES",
    "MIN_VALUES",
    "BaseField",
    "CrontabDayOfMonthField",
    "CrontabDayOfWeekField",
    "DayOfMonthField",
    "DayOfWeekField",
    "MonthField",
    "WeekField",
)

#: The smallest value of each field
MIN_VALUES = MappingProxyType(
    {
        "year": 1970,
        "month": 1,
        "day": 1,
        "week": 1,
        "day_of_week": 0,
        "hour": 0,
        "minute": 0,
        "second": 0,
    }
)
#: The largest value of each field (``day``: of the longest month)
MAX_VALUES = MappingProxyType(
    {
        "year": 9999,
        "month": 12,
        "day": 31,
        "week": 53,
        "day_of_week": 6,
        "hour": 23,
        "minute": 59,
        "second": 59,
    }
)
#: What an omitted field less significant than the least significant given one becomes
DEFAULT_VALUES: MappingProxyType[str, int | str] = MappingProxyType(
    {
        "year": "*",
        "month": 1,
        "day": 1,
        "week": "*",
        "day_of_week": "*",
        "hour": 0,
        "minute": 0,
        "second": 0,
    }
)

# Fields with at most this many values keep a table of the next allowed value (the year field
# has 8030 values and asks its expressions instead).
_TABLE_LIMIT = 64

_STEP_TEXT = "optionally followed by a step '/n'"


class BaseField:
    """A field holding numbers: ``year``, ``hour``, ``minute``, ``second`` (and, through its
    subclasses, the others).

    Accepts ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, ``a/n`` and comma-separated lists of
    these; an int is a single value.

    :param name: the field's name (a key of :data:`MIN_VALUES`)
    :param exprs: the expressions, as a string or an int
    :param is_default: whether the value was filled in rather than given (such fields are
        left out of ``str()`` of the trigger)
    :param crontab: read the expressions as crontab(5) does, for
        :meth:`~greensched.triggers.cron.CronTrigger.from_crontab`: any step of 1 or more is
        accepted, and a step wider than its range selects the range's first value only
        (``*/60`` in the minute field is minute 0, ``9-11/3`` in the hour field is 9, ``5-5/1``
        is 5). Without it, such a step is rejected, as APScheduler 3.x does. The crontab day
        fields (:class:`CrontabDayOfMonthField`, :class:`CrontabDayOfWeekField`) always read
        their expressions this way.
    :raises ValueError: if an expression is not valid for this field; the message names the
        field, the offending text and what was expected
    :raises TypeError: if ``exprs`` is neither a string nor an int (an
        :exc:`~greensched._validators.InvalidValueError`, which is a :exc:`ValueError` too)

    .. note:: APScheduler 3.x stops at a valid prefix of some expressions and drops the rest
       (``'fri#9'`` is read as ``'fri'``, ``'jan-'`` as ``'jan'``, ``'lastx'`` as
       ``'last'``); greensched parses every expression completely or rejects it.
    """

    __slots__ = (
        "_crontab",
        "_dynamic",
        "_full",
        "_high",
        "_low",
        "_table",
        "expressions",
        "is_default",
        "name",
    )

    #: Whether the field is an attribute of :class:`~datetime.datetime`
    REAL: ClassVar[bool] = True
    #: The expression classes tried, in order, on each comma-separated item
    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (AllExpression, RangeExpression)
    _EXPECTED: ClassVar[str] = "'*', a number from {low} to {high} or a range 'a-b', " + _STEP_TEXT
    #: Whether every field of the class reads its expressions as crontab(5) does
    _CRONTAB: ClassVar[bool] = False

    name: str
    is_default: bool
    expressions: list[AllExpression]
    _crontab: bool
    _low: int
    _high: int
    _table: tuple[int | None, ...] | None
    _dynamic: tuple[Any, ...]
    _full: bool

    def __init__(
        self, name: str, exprs: int | str, is_default: bool = False, *, crontab: bool = False
    ) -> None:
        self.name = name
        self.is_default = is_default
        self._crontab = crontab or self._CRONTAB
        self.compile_expressions(exprs)

    # --- the APScheduler 3.x interface ------------------------------------------------------

    def get_min(self, dateval: datetime) -> int:
        """Return the field's smallest value."""
        return MIN_VALUES[self.name]

    def get_max(self, dateval: datetime) -> int:
        """Return the field's largest value (for ``day``: in ``dateval``'s month)."""
        return MAX_VALUES[self.name]

    def get_value(self, dateval: datetime) -> int:
        """Return the field's value in ``dateval``."""
        value: int = getattr(dateval, self.name)
        return value

    def get_next_value(self, dateval: datetime) -> int | None:
        """Return the smallest value the field allows from its value in ``dateval`` up to its
        maximum, or ``None``."""
        smallest = None
        for expression in self.expressions:
            value = expression.get_next_value(dateval, self)
            if value is not None and (smallest is None or value < smallest):
                smallest = value
        return smallest

    def compile_expressions(self, exprs: int | str) -> None:
        """Parse ``exprs`` (a comma-separated list) into :attr:`expressions`.

        :raises ValueError: if an item is not a valid expression for this field
        """
        if isinstance(exprs, bool) or not isinstance(exprs, (int, str)):
            raise InvalidValueError(f"{self.name} must be an int or a string, got: {exprs!r}")
        text = str(exprs).strip()
        items = [item.strip() for item in text.split(",")]
        if len(items) > 1 and "" in items:
            raise self._error(text, "expected an expression on each side of every comma")
        self.expressions = []
        for item in items:
            self._compile(item)
        self._prepare()

    def compile_expression(self, expr: str) -> None:
        """Parse one expression and add it to :attr:`expressions`.

        :raises ValueError: if ``expr`` is not a valid expression for this field
        """
        self._compile(expr)
        self._prepare()

    # --- parsing ------------------------------------------------------------------------------

    def _bounds(self) -> tuple[int, int]:
        return MIN_VALUES[self.name], MAX_VALUES[self.name]

    def _error(self, text: str, expected: str) -> ValueError:
        return ValueError(f"{self.name}: {text!r} is not a valid expression ({expected})")

    def _compile(self, text: str) -> None:
        low, high = self._bounds()
        for compiler in self.COMPILERS:
            match = compiler.value_re.fullmatch(text)
            if match is None:
                continue
            try:
                expression = compiler(**match.groupdict())
                expression._validate(low, high, crontab=self._crontab)
            except ValueError as exc:
                raise self._error(text, str(exc)) from None
            self.expressions.append(expression)
            return
        expected = self._EXPECTED.format(low=low, high=high)
        raise self._error(text, f"expected {expected}")

    def _prepare(self) -> None:
        """Derive the lookup structures of the expressions."""
        low, high = self._bounds()
        self._low, self._high = low, high
        static = [expression for expression in self.expressions if not expression.dynamic]
        self._dynamic = tuple(expression for expression in self.expressions if expression.dynamic)
        if high - low <= _TABLE_LIMIT:
            allowed = set()
            for expression in static:
                value = expression._next(low, low, high)
                while value is not None:
                    allowed.add(value)
                    value = expression._next(value + 1, low, high)
            table: list[int | None] = [None] * (high - low + 1)
            following = None
            for value in range(high, low - 1, -1):
                if value in allowed:
                    following = value
                table[value - low] = following
            self._table = tuple(table)
            self._full = len(allowed) == high - low + 1 and not self._dynamic
        else:
            self._table = None
            self._full = not self._dynamic and any(
                type(expression) is AllExpression and expression.step in (None, 1)
                for expression in static
            )

    # --- the arithmetic CronTrigger uses ------------------------------------------------------

    def _next_value(self, value: int, high: int) -> int | None:
        """Return the smallest value allowed by the static expressions from ``value`` up to
        ``high`` (``None``: none)."""
        if value < self._low:  # noqa: PLR1730 - faster than max() on this hot path
            value = self._low
        if value > high:
            return None
        if self._full:
            return value
        low = self._low
        table = self._table
        if table is not None:
            found = table[value - low]
            return found if found is not None and found <= high else None
        smallest = None
        for expression in self.expressions:
            if not expression.dynamic:
                found = expression._next(value, low, high)
                if found is not None and (smallest is None or found < smallest):
                    smallest = found
        return smallest

    # --- comparison, text and pickling -------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, BaseField)
        return self.name == other.name and self.expressions == other.expressions

    def __hash__(self) -> int:
        return hash((type(self), self.name, str(self)))

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "version": 1,
            "name": self.name,
            "is_default": self.is_default,
            "expressions": str(self),
        }
        if self._crontab:
            # left out otherwise, so that the state of other fields is what it always was
            state["crontab"] = True
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        require_state_version(self, state, 1)
        self.name = state["name"]
        self.is_default = state.get("is_default", False)
        self._crontab = bool(state.get("crontab", False)) or self._CRONTAB
        expressions = state["expressions"]
        if not isinstance(expressions, str):
            # the __dict__ of an APScheduler 3.x field, with its expression objects
            expressions = ",".join(str(expression) for expression in expressions)
        self.compile_expressions(expressions)

    def __str__(self) -> str:
        return ",".join(str(expression) for expression in self.expressions)

    def __repr__(self) -> str:
        crontab = ", crontab=True" if self._crontab and not self._CRONTAB else ""
        return f"{type(self).__name__}({self.name!r}, {str(self)!r}{crontab})"


class WeekField(BaseField):
    """The ISO 8601 week of the year (1-53) of the day, as :meth:`datetime.date.isocalendar`
    gives it: December 29-31 can be in week 1, January 1-3 in week 52 or 53."""

    __slots__ = ()

    REAL: ClassVar[bool] = False

    def get_value(self, dateval: datetime) -> int:
        """Return the ISO week number of ``dateval``."""
        return dateval.isocalendar()[1]

    def _next_day(
        self, year: int, month: int, day: int, last_day: int, first_weekday: int
    ) -> int | None:
        """Return the first day of the month from ``day`` whose ISO week is allowed."""
        while day <= last_day:
            week = date(year, month, day).isocalendar()[1]
            if self._next_value(week, 53) == week:
                return day
            day += 7 - (first_weekday + day - 1) % 7  # the week changes on Mondays
        return None


class DayOfMonthField(BaseField):
    """The day of the month (1-31; a day a month does not have is skipped in that month).

    Besides the forms of :class:`BaseField`: ``last`` (the last day of the month), ``1st fri``
    ... ``5th fri`` and ``last fri`` (a weekday's position in the month).
    """

    __slots__ = ()

    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (
        *BaseField.COMPILERS,
        WeekdayPositionExpression,
        LastDayOfMonthExpression,
    )
    _EXPECTED: ClassVar[str] = (
        "'*', a number from {low} to {high} or a range 'a-b', "
        + _STEP_TEXT
        + ", 'last', or '1st' to '5th' or 'last' and a weekday name ('3rd fri')"
    )

    def get_max(self, dateval: datetime) -> int:
        """Return the number of days in ``dateval``'s month."""
        return monthrange(dateval.year, dateval.month)[1]

    def _next_day(self, year: int, month: int, day: int, last_day: int) -> int | None:
        """Return the first allowed day of the month from ``day`` (``None``: none)."""
        found = self._next_value(day, last_day)
        for expression in self._dynamic:
            candidate = expression._day(year, month)
            if candidate is not None and candidate >= day and (found is None or candidate < found):
                found = candidate
        return found


class CrontabDayOfMonthField(DayOfMonthField):
    """A crontab's day-of-month field: the forms of :class:`BaseField`, ``?`` (same as
    ``*``), ``L`` (last day of the month), ``LW`` (last weekday of the month) and ``15W`` (the
    weekday nearest to the 15th, within the month). Letters are case-insensitive. Steps are
    read as crontab(5) reads them (``*/32`` is the 1st)."""

    __slots__ = ()

    _CRONTAB: ClassVar[bool] = True

    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (
        *BaseField.COMPILERS,
        CrontabLastDayOfMonthExpression,
        LastWeekdayOfMonthExpression,
        NearestWeekdayExpression,
    )
    _EXPECTED: ClassVar[str] = (
        "'*', '?', a number from {low} to {high} or a range 'a-b', "
        + _STEP_TEXT
        + ", 'L', 'LW' or a day and 'W' ('15W')"
    )

    def compile_expressions(self, exprs: int | str) -> None:
        _compile_crontab_day(self, exprs)


class DayOfWeekField(BaseField):
    """The day of the week in APScheduler's numbering: 0 (``mon``) to 6 (``sun``); names and
    ranges of names (``mon-fri``, ``mon-fri/2``), case-insensitive."""

    __slots__ = ("_skip",)

    REAL: ClassVar[bool] = False
    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (
        *BaseField.COMPILERS,
        WeekdayRangeExpression,
    )
    _EXPECTED: ClassVar[str] = (
        "'*', a number from 0 (mon) to 6 (sun), a weekday name (mon-sun) or a range 'a-b' of "
        "these, " + _STEP_TEXT
    )

    #: for each weekday (``mon`` = 0), how many days on the next allowed weekday is
    _skip: tuple[int, ...] | None

    def get_value(self, dateval: datetime) -> int:
        """Return the weekday of ``dateval`` (``mon`` = 0)."""
        return dateval.weekday()

    def _weekday(self, value: int) -> int:
        """Return the weekday (``mon`` = 0) a value of the field stands for."""
        return value

    def _prepare(self) -> None:
        super()._prepare()
        table = self._table
        assert table is not None
        weekdays = {
            self._weekday(value)
            for value in range(self._low, self._high + 1)
            if table[value - self._low] == value
        }
        if not weekdays:
            self._skip = None
        else:
            self._skip = tuple(
                min((allowed - weekday) % 7 for allowed in weekdays) for weekday in range(7)
            )
        self._full = len(weekdays) == 7 and not self._dynamic

    def _next_day(
        self, year: int, month: int, day: int, last_day: int, first_weekday: int
    ) -> int | None:
        """Return the first day of the month from ``day`` on an allowed weekday."""
        found = None
        skip = self._skip
        if skip is not None:
            candidate = day + skip[(first_weekday + day - 1) % 7]
            if candidate <= last_day:
                found = candidate
        for expression in self._dynamic:
            candidate = expression._day(year, month)
            if candidate is not None and candidate >= day and (found is None or candidate < found):
                found = candidate
        return found


class CrontabDayOfWeekField(DayOfWeekField):
    """A crontab's day-of-week field: 0 to 7, where 0 and 7 are Sunday and 1 is Monday; names
    ``sun`` to ``sat`` (``sun`` ending a range is 7: ``fri-sun``); ranges and steps; ``?``
    (same as ``*``); ``5L`` (the last Friday of the month) and ``5#3`` (the third Friday).
    Names and letters are case-insensitive. Steps are read as crontab(5) reads them (``*/8`` is
    Sunday)."""

    __slots__ = ()

    _CRONTAB: ClassVar[bool] = True

    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (
        *BaseField.COMPILERS,
        CrontabWeekdayPositionExpression,
        CrontabWeekdayRangeExpression,
    )
    _EXPECTED: ClassVar[str] = (
        "'*', '?', a number from 0 to 7 (0 and 7 are Sunday), a weekday name (sun-sat) or a "
        "range 'a-b' of these, " + _STEP_TEXT + ", or a weekday and 'L' ('5L': the last "
        "Friday) or '#n' ('5#3': the third Friday)"
    )

    def _bounds(self) -> tuple[int, int]:
        return 0, 7

    def get_max(self, dateval: datetime) -> int:
        """Return 7 (Sunday, like 0)."""
        return 7

    def get_value(self, dateval: datetime) -> int:
        """Return the crontab weekday number of ``dateval`` (``sun`` = 0)."""
        return (dateval.weekday() + 1) % 7

    def _weekday(self, value: int) -> int:
        return (value + 6) % 7

    def compile_expressions(self, exprs: int | str) -> None:
        _compile_crontab_day(self, exprs)


def _compile_crontab_day(field: DayOfMonthField | DayOfWeekField, exprs: int | str) -> None:
    """Compile a crontab day field, where ``?`` alone means ``*``."""
    if isinstance(exprs, str) and exprs.strip() == "?":
        exprs = "*"
    elif isinstance(exprs, str) and "?" in [item.strip() for item in exprs.split(",")]:
        raise field._error(exprs, "expected '?' alone, not in a list")
    BaseField.compile_expressions(field, exprs)


class MonthField(BaseField):
    """The month: 1 to 12, names (``jan`` ... ``dec``) and ranges of names, case-insensitive."""

    __slots__ = ()

    COMPILERS: ClassVar[tuple[type[AllExpression], ...]] = (
        *BaseField.COMPILERS,
        MonthRangeExpression,
    )
    _EXPECTED: ClassVar[str] = (
        "'*', a number from {low} to {high}, a month name (jan-dec) or a range 'a-b' of these, "
        + _STEP_TEXT
    )
