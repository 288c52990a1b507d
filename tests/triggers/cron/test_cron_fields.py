"""Tests for greensched.triggers.cron.fields and .expressions: the syntax of each field, field
defaults, names and case, exact error messages, and text and pickle round trips."""

from __future__ import annotations

import pickle
import re
from datetime import datetime, timezone
from typing import Any

import pytest

from greensched._validators import InvalidValueError
from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.expressions import (
    AllExpression,
    LastDayOfMonthExpression,
    MonthRangeExpression,
    RangeExpression,
    WeekdayPositionExpression,
    WeekdayRangeExpression,
)
from greensched.triggers.cron.fields import (
    DEFAULT_VALUES,
    MAX_VALUES,
    MIN_VALUES,
    BaseField,
    DayOfMonthField,
    DayOfWeekField,
    MonthField,
    WeekField,
)

UTC = timezone.utc
# a Monday
START = datetime(2024, 1, 1, tzinfo=UTC)


def fire_times(trigger: CronTrigger, start: datetime, count: int) -> list[str]:
    """The first ``count`` fire times from ``start``, as UTC ``YYYY-mm-dd HH:MM:SS`` text."""
    result = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, start)
        if previous is None:
            break
        result.append(previous.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    return result


# --- syntax, one form at a time ----------------------------------------------------------------

SYNTAX_CASES = [
    # (keyword arguments, first fire times from Monday 2024-01-01 00:00 UTC)
    pytest.param(
        {"second": "*/20"},
        ["2024-01-01 00:00:00", "2024-01-01 00:00:20", "2024-01-01 00:00:40"],
        id="every-nth",
    ),
    pytest.param(
        {"minute": "10-12"},
        ["2024-01-01 00:10:00", "2024-01-01 00:11:00", "2024-01-01 00:12:00"],
        id="range",
    ),
    pytest.param(
        {"minute": "10-40/15"},
        ["2024-01-01 00:10:00", "2024-01-01 00:25:00", "2024-01-01 00:40:00"],
        id="range-with-step",
    ),
    pytest.param(
        {"minute": "50/4"},
        ["2024-01-01 00:50:00", "2024-01-01 00:54:00", "2024-01-01 00:58:00"],
        id="start-with-step",
    ),
    pytest.param(
        {"hour": "3,1,22", "minute": 0},
        ["2024-01-01 01:00:00", "2024-01-01 03:00:00", "2024-01-01 22:00:00"],
        id="list-in-any-order",
    ),
    pytest.param(
        {"minute": " 5 , 7 "},
        ["2024-01-01 00:05:00", "2024-01-01 00:07:00", "2024-01-01 01:05:00"],
        id="spaces-around-commas",
    ),
    pytest.param(
        {"hour": 5},
        ["2024-01-01 05:00:00", "2024-01-02 05:00:00"],
        id="int",
    ),
    pytest.param(
        {"month": "feb,may-jun"},
        ["2024-02-01 00:00:00", "2024-05-01 00:00:00", "2024-06-01 00:00:00"],
        id="month-names",
    ),
    pytest.param(
        {"month": "JAN-Dec/4"},
        ["2024-01-01 00:00:00", "2024-05-01 00:00:00", "2024-09-01 00:00:00"],
        id="month-names-with-step-any-case",
    ),
    pytest.param(
        {"month": "feb/5"},
        ["2024-02-01 00:00:00", "2024-07-01 00:00:00", "2024-12-01 00:00:00"],
        id="month-name-start-with-step",
    ),
    pytest.param(
        {"day_of_week": "sat,sun"},
        ["2024-01-06 00:00:00", "2024-01-07 00:00:00", "2024-01-13 00:00:00"],
        id="weekday-names",
    ),
    pytest.param(
        {"day_of_week": "Mon-FRI/2"},
        ["2024-01-01 00:00:00", "2024-01-03 00:00:00", "2024-01-05 00:00:00"],
        id="weekday-names-with-step",
    ),
    pytest.param(
        {"day_of_week": "0"},
        ["2024-01-01 00:00:00", "2024-01-08 00:00:00"],
        id="weekday-zero-is-monday",
    ),
    pytest.param(
        {"day_of_week": "*/2"},
        [
            "2024-01-01 00:00:00",
            "2024-01-03 00:00:00",
            "2024-01-05 00:00:00",
            "2024-01-07 00:00:00",
        ],
        id="weekday-step-from-monday",
    ),
    pytest.param(
        {"day": "last"},
        ["2024-01-31 00:00:00", "2024-02-29 00:00:00", "2024-03-31 00:00:00"],
        id="last-day",
    ),
    pytest.param(
        {"day": "last fri"},
        ["2024-01-26 00:00:00", "2024-02-23 00:00:00", "2024-03-29 00:00:00"],
        id="last-weekday",
    ),
    pytest.param(
        {"day": "1st mon,3rd Wed"},
        ["2024-01-01 00:00:00", "2024-01-17 00:00:00", "2024-02-05 00:00:00"],
        id="nth-weekday",
    ),
    pytest.param(
        {"day": "5th fri"},
        ["2024-03-29 00:00:00", "2024-05-31 00:00:00", "2024-08-30 00:00:00"],
        id="fifth-weekday-skips-months",
    ),
    pytest.param(
        {"day": "*/10"},
        [
            "2024-01-01 00:00:00",
            "2024-01-11 00:00:00",
            "2024-01-21 00:00:00",
            "2024-01-31 00:00:00",
        ],
        id="day-step-from-the-first",
    ),
    pytest.param(
        {"day": 31, "hour": 12},
        ["2024-01-31 12:00:00", "2024-03-31 12:00:00", "2024-05-31 12:00:00"],
        id="missing-days-skipped",
    ),
    pytest.param(
        {"week": "2", "day_of_week": "wed"},
        ["2024-01-10 00:00:00", "2025-01-08 00:00:00"],
        id="iso-week",
    ),
    pytest.param(
        {"week": "*/2", "day_of_week": "mon"},
        ["2024-01-01 00:00:00", "2024-01-15 00:00:00", "2024-01-29 00:00:00"],
        id="iso-week-step",
    ),
    pytest.param(
        {"year": "2026-2027", "month": 3},
        ["2026-03-01 00:00:00", "2027-03-01 00:00:00"],
        id="year-range",
    ),
    pytest.param(
        {"year": "*/3"},
        ["2024-01-01 00:00:00", "2027-01-01 00:00:00"],
        id="year-step-from-1970",
    ),
    pytest.param(
        {"day": 13, "day_of_week": "fri"},
        ["2024-09-13 00:00:00", "2024-12-13 00:00:00", "2025-06-13 00:00:00"],
        id="day-and-weekday-both-match",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), SYNTAX_CASES)
def test_syntax(fields: dict[str, Any], expected: list[str]) -> None:
    trigger = CronTrigger(timezone=UTC, **fields)
    assert fire_times(trigger, START, len(expected)) == expected


def test_iso_week_one_can_start_in_december() -> None:
    # as APScheduler 3.11: the ISO week of the date itself, whatever its ISO year
    trigger = CronTrigger(week=1, timezone=UTC)
    assert fire_times(trigger, datetime(2024, 12, 20, tzinfo=UTC), 8) == [
        "2024-12-30 00:00:00",
        "2024-12-31 00:00:00",
        "2025-01-01 00:00:00",
        "2025-01-02 00:00:00",
        "2025-01-03 00:00:00",
        "2025-01-04 00:00:00",
        "2025-01-05 00:00:00",
        "2025-12-29 00:00:00",
    ]


def test_week_53_only_in_years_that_have_it() -> None:
    trigger = CronTrigger(week=53, day_of_week="mon", timezone=UTC)
    assert fire_times(trigger, START, 2) == ["2026-12-28 00:00:00", "2032-12-27 00:00:00"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"day_of_week": "mon-fri/2"}, id="weekdays"),
        pytest.param({"month": "jan-jun/2"}, id="months"),
    ],
)
def test_step_after_names_is_applied_where_apscheduler_drops_it(fields: dict[str, str]) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    ours = CronTrigger(timezone=UTC, **fields)
    theirs = apscheduler_cron.CronTrigger(timezone=UTC, **fields)
    name, text = next(iter(fields.items()))
    assert str(ours) == f"cron[{name}='{text}']"
    # APScheduler 3.11 stops at the valid prefix and silently drops the step
    assert str(theirs) == f"cron[{name}='{text.split('/')[0]}']"


@pytest.mark.parametrize(
    ("field", "text", "apscheduler_reads"),
    [
        pytest.param("day_of_week", "fri#9", "fri", id="hash"),
        pytest.param("month", "jan-", "jan", id="dangling-dash"),
        pytest.param("day", "lastx", "last", id="junk-after-last"),
        pytest.param("day", "last fri x", "last fri", id="junk-after-position"),
    ],
)
def test_junk_after_a_valid_prefix_is_rejected(
    field: str, text: str, apscheduler_reads: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: '{re.escape(text)}' is not a valid"):
        CronTrigger(timezone=UTC, **{field: text})
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    assert str(apscheduler_cron.CronTrigger(timezone=UTC, **{field: text})) == (
        f"cron[{field}='{apscheduler_reads}']"
    )


# --- field defaults ---------------------------------------------------------------------------

DEFAULT_CASES = [
    # (keyword arguments, str() of the eight fields: year month day week dow hour minute second)
    pytest.param({}, "* * * * * * * *", id="nothing-given-fires-every-second"),
    pytest.param({"hour": 5}, "* * * * * 5 0 0", id="hour"),
    pytest.param({"month": 6}, "* 6 1 * * 0 0 0", id="month"),
    pytest.param({"day_of_week": "mon"}, "* * * * mon 0 0 0", id="day-of-week"),
    pytest.param({"week": 5}, "* * * 5 * 0 0 0", id="week"),
    pytest.param({"year": 2030}, "2030 1 1 * * 0 0 0", id="year"),
    pytest.param({"second": 30}, "* * * * * * * 30", id="second"),
    pytest.param({"month": 6, "minute": 30}, "* 6 * * * * 30 0", id="gap-between-given"),
]


@pytest.mark.parametrize(("fields", "expected"), DEFAULT_CASES)
def test_field_defaults(fields: dict[str, Any], expected: str) -> None:
    trigger = CronTrigger(timezone=UTC, **fields)
    assert " ".join(str(field) for field in trigger.fields) == expected
    assert [field.name for field in trigger.fields if not field.is_default] == list(fields)


@pytest.mark.parametrize(("fields", "expected"), DEFAULT_CASES)
def test_field_defaults_match_apscheduler(fields: dict[str, Any], expected: str) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    theirs = apscheduler_cron.CronTrigger(timezone=UTC, **fields)
    assert " ".join(str(field) for field in theirs.fields) == expected
    assert [field.is_default for field in theirs.fields] == [
        field.is_default for field in CronTrigger(timezone=UTC, **fields).fields
    ]


def test_hour_alone_fires_at_the_top_of_that_hour_every_day() -> None:
    trigger = CronTrigger(hour=5, timezone=UTC)
    assert fire_times(trigger, datetime(2024, 6, 3, 12, tzinfo=UTC), 2) == [
        "2024-06-04 05:00:00",
        "2024-06-05 05:00:00",
    ]


def test_module_constants() -> None:
    assert MIN_VALUES["year"] == 1970
    assert MAX_VALUES["year"] == 9999
    assert MAX_VALUES["day_of_week"] == 6
    assert DEFAULT_VALUES["week"] == "*"
    with pytest.raises(TypeError):
        MIN_VALUES["year"] = 2000  # type: ignore[index]


# --- keyword syntax agrees with APScheduler 3.11 ---------------------------------------------

APSCHEDULER_AGREES = [
    {"minute": "*/7", "hour": "9-17"},
    {"day": "last", "hour": 23, "minute": 59, "second": 59},
    {"day": "1st mon,last fri"},
    {"day": "3rd sun", "month": "3-10"},
    {"day_of_week": "sat-sun", "hour": "0-6/3"},
    {"week": "10-20", "day_of_week": "tue"},
    {"year": "2025,2027", "month": "feb", "day": 29},
    {"year": "2028", "month": "feb", "day": 29},
    {"month": "*/5", "day": "*/9", "hour": "1,13"},
    {"second": "5/25", "minute": "58-59"},
    {"day": "5th wed", "day_of_week": "wed"},
    {"day": "29-31", "day_of_week": "0-2"},
]


@pytest.mark.parametrize("fields", APSCHEDULER_AGREES, ids=str)
def test_fire_times_match_apscheduler_in_utc(fields: dict[str, Any]) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    ours = CronTrigger(timezone=UTC, **fields)
    theirs = apscheduler_cron.CronTrigger(timezone=UTC, **fields)
    start = datetime(2024, 2, 27, 13, 14, 15, tzinfo=UTC)
    expected = []
    previous = None
    for _ in range(12):
        # APScheduler restarts from ``now`` if it is earlier: keep now = the previous fire time
        previous = theirs.get_next_fire_time(previous, previous or start)
        expected.append(previous)
    ours_times = []
    previous = None
    for _ in range(12):
        previous = ours.get_next_fire_time(previous, start)
        ours_times.append(previous)
    assert ours_times == expected


# --- errors -----------------------------------------------------------------------------------


def _generic(low: int, high: int) -> str:
    return (
        f"'*', a number from {low} to {high} or a range 'a-b', optionally followed by a step '/n'"
    )


ERROR_CASES = [
    # (field, value, what the message says was expected)
    ("minute", "61", "values from 0 to 59"),
    ("minute", "*/0", "a step of 1 or more"),
    ("minute", "5-3", "a range whose first value is not greater than its last"),
    ("day_of_week", "fri-mon", "a range whose first value is not greater than its last"),
    ("minute", "*/60", "a step from 1 to 59, the width of the range"),
    ("minute", "59/1", "no step on a single value"),
    ("minute", "0-0/1", "no step on a single value"),
    ("hour", "L", _generic(0, 23)),
    ("hour", "-1", _generic(0, 23)),
    ("hour", "1 2", _generic(0, 23)),
    ("hour", "", _generic(0, 23)),
    ("second", "*/x", _generic(0, 59)),
    ("hour", "99999999999999999999", "values from 0 to 23"),
    ("hour", "٣", _generic(0, 23)),  # a non-ASCII digit
    ("minute", "1,,2", "an expression on each side of every comma"),
    ("minute", "1,", "an expression on each side of every comma"),
    ("year", "1969", "values from 1970 to 9999"),
    ("month", "13", "values from 1 to 12"),
    ("month", "foo", "a month name (jan-dec)"),
    ("month", "jan-feb/12", "a step from 1 to 1, the width of the range"),
    ("day", "0", "values from 1 to 31"),
    ("day", "32", "values from 1 to 31"),
    ("day", "5th 4", "a weekday name (mon-sun)"),
    ("day", "3rd xyz", "a weekday name (mon-sun)"),
    ("week", "54", "values from 1 to 53"),
    ("day_of_week", "7", "values from 0 to 6"),
    ("day_of_week", "jan", "a weekday name (mon-sun)"),
    ("day_of_week", "mon-fri/5", "a step from 1 to 4, the width of the range"),
    (
        "month",
        "jan-",
        (
            "'*', a number from 1 to 12, a month name (jan-dec) or a range 'a-b' of these, "
            "optionally followed by a step '/n'"
        ),
    ),
    (
        "day",
        "6th fri",
        (
            "'*', a number from 1 to 31 or a range 'a-b', optionally followed by a step '/n', "
            "'last', or '1st' to '5th' or 'last' and a weekday name ('3rd fri')"
        ),
    ),
    (
        "day",
        "L",  # crontab syntax: not in the keyword form
        (
            "'*', a number from 1 to 31 or a range 'a-b', optionally followed by a step '/n', "
            "'last', or '1st' to '5th' or 'last' and a weekday name ('3rd fri')"
        ),
    ),
    (
        "day_of_week",
        "fri#2",  # crontab syntax: not in the keyword form (use day='2nd fri')
        (
            "'*', a number from 0 (mon) to 6 (sun), a weekday name (mon-sun) or a range 'a-b' of "
            "these, optionally followed by a step '/n'"
        ),
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"), ERROR_CASES, ids=[f"{c[0]}={c[1]!r}" for c in ERROR_CASES]
)
def test_invalid_expression_is_rejected(field: str, value: str, expected: str) -> None:
    offending = value.strip()
    if "," in value:
        offending = value
    message = f"{field}: {offending!r} is not a valid expression (expected {expected})"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CronTrigger(timezone=UTC, **{field: value})


def test_the_offending_item_of_a_list_is_named() -> None:
    with pytest.raises(
        ValueError,
        match=r"^minute: '61' is not a valid expression \(expected values from 0 to 59\)$",
    ):
        CronTrigger(minute="1,61,2", timezone=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [("minute", "5-3"), ("day_of_week", "fri-mon"), ("minute", "61"), ("minute", "*/0")],
)
def test_apscheduler_rejects_these_too(field: str, value: str) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    with pytest.raises(ValueError, match=r"."):
        apscheduler_cron.CronTrigger(timezone=UTC, **{field: value})


@pytest.mark.parametrize(
    "value", [[1, 2], True, 5.0, None.__class__], ids=["list", "bool", "float", "type"]
)
def test_field_of_another_type_is_rejected(value: Any) -> None:
    with pytest.raises(InvalidValueError, match=r"^hour must be an int or a string, got: "):
        CronTrigger(hour=value, timezone=UTC)
    # both what greensched documents and what APScheduler 3.x raises
    assert issubclass(InvalidValueError, ValueError)
    assert issubclass(InvalidValueError, TypeError)


# --- fields and expressions as objects --------------------------------------------------------


def test_field_str_is_canonical() -> None:
    trigger = CronTrigger(
        month="JAN-Mar/2, 12",
        day="LAST, 1st MON",
        day_of_week="Mon-Fri/2",
        hour="5-5",
        minute="7/10",
        timezone=UTC,
    )
    assert str(trigger) == (
        "cron[month='jan-mar/2,12', day='last,1st mon', day_of_week='mon-fri/2', hour='5', "
        "minute='7/10']"
    )


def test_field_reprs() -> None:
    trigger = CronTrigger(day="last fri", month="jan-feb", minute="*/5", timezone=UTC)
    fields = {field.name: field for field in trigger.fields}
    assert repr(fields["day"]) == "DayOfMonthField('day', 'last fri')"
    assert repr(fields["month"]) == "MonthField('month', 'jan-feb')"
    assert repr(fields["minute"]) == "BaseField('minute', '*/5')"
    assert repr(fields["month"].expressions[0]) == "MonthRangeExpression('jan', 'feb', None)"
    assert repr(fields["minute"].expressions[0]) == "AllExpression(5)"
    assert repr(fields["day"].expressions[0]) == "WeekdayPositionExpression('last', 'fri')"


def test_field_classes_of_the_keyword_form() -> None:
    trigger = CronTrigger(timezone=UTC)
    assert [type(field) for field in trigger.fields] == [
        BaseField,
        MonthField,
        DayOfMonthField,
        WeekField,
        DayOfWeekField,
        BaseField,
        BaseField,
        BaseField,
    ]
    assert [field.REAL for field in trigger.fields] == [1, 1, 1, 0, 0, 1, 1, 1]


def test_expressions_compare_by_value() -> None:
    assert RangeExpression(1, 5) == RangeExpression("1", "5")
    assert RangeExpression(1, 5, 2) != RangeExpression(1, 5)  # APScheduler ignores the step
    assert AllExpression(2) != RangeExpression(0, None, 2)
    assert hash(WeekdayRangeExpression("mon", "fri")) == hash(WeekdayRangeExpression("MON", "FRI"))
    assert BaseField("minute", "1,2") == BaseField("minute", " 1 , 2 ")
    assert BaseField("minute", "1") != BaseField("second", "1")


def test_expressions_answer_the_apscheduler_interface() -> None:
    field = DayOfMonthField("day", "last,3rd fri,10-20/5")
    when = datetime(2024, 2, 16)
    assert field.get_value(when) == 16
    assert field.get_max(when) == 29
    assert field.get_next_value(when) == 16  # the 3rd Friday
    assert field.get_next_value(datetime(2024, 2, 17)) == 20
    assert field.get_next_value(datetime(2024, 2, 21)) == 29
    assert LastDayOfMonthExpression().get_next_value(when, field) == 29
    assert WeekdayPositionExpression("1st", "fri").get_next_value(when, field) is None
    weekday = DayOfWeekField("day_of_week", "wed-fri")
    assert weekday.get_value(when) == 4
    assert weekday.get_next_value(datetime(2024, 2, 12)) == 2  # from Monday: Wednesday
    assert weekday.get_next_value(datetime(2024, 2, 17)) is None  # from Saturday: none left
    assert WeekField("week", "*").get_value(datetime(2024, 12, 30)) == 1
    assert MonthRangeExpression("feb").get_next_value(when, MonthField("month", "*")) == 2


def test_compile_expression_adds_one_expression() -> None:
    field = BaseField("minute", "5")
    field.compile_expression("10-12")
    assert str(field) == "5,10-12"
    assert field.get_next_value(datetime(2024, 1, 1, 0, 6)) == 10


@pytest.mark.parametrize(
    ("cls", "name", "text"),
    [
        (BaseField, "minute", "*/5,7,10-20/3,50/2"),
        (MonthField, "month", "jan-mar/2,dec"),
        (DayOfMonthField, "day", "last,1st mon,last sun,*/10"),
        (DayOfWeekField, "day_of_week", "mon-fri/2,sun"),
        (WeekField, "week", "1-10/3"),
    ],
)
def test_field_pickles_as_its_text(cls: type[BaseField], name: str, text: str) -> None:
    field = cls(name, text, True)
    state = field.__getstate__()
    assert state == {"version": 1, "name": name, "is_default": True, "expressions": text}
    copy = pickle.loads(pickle.dumps(field))
    assert type(copy) is cls
    assert copy == field
    assert copy.is_default
    assert str(copy) == text


def test_field_state_from_a_newer_release_is_rejected() -> None:
    field = BaseField("minute", "5")
    state = {**field.__getstate__(), "version": 2}
    with pytest.raises(ValueError, match=r"^Cannot restore BaseField from state version 2"):
        field.__setstate__(state)


def test_field_reads_an_apscheduler_field_dict() -> None:
    # what an APScheduler 3.x field pickles (its __dict__), once its classes are mapped to ours
    field = DayOfMonthField.__new__(DayOfMonthField)
    field.__setstate__(
        {
            "name": "day",
            "is_default": False,
            "expressions": [WeekdayPositionExpression("last", "fri"), RangeExpression(5, 9)],
        }
    )
    assert str(field) == "last fri,5-9"
