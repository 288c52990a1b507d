"""Reading a crontab expression: splitting it into the texts of its fields, and making the
fields of a cron trigger from them."""

from __future__ import annotations

from greensched._validators import InvalidValueError
from greensched.triggers.cron.fields import (
    BaseField,
    CrontabDayOfMonthField,
    CrontabDayOfWeekField,
    MonthField,
    WeekField,
)

#: The ``@`` shorthands and the expressions they stand for
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: The trigger fields of a five-field crontab expression, in order
FIELDS = ("minute", "hour", "day", "month", "day_of_week")

_FIVE_FIELDS = "5 fields (minute hour day month day_of_week)"


def _error(expr: str, expected: str) -> ValueError:
    return ValueError(f"crontab: {expr!r} is not a valid expression (expected {expected})")


def _count(values: list[str]) -> str:
    return "1 field" if len(values) == 1 else f"{len(values)} fields"


def split_crontab(expr: str, *, legacy: bool = False) -> dict[str, str]:
    """Return the text of each field of a crontab expression, keyed by the trigger's field
    names; ``second`` is present only if the expression has six fields.

    :param expr: five fields, six with a leading second, or an alias such as ``@daily``
    :param legacy: accept only five fields and no alias, as APScheduler 3.x does
    :raises ValueError: if ``expr`` has another number of fields, or is an unknown alias
    :raises TypeError: if ``expr`` is not a string (an
        :exc:`~greensched._validators.InvalidValueError`, which is a :exc:`ValueError` too)
    """
    if not isinstance(expr, str):
        raise InvalidValueError(f"crontab must be a string, got: {expr!r}")
    text = expr.strip()
    if legacy:
        values = text.split()
        if len(values) != 5:
            raise _error(expr, f"{_FIVE_FIELDS} with legacy=True; got {_count(values)}")
        return dict(zip(FIELDS, values))
    if text.startswith("@"):
        alias = ALIASES.get(text.lower())
        if alias is None:
            raise _error(expr, "one of " + ", ".join(ALIASES))
        text = alias
    values = text.split()
    if len(values) == 6:
        return {"second": values[0], **dict(zip(FIELDS, values[1:]))}
    if len(values) != 5:
        raise _error(
            expr,
            f"{_FIVE_FIELDS}, 6 with a leading second, or an alias such as @daily; "
            f"got {_count(values)}",
        )
    return dict(zip(FIELDS, values))


def crontab_fields(texts: dict[str, str]) -> list[BaseField]:
    """Return the fields of a trigger made by :meth:`CronTrigger.from_crontab`, from the text
    of each crontab field (:func:`split_crontab`).

    :raises ValueError: if a field is not a valid expression
    """
    second = texts.get("second")
    return [
        BaseField("year", "*", True),
        MonthField("month", texts["month"], crontab=True),
        CrontabDayOfMonthField("day", texts["day"]),
        WeekField("week", "*", True),
        CrontabDayOfWeekField("day_of_week", texts["day_of_week"]),
        BaseField("hour", texts["hour"], crontab=True),
        BaseField("minute", texts["minute"], crontab=True),
        BaseField("second", 0, True)
        if second is None
        else BaseField("second", second, crontab=True),
    ]
