"""Tests for CronTrigger.from_crontab: crontab(5) semantics, the Quartz-style extensions, the
legacy APScheduler 3.x reading, errors, text forms and pickling."""

from __future__ import annotations

import pickle
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from greensched._validators import InvalidValueError
from greensched.triggers.cron import CronTrigger
from greensched.triggers.cron.fields import (
    BaseField,
    CrontabDayOfMonthField,
    CrontabDayOfWeekField,
    DayOfMonthField,
    DayOfWeekField,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
# a Monday
START = datetime(2024, 1, 1, tzinfo=UTC)


def fire_times(trigger: CronTrigger, start: datetime, count: int) -> list[str]:
    """The first ``count`` fire times from ``start``, as ``Www YYYY-mm-dd HH:MM:SS`` text."""
    result = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, start)
        if previous is None:
            break
        result.append(previous.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M:%S"))
    return result


def crontab(expr: str, *, legacy: bool = False) -> CronTrigger:
    return CronTrigger.from_crontab(expr, UTC, legacy=legacy)


CASES = [
    # (expression, first fire times from Monday 2024-01-01 00:00 UTC)
    pytest.param(
        "*/20 9 * * *",
        ["Mon 2024-01-01 09:00:00", "Mon 2024-01-01 09:20:00", "Mon 2024-01-01 09:40:00"],
        id="five-fields",
    ),
    pytest.param(
        "*/20 * * * * *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-01 00:00:20", "Mon 2024-01-01 00:00:40"],
        id="six-fields-leading-second",
    ),
    pytest.param(
        "30 15 12 * * *",
        ["Mon 2024-01-01 12:15:30", "Tue 2024-01-02 12:15:30"],
        id="six-fields-fixed",
    ),
    # day of week: 0 and 7 are Sunday, 1 is Monday
    pytest.param(
        "0 9 * * 1-5",
        ["Mon 2024-01-01 09:00:00", "Tue 2024-01-02 09:00:00", "Fri 2024-01-05 09:00:00"][:2],
        id="one-to-five-is-monday-to-friday",
    ),
    pytest.param("0 0 * * 0", ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00"], id="zero"),
    pytest.param("0 0 * * 7", ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00"], id="seven"),
    pytest.param(
        "0 0 * * 5-7",
        ["Fri 2024-01-05 00:00:00", "Sat 2024-01-06 00:00:00", "Sun 2024-01-07 00:00:00"],
        id="range-to-seven",
    ),
    pytest.param(
        "0 0 * * FRI-sun",
        ["Fri 2024-01-05 00:00:00", "Sat 2024-01-06 00:00:00", "Sun 2024-01-07 00:00:00"],
        id="names-sun-ends-a-range",
    ),
    pytest.param(
        "0 0 * * sun,Sat",
        ["Sat 2024-01-06 00:00:00", "Sun 2024-01-07 00:00:00", "Sat 2024-01-13 00:00:00"],
        id="names",
    ),
    pytest.param(
        "0 0 * * */2",
        [
            "Tue 2024-01-02 00:00:00",
            "Thu 2024-01-04 00:00:00",
            "Sat 2024-01-06 00:00:00",
            "Sun 2024-01-07 00:00:00",
        ],
        id="step-from-sunday",
    ),
    pytest.param(
        "0 0 * * mon-sun/2",
        [
            "Mon 2024-01-01 00:00:00",
            "Wed 2024-01-03 00:00:00",
            "Fri 2024-01-05 00:00:00",
            "Sun 2024-01-07 00:00:00",
        ],
        id="names-with-step",
    ),
    pytest.param(
        "0 0 1 jan,JUL *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-07-01 00:00:00", "Wed 2025-01-01 00:00:00"],
        id="month-names",
    ),
    # both day fields restricted: either matches (crontab's OR rule)
    pytest.param(
        "0 0 1 * mon",
        [
            "Mon 2024-01-01 00:00:00",
            "Mon 2024-01-08 00:00:00",
            "Mon 2024-01-15 00:00:00",
            "Mon 2024-01-22 00:00:00",
            "Mon 2024-01-29 00:00:00",
            "Thu 2024-02-01 00:00:00",
        ],
        id="or-rule",
    ),
    # cron (cronie, Vixie) leaves a day field that starts with '*' out of the either-day
    # rule, steps included: both fields must match
    pytest.param(
        "0 0 */2 * 1",
        [
            "Mon 2024-01-01 00:00:00",
            "Mon 2024-01-15 00:00:00",
            "Mon 2024-01-29 00:00:00",
            "Mon 2024-02-05 00:00:00",
        ],
        id="a-day-field-starting-with-star-takes-no-part-in-the-or-rule",
    ),
    pytest.param(
        "0 0 5,*/2 * 1",
        [
            "Mon 2024-01-01 00:00:00",
            "Wed 2024-01-03 00:00:00",
            "Fri 2024-01-05 00:00:00",
            "Sun 2024-01-07 00:00:00",
            "Mon 2024-01-08 00:00:00",
            "Tue 2024-01-09 00:00:00",
        ],
        id="or-rule-a-step-after-the-first-item-is-a-restriction",
    ),
    pytest.param(
        "0 0 13 * 5",
        ["Fri 2024-01-05 00:00:00", "Fri 2024-01-12 00:00:00", "Sat 2024-01-13 00:00:00"],
        id="or-rule-friday-or-13th",
    ),
    # one day field unrestricted: the other decides
    pytest.param(
        "0 0 13 * *", ["Sat 2024-01-13 00:00:00", "Tue 2024-02-13 00:00:00"], id="dom-only"
    ),
    pytest.param(
        "0 0 13 * ?", ["Sat 2024-01-13 00:00:00", "Tue 2024-02-13 00:00:00"], id="question-mark"
    ),
    pytest.param(
        "0 0 ? * 5", ["Fri 2024-01-05 00:00:00", "Fri 2024-01-12 00:00:00"], id="dow-only"
    ),
    # Quartz-style extensions
    pytest.param(
        "0 0 L * *",
        ["Wed 2024-01-31 00:00:00", "Thu 2024-02-29 00:00:00", "Sun 2024-03-31 00:00:00"],
        id="L-last-day",
    ),
    pytest.param(
        "0 0 lw 3,6,8 *",
        ["Fri 2024-03-29 00:00:00", "Fri 2024-06-28 00:00:00", "Fri 2024-08-30 00:00:00"],
        id="LW-last-weekday",
    ),
    pytest.param(
        "0 0 15W * *",
        [
            "Mon 2024-01-15 00:00:00",
            "Thu 2024-02-15 00:00:00",
            "Fri 2024-03-15 00:00:00",
            "Mon 2024-04-15 00:00:00",
            "Wed 2024-05-15 00:00:00",
            "Fri 2024-06-14 00:00:00",
        ],
        id="W-nearest-weekday",
    ),
    pytest.param(
        "0 0 1w 6 *",
        ["Mon 2024-06-03 00:00:00", "Mon 2025-06-02 00:00:00"],
        id="W-on-a-saturday-first-stays-in-the-month",
    ),
    pytest.param(
        "0 0 31W 3,4 *",
        ["Fri 2024-03-29 00:00:00", "Tue 2024-04-30 00:00:00", "Mon 2025-03-31 00:00:00"],
        id="W-on-a-sunday-last-and-short-month",
    ),
    pytest.param(
        "0 0 * * 5L",
        ["Fri 2024-01-26 00:00:00", "Fri 2024-02-23 00:00:00", "Fri 2024-03-29 00:00:00"],
        id="nL-last-friday",
    ),
    pytest.param(
        "0 0 * * 0l,7L",
        ["Sun 2024-01-28 00:00:00", "Sun 2024-02-25 00:00:00"],
        id="nL-last-sunday",
    ),
    pytest.param(
        "0 0 * * 5#3",
        ["Fri 2024-01-19 00:00:00", "Fri 2024-02-16 00:00:00", "Fri 2024-03-15 00:00:00"],
        id="hash-third-friday",
    ),
    pytest.param(
        "0 0 * * FRI#3",
        ["Fri 2024-01-19 00:00:00", "Fri 2024-02-16 00:00:00", "Fri 2024-03-15 00:00:00"],
        id="hash-name",
    ),
    pytest.param(
        "0 0 * * 0#1,7#2",
        ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00", "Sun 2024-02-04 00:00:00"],
        id="hash-sunday-both-numbers",
    ),
    pytest.param(
        "0 0 * * 6#5",
        ["Sat 2024-03-30 00:00:00", "Sat 2024-06-29 00:00:00", "Sat 2024-08-31 00:00:00"],
        id="hash-fifth-skips-months",
    ),
    pytest.param(
        "0 0 * * 1,5#3",
        [
            "Mon 2024-01-01 00:00:00",
            "Mon 2024-01-08 00:00:00",
            "Mon 2024-01-15 00:00:00",
            "Fri 2024-01-19 00:00:00",
        ],
        id="hash-in-a-list",
    ),
    pytest.param(
        "0 0 15,L * *",
        ["Mon 2024-01-15 00:00:00", "Wed 2024-01-31 00:00:00", "Thu 2024-02-15 00:00:00"],
        id="L-in-a-list",
    ),
    pytest.param(
        "0 0 L * 5#1",
        ["Fri 2024-01-05 00:00:00", "Wed 2024-01-31 00:00:00", "Fri 2024-02-02 00:00:00"],
        id="or-rule-with-extensions",
    ),
]

# Steps as cron (cronie) reads them: any step of 1 or more, on '*' or on a range; a step
# wider than the range selects the range's first value only. The keyword form and the legacy
# reading reject these steps, as APScheduler 3.x does.
WIDE_STEP_CASES = [
    pytest.param(
        "*/60 * * * *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-01 01:00:00", "Mon 2024-01-01 02:00:00"],
        id="star-step-60-is-minute-0",
    ),
    pytest.param(
        "0 */24 * * *",
        ["Mon 2024-01-01 00:00:00", "Tue 2024-01-02 00:00:00", "Wed 2024-01-03 00:00:00"],
        id="star-step-24-is-hour-0",
    ),
    pytest.param(
        "0 9-11/3 * * *",
        ["Mon 2024-01-01 09:00:00", "Tue 2024-01-02 09:00:00", "Wed 2024-01-03 09:00:00"],
        id="range-step-wider-than-the-range-is-its-first-value",
    ),
    pytest.param(
        "0 9-11/99 * * *",
        ["Mon 2024-01-01 09:00:00", "Tue 2024-01-02 09:00:00"],
        id="range-step-far-wider-than-the-range",
    ),
    pytest.param(
        "0 0 * * 5-5/1",
        ["Fri 2024-01-05 00:00:00", "Fri 2024-01-12 00:00:00", "Fri 2024-01-19 00:00:00"],
        id="one-value-range-with-step-1",
    ),
    pytest.param(
        "0 0 * * 5-5",
        ["Fri 2024-01-05 00:00:00", "Fri 2024-01-12 00:00:00", "Fri 2024-01-19 00:00:00"],
        id="one-value-range",
    ),
    pytest.param(
        "5-5/2 * * * *",
        ["Mon 2024-01-01 00:05:00", "Mon 2024-01-01 01:05:00", "Mon 2024-01-01 02:05:00"],
        id="one-value-range-with-step-2",
    ),
    pytest.param(
        "0 0 * * 7-7/1",
        ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00"],
        id="one-value-range-seven-is-sunday",
    ),
    pytest.param(
        "0 0 * * */8",
        ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00", "Sun 2024-01-21 00:00:00"],
        id="weekday-star-step-8-is-sunday",
    ),
    pytest.param(
        "0 0 * * */7",
        ["Sun 2024-01-07 00:00:00", "Sun 2024-01-14 00:00:00"],
        id="weekday-star-step-7-is-sunday-0-and-7",
    ),
    pytest.param(
        "0 0 * * mon-wed/7",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-08 00:00:00", "Mon 2024-01-15 00:00:00"],
        id="weekday-names-with-a-wide-step",
    ),
    pytest.param(
        "0 0 */40 * *",
        ["Mon 2024-01-01 00:00:00", "Thu 2024-02-01 00:00:00", "Fri 2024-03-01 00:00:00"],
        id="day-star-step-40-is-the-1st",
    ),
    pytest.param(
        "0 0 1 */13 *",
        ["Mon 2024-01-01 00:00:00", "Wed 2025-01-01 00:00:00", "Thu 2026-01-01 00:00:00"],
        id="month-star-step-13-is-january",
    ),
    pytest.param(
        "0 0 1 jan-mar/5 *",
        ["Mon 2024-01-01 00:00:00", "Wed 2025-01-01 00:00:00"],
        id="month-names-with-a-wide-step",
    ),
    pytest.param(
        "0 20-23/5 * * *",
        ["Mon 2024-01-01 20:00:00", "Tue 2024-01-02 20:00:00"],
        id="range-step-wider-than-the-range-is-its-start",
    ),
    pytest.param(
        "*/60 * * * * *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-01 00:01:00", "Mon 2024-01-01 00:02:00"],
        id="six-fields-second-step-60",
    ),
    pytest.param(
        "*/99999999999 * * * *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-01 01:00:00"],
        id="huge-step",
    ),
    pytest.param(
        "0,*/60 */30,1 * * *",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-01-01 01:00:00", "Tue 2024-01-02 00:00:00"],
        id="in-lists",
    ),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_crontab_semantics(expr: str, expected: list[str]) -> None:
    assert fire_times(crontab(expr), START, len(expected)) == expected


@pytest.mark.parametrize(("expr", "expected"), WIDE_STEP_CASES)
def test_any_step_of_one_or_more_is_read_as_cron_reads_it(expr: str, expected: list[str]) -> None:
    assert fire_times(crontab(expr), START, len(expected)) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"minute": "*/60"},
            "minute: '*/60' is not a valid expression (expected a step from 1 to 59, the width"
            " of the range)",
            id="star-step-60",
        ),
        pytest.param(
            {"hour": "*/24"},
            "hour: '*/24' is not a valid expression (expected a step from 1 to 23, the width of"
            " the range)",
            id="star-step-24",
        ),
        pytest.param(
            {"hour": "9-11/3"},
            "hour: '9-11/3' is not a valid expression (expected a step from 1 to 2, the width"
            " of the range)",
            id="range-step",
        ),
        pytest.param(
            {"day_of_week": "5-5/1"},
            "day_of_week: '5-5/1' is not a valid expression (expected no step on a single value)",
            id="one-value-range-with-step",
        ),
        pytest.param(
            {"minute": "5/55"},
            "minute: '5/55' is not a valid expression (expected a step from 1 to 54, the width"
            " of the range)",
            id="start-step",
        ),
        pytest.param(
            {"month": "13/20"},
            "month: '13/20' is not a valid expression (expected values from 1 to 12)",
            id="start-above-the-maximum",
        ),
    ],
)
def test_keyword_form_still_rejects_wide_steps_as_apscheduler_does(
    fields: dict[str, str], message: str
) -> None:
    # as APScheduler 3.x does (tests/property/test_cron_prop.py compares with APScheduler)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CronTrigger(timezone=UTC, **fields)


def test_field_reads_wide_steps_only_in_crontab_mode() -> None:
    message = (
        "minute: '*/60' is not a valid expression (expected a step from 1 to 59, the width of "
        "the range)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        BaseField("minute", "*/60")
    field = BaseField("minute", "*/60", crontab=True)
    assert field.get_next_value(datetime(2024, 1, 1, 0, 0)) == 0
    assert field.get_next_value(datetime(2024, 1, 1, 0, 1)) is None
    assert repr(field) == "BaseField('minute', '*/60', crontab=True)"
    # the crontab day fields always read steps as cron does
    weekday = CrontabDayOfWeekField("day_of_week", "*/8")
    assert repr(weekday) == "CrontabDayOfWeekField('day_of_week', '*/8')"
    assert weekday.get_next_value(datetime(2024, 1, 7)) == 0  # Sunday
    assert weekday.get_next_value(datetime(2024, 1, 1)) is None  # from Monday (1): none


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        (" @Daily ", "0 0 * * *"),
    ],
)
def test_aliases(alias: str, equivalent: str) -> None:
    trigger = crontab(alias)
    assert str(trigger) == f"cron[crontab='{equivalent}']"
    start = datetime(2024, 5, 17, 13, 14, 15, tzinfo=UTC)
    assert fire_times(trigger, start, 5) == fire_times(crontab(equivalent), start, 5)


def test_weekly_fires_on_sunday() -> None:
    assert fire_times(crontab("@weekly"), START, 1) == ["Sun 2024-01-07 00:00:00"]


# --- the legacy (APScheduler 3.x) reading -----------------------------------------------------

LEGACY_CASES = [
    # (expression, first fire times in the legacy reading)
    pytest.param(
        "0 9 * * 1-5",
        ["Tue 2024-01-02 09:00:00", "Wed 2024-01-03 09:00:00", "Sat 2024-01-06 09:00:00"][:2],
        id="zero-is-monday",
    ),
    pytest.param("0 0 * * 0", ["Mon 2024-01-01 00:00:00", "Mon 2024-01-08 00:00:00"], id="zero"),
    pytest.param(
        "0 0 1 * 0",
        ["Mon 2024-01-01 00:00:00", "Mon 2024-04-01 00:00:00", "Mon 2024-07-01 00:00:00"],
        id="day-fields-anded",
    ),
    pytest.param(
        "0 0 last * *",
        ["Wed 2024-01-31 00:00:00", "Thu 2024-02-29 00:00:00"],
        id="apscheduler-extensions",
    ),
]


@pytest.mark.parametrize(("expr", "expected"), LEGACY_CASES)
def test_legacy_reading(expr: str, expected: list[str]) -> None:
    assert fire_times(crontab(expr, legacy=True), START, len(expected)) == expected


@pytest.mark.parametrize("expr", ["0 9 * * 1-5", "0 0 1 * 0", "*/15 2-4 */3 jan-jun mon,fri"])
def test_legacy_reading_matches_apscheduler(expr: str) -> None:
    apscheduler_cron = pytest.importorskip("apscheduler.triggers.cron")
    ours = CronTrigger.from_crontab(expr, BERLIN, legacy=True)
    theirs = apscheduler_cron.CronTrigger.from_crontab(expr, BERLIN)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    start = datetime(2024, 5, 17, 13, 14, 15, tzinfo=BERLIN)
    expected = []
    previous = None
    for _ in range(10):
        previous = theirs.get_next_fire_time(previous, previous or start)
        expected.append(previous)
    assert [ours.get_next_fire_time(p, start) for p in [None, *expected[:-1]]] == expected


def test_crontab_and_legacy_readings_differ_where_apscheduler_users_are_hurt() -> None:
    # crontab(5): 1-5 is Monday to Friday; APScheduler 3.x: Tuesday to Saturday
    fridays = [t for t in fire_times(crontab("0 9 * * 1-5"), START, 10) if t.startswith("Fri")]
    saturdays = [
        t for t in fire_times(crontab("0 9 * * 1-5", legacy=True), START, 10) if t[:3] == "Sat"
    ]
    assert fridays
    assert saturdays


def test_legacy_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        CronTrigger.from_crontab("* * * * *", UTC, True)  # type: ignore[misc]


def test_field_classes() -> None:
    fields = {field.name: field for field in crontab("0 0 * * *").fields}
    assert type(fields["day"]) is CrontabDayOfMonthField
    assert type(fields["day_of_week"]) is CrontabDayOfWeekField
    assert type(fields["minute"]) is BaseField
    legacy = {field.name: field for field in crontab("0 0 * * *", legacy=True).fields}
    assert type(legacy["day"]) is DayOfMonthField
    assert type(legacy["day_of_week"]) is DayOfWeekField


def test_crontab_weekday_field_interface() -> None:
    field = CrontabDayOfWeekField("day_of_week", "0,6")
    assert field.get_value(datetime(2024, 1, 7)) == 0  # Sunday
    assert field.get_max(datetime(2024, 1, 7)) == 7
    assert field.get_next_value(datetime(2024, 1, 8)) == 6  # from Monday (1): Saturday


# --- dates, zone and jitter -------------------------------------------------------------------


def test_zone_dates_and_jitter() -> None:
    trigger = CronTrigger.from_crontab(
        "0 12 * * *",
        "Europe/Berlin",
        start_date="2024-06-05",
        end_date="2024-06-07 12:00",
        jitter=0,
    )
    assert trigger.timezone == BERLIN
    times = fire_times(trigger, datetime(2024, 6, 1, tzinfo=UTC), 5)
    assert times == [
        "Wed 2024-06-05 10:00:00",
        "Thu 2024-06-06 10:00:00",
        "Fri 2024-06-07 10:00:00",
    ]


# --- errors -----------------------------------------------------------------------------------

ERROR_CASES = [
    # (expression, legacy, message)
    (
        "* * * *",
        False,
        (
            "crontab: '* * * *' is not a valid expression (expected 5 fields (minute hour day"
            " month day_of_week), 6 with a leading second, or an alias such as @daily; got 4 "
            "fields)"
        ),
    ),
    (
        "1 2 3 4 5 6 7",
        False,
        (
            "crontab: '1 2 3 4 5 6 7' is not a valid expression (expected 5 fields (minute "
            "hour day month day_of_week), 6 with a leading second, or an alias such as "
            "@daily; got 7 fields)"
        ),
    ),
    (
        "",
        False,
        (
            "crontab: '' is not a valid expression (expected 5 fields (minute hour day month "
            "day_of_week), 6 with a leading second, or an alias such as @daily; got 0 fields)"
        ),
    ),
    (
        "@reboot",
        False,
        (
            "crontab: '@reboot' is not a valid expression (expected one of @yearly, "
            "@annually, @monthly, @weekly, @daily, @midnight, @hourly)"
        ),
    ),
    (
        "0 0 * * fri#9",
        False,
        (
            "day_of_week: 'fri#9' is not a valid expression (expected an occurrence from 1 to"
            " 5 after '#')"
        ),
    ),
    (
        "0 0 * * 1#0",
        False,
        (
            "day_of_week: '1#0' is not a valid expression (expected an occurrence from 1 to 5"
            " after '#')"
        ),
    ),
    (
        "0 0 * * 8L",
        False,
        (
            "day_of_week: '8L' is not a valid expression (expected a weekday from 0 to 7 (0 "
            "and 7 are Sunday))"
        ),
    ),
    (
        "0 0 * * 8",
        False,
        "day_of_week: '8' is not a valid expression (expected values from 0 to 7)",
    ),
    (
        "0 0 * * 7-0",
        False,
        (
            "day_of_week: '7-0' is not a valid expression (expected a range whose first value"
            " is not greater than its last)"
        ),
    ),
    (
        "5-3 * * * *",
        False,
        (
            "minute: '5-3' is not a valid expression (expected a range whose first value is "
            "not greater than its last)"
        ),
    ),
    (
        "0 11-9/3 * * *",
        False,
        (
            "hour: '11-9/3' is not a valid expression (expected a range whose first value is "
            "not greater than its last)"
        ),
    ),
    (
        "0 9-11/0 * * *",
        False,
        "hour: '9-11/0' is not a valid expression (expected a step of 1 or more)",
    ),
    (
        "0 0 * * 5-5/0",
        False,
        "day_of_week: '5-5/0' is not a valid expression (expected a step of 1 or more)",
    ),
    (
        "0 0-24/24 * * *",
        False,
        "hour: '0-24/24' is not a valid expression (expected values from 0 to 23)",
    ),
    (
        "0 0 1 13/20 *",
        False,
        (
            "month: '13/20' is not a valid expression (expected a step after '*' or a range only, "
            "as cron reads it)"
        ),
    ),
    (
        "5/15 * * * *",
        False,
        (
            "minute: '5/15' is not a valid expression (expected a step after '*' or a range only, "
            "as cron reads it)"
        ),
    ),
    (
        "0 0 * * mon/2",
        False,
        (
            "day_of_week: 'mon/2' is not a valid expression (expected a step after '*' or a range "
            "only, as cron reads it)"
        ),
    ),
    (
        "0 0 * * 5#3/2",
        False,
        (
            "day_of_week: '5#3/2' is not a valid expression (expected '*', '?', a number from"
            " 0 to 7 (0 and 7 are Sunday), a weekday name (sun-sat) or a range 'a-b' of "
            "these, optionally followed by a step '/n', or a weekday and 'L' ('5L': the last "
            "Friday) or '#n' ('5#3': the third Friday))"
        ),
    ),
    (
        "0 0 * * L",
        False,
        "day_of_week: 'L' is not a valid expression (expected a weekday name (sun-sat))",
    ),
    (
        "61 * * * *",
        False,
        "minute: '61' is not a valid expression (expected values from 0 to 59)",
    ),
    (
        "*/0 * * * *",
        False,
        "minute: '*/0' is not a valid expression (expected a step of 1 or more)",
    ),
    (
        "0 L * * *",
        False,
        (
            "hour: 'L' is not a valid expression (expected '*', a number from 0 to 23 or a "
            "range 'a-b', optionally followed by a step '/n')"
        ),
    ),
    (
        "0 0 * jan- *",
        False,
        (
            "month: 'jan-' is not a valid expression (expected '*', a number from 1 to 12, a "
            "month name (jan-dec) or a range 'a-b' of these, optionally followed by a step "
            "'/n')"
        ),
    ),
    (
        "0 0 L-3 * *",
        False,
        (
            "day: 'L-3' is not a valid expression (expected '*', '?', a number from 1 to 31 "
            "or a range 'a-b', optionally followed by a step '/n', 'L', 'LW' or a day and 'W'"
            " ('15W'))"
        ),
    ),
    (
        "0 0 W * *",
        False,
        (
            "day: 'W' is not a valid expression (expected '*', '?', a number from 1 to 31 or "
            "a range 'a-b', optionally followed by a step '/n', 'L', 'LW' or a day and 'W' "
            "('15W'))"
        ),
    ),
    (
        "0 0 0W * *",
        False,
        "day: '0W' is not a valid expression (expected a day from 1 to 31 before 'W')",
    ),
    (
        "0 0 32W * *",
        False,
        "day: '32W' is not a valid expression (expected a day from 1 to 31 before 'W')",
    ),
    (
        "0 0 1,? * *",
        False,
        "day: '1,?' is not a valid expression (expected '?' alone, not in a list)",
    ),
    (
        "0 0 last * *",
        False,
        (
            "day: 'last' is not a valid expression (expected '*', '?', a number from 1 to 31 "
            "or a range 'a-b', optionally followed by a step '/n', 'L', 'LW' or a day and 'W'"
            " ('15W'))"
        ),
    ),
    (
        "0 ? * * *",
        False,
        (
            "hour: '?' is not a valid expression (expected '*', a number from 0 to 23 or a "
            "range 'a-b', optionally followed by a step '/n')"
        ),
    ),
    (
        "60 0 0 * * *",
        False,
        "second: '60' is not a valid expression (expected values from 0 to 59)",
    ),
    (
        "@daily",
        True,
        (
            "crontab: '@daily' is not a valid expression (expected 5 fields (minute hour day "
            "month day_of_week) with legacy=True; got 1 field)"
        ),
    ),
    (
        "0 0 0 * * *",
        True,
        (
            "crontab: '0 0 0 * * *' is not a valid expression (expected 5 fields (minute hour"
            " day month day_of_week) with legacy=True; got 6 fields)"
        ),
    ),
    (
        "0 0 * * 5L",
        True,
        (
            "day_of_week: '5L' is not a valid expression (expected '*', a number from 0 (mon)"
            " to 6 (sun), a weekday name (mon-sun) or a range 'a-b' of these, optionally "
            "followed by a step '/n')"
        ),
    ),
    (
        "0 0 * * 7",
        True,
        "day_of_week: '7' is not a valid expression (expected values from 0 to 6)",
    ),
    # the legacy reading keeps APScheduler 3.x's limit on steps
    (
        "*/60 * * * *",
        True,
        (
            "minute: '*/60' is not a valid expression (expected a step from 1 to 59, the width"
            " of the range)"
        ),
    ),
    (
        "0 9-11/3 * * *",
        True,
        (
            "hour: '9-11/3' is not a valid expression (expected a step from 1 to 2, the width "
            "of the range)"
        ),
    ),
    (
        "0 0 * * 5-5/1",
        True,
        "day_of_week: '5-5/1' is not a valid expression (expected no step on a single value)",
    ),
    (
        "0 0 * * */7",
        True,
        (
            "day_of_week: '*/7' is not a valid expression (expected a step from 1 to 6, the "
            "width of the range)"
        ),
    ),
    (
        "0 0 L * *",
        True,
        (
            "day: 'L' is not a valid expression (expected '*', a number from 1 to 31 or a "
            "range 'a-b', optionally followed by a step '/n', 'last', or '1st' to '5th' or "
            "'last' and a weekday name ('3rd fri'))"
        ),
    ),
]


@pytest.mark.parametrize(
    ("expr", "legacy", "message"),
    ERROR_CASES,
    ids=[f"{case[0]!r}{'-legacy' if case[1] else ''}" for case in ERROR_CASES],
)
def test_invalid_crontab_is_rejected(expr: str, legacy: bool, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        crontab(expr, legacy=legacy)


def test_expression_of_another_type_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match=r"^crontab must be a string, got: 5$"):
        CronTrigger.from_crontab(5)  # type: ignore[arg-type]


# --- text forms and pickling ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "shown"),
    [
        ("0 9 * * 1-5", "0 9 * * 1-5"),
        ("  0   9 * *   MON-fri ", "0 9 * * mon-fri"),
        ("0 0 ? * 5#3", "0 0 * * 5#3"),
        ("0 0 l,lw,15w * fril,0l", "0 0 L,LW,15W * friL,0L"),
        ("30 0 0 * * *", "30 0 0 * * *"),
        ("0 0 0 * * *", "0 0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("0 0 * * sat-sun/1", "0 0 * * sat-sun/1"),
        ("*/15 1,2 1-5,10 jan-mar/2 *", "*/15 1,2 1-5,10 jan-mar/2 *"),
        ("*/60 9-11/3 5-5/1 */13 */8", "*/60 9-11/3 5-5/1 */13 */8"),
        ("5-5 5-5/2 * JAN-jan/1 MON-mon/3", "5 5-5/2 * jan-jan/1 mon-mon/3"),
        ("*/60 0 0 * * *", "*/60 0 0 * * *"),
    ],
)
def test_str_shows_the_crontab(expr: str, shown: str) -> None:
    trigger = crontab(expr)
    assert str(trigger) == f"cron[crontab='{shown}']"
    again = crontab(shown)
    assert again.__getstate__() == trigger.__getstate__()


def test_repr() -> None:
    trigger = CronTrigger.from_crontab(
        "0 9 * * 1-5", "Europe/Berlin", start_date="2024-01-01", jitter=3
    )
    assert repr(trigger) == (
        "<CronTrigger (crontab='0 9 * * 1-5', start_date='2024-01-01 00:00:00 CET', jitter=3, "
        "timezone='Europe/Berlin')>"
    )


def test_pickle_keeps_the_crontab_reading() -> None:
    trigger = CronTrigger.from_crontab("0 0 1 * 1", BERLIN)
    state = trigger.__getstate__()
    assert state["version"] == 2
    assert state["crontab"] is True
    copy = pickle.loads(pickle.dumps(trigger))
    assert str(copy) == "cron[crontab='0 0 1 * 1']"
    start = datetime(2024, 1, 1, tzinfo=BERLIN)
    assert fire_times(copy, start, 12) == fire_times(trigger, start, 12)
    assert fire_times(copy, start, 2) == ["Sun 2023-12-31 23:00:00", "Sun 2024-01-07 23:00:00"]


def test_pickle_keeps_steps_wider_than_their_range() -> None:
    trigger = crontab("*/60 9-11/3 5-5/1 */13 *")
    copy = pickle.loads(pickle.dumps(trigger))
    assert str(copy) == "cron[crontab='*/60 9-11/3 5-5/1 */13 *']"
    assert copy.__getstate__() == trigger.__getstate__()
    expected = ["Fri 2024-01-05 09:00:00", "Sun 2025-01-05 09:00:00", "Mon 2026-01-05 09:00:00"]
    assert fire_times(copy, START, 3) == expected
    states = {field.name: field.__getstate__() for field in trigger.fields}
    assert states["minute"] == {
        "version": 1,
        "name": "minute",
        "is_default": False,
        "expressions": "*/60",
        "crontab": True,
    }
    # the fields crontab(5) does not have, and those of the keyword form, are stored as before
    assert "crontab" not in states["year"]
    assert "crontab" not in states["week"]
    keyword = CronTrigger(minute="*/5", timezone=UTC)
    assert all("crontab" not in field.__getstate__() for field in keyword.fields)


# --- croniter agrees where its semantics are the same -----------------------------------------

CRONITER_AGREES = [
    "*/5 * * * *",
    "0 9 * * 1-5",
    "0 0 L * *",
    "0 0 1,15 * fri",
    "30 4 1-7 * 0",
    "0 12 * jan-jun/2 sat-sun",
    "15 10 15W * *",
    "0 0 31W * *",
    "0 0 * * 5#3",
    "0 0 * * 7#1",
    "59 23 29 2 *",
    "*/7 */5 */9 */4 */3",
    "0 0 * * fri-sun",
    "0 0 * * 1-7/2",
    # steps wider than their range (cron selects the range's first value)
    "*/60 * * * *",
    "0 */24 * * *",
    "0 9-11/3 * * *",
    "0 0 */40 * *",
    "0 0 1 */13 *",
    "0 0 1 jan-mar/5 *",
    "0 0 * * */8",
    "0 0 * * mon-wed/7",
    "0 20-23/5 * * *",
]


@pytest.mark.parametrize("expr", CRONITER_AGREES)
def test_agrees_with_croniter(expr: str) -> None:
    croniter = pytest.importorskip("croniter").croniter
    trigger = crontab(expr)
    start = datetime(2024, 5, 17, 13, 14, 15, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, start)
    assert first is not None
    iterator = croniter(expr, first)
    expected = [first] + [iterator.get_next(datetime) for _ in range(29)]
    ours = [first]
    for _ in range(29):
        following = trigger.get_next_fire_time(ours[-1], ours[-1])
        assert following is not None
        ours.append(following)
    assert ours == expected
    assert all(later - earlier > timedelta(0) for earlier, later in zip(ours, ours[1:]))


@pytest.mark.parametrize(
    ("expr", "ours", "croniters"),
    [
        # croniter reads a day field whose list holds '*' as '*' (so ANDs the day fields);
        # greensched, like cron, reads a day field that does not start with '*' or '?' as a
        # restriction
        pytest.param(
            "0 0 13 * 1,*",
            ["Mon 2024-01-01", "Tue 2024-01-02"],
            ["Sat 2024-01-13", "Tue 2024-02-13"],
            id="list-with-star-is-a-restriction",
        ),
        # cron leaves a day field that starts with '*' ('*/2' too) out of the either-day
        # rule; croniter reads '*/2' as a restriction (and ORs the day fields)
        pytest.param(
            "0 0 */2 * 1",
            ["Mon 2024-01-01", "Mon 2024-01-15", "Mon 2024-01-29"],
            ["Mon 2024-01-01", "Wed 2024-01-03", "Fri 2024-01-05"],
            id="star-step-day-takes-no-part-in-the-or-rule",
        ),
        # croniter ANDs a '#' day of week with a restricted day of month
        pytest.param(
            "0 0 15 * 5#3",
            ["Mon 2024-01-15", "Fri 2024-01-19"],
            ["Fri 2024-01-19", "Fri 2024-02-16"],
            id="hash-or-rule",
        ),
        # croniter takes 'a/n' (cron refuses a step after a single value, and so does
        # greensched)
        pytest.param(
            "0 0 * * 1/2",
            None,
            ["Mon 2024-01-01", "Wed 2024-01-03", "Fri 2024-01-05", "Mon 2024-01-08"],
            id="start-step",
        ),
        # croniter wraps reversed ranges round; APScheduler and greensched reject them
        pytest.param("0 0 * * 5-1", None, ["Mon 2024-01-01", "Fri 2024-01-05"], id="reversed"),
        # croniter reads a range of one value ('5-5', with or without a step) as '*'
        pytest.param(
            "0 0 * * 5-5",
            ["Fri 2024-01-05", "Fri 2024-01-12"],
            ["Mon 2024-01-01", "Tue 2024-01-02"],
            id="one-value-weekday-range",
        ),
        pytest.param(
            "0 0 * * 5-5/1",
            ["Fri 2024-01-05", "Fri 2024-01-12"],
            ["Mon 2024-01-01", "Tue 2024-01-02"],
            id="one-value-weekday-range-with-step",
        ),
        pytest.param(
            "0 0 5-5/1 * *",
            ["Fri 2024-01-05", "Mon 2024-02-05"],
            ["Mon 2024-01-01", "Tue 2024-01-02"],
            id="one-value-day-range-with-step",
        ),
        pytest.param(
            "0 0 1 jan-jan/1 *",
            ["Mon 2024-01-01", "Wed 2025-01-01"],
            ["Mon 2024-01-01", "Thu 2024-02-01"],
            id="one-value-month-range-with-step",
        ),
    ],
)
def test_deliberate_differences_from_croniter(
    expr: str, ours: list[str] | None, croniters: list[str]
) -> None:
    croniter = pytest.importorskip("croniter").croniter
    iterator = croniter(expr, START - timedelta(seconds=1))
    assert [iterator.get_next(datetime).strftime("%a %Y-%m-%d") for _ in croniters] == croniters
    if ours is None:
        with pytest.raises(ValueError, match=r"^day_of_week: |^minute: "):
            crontab(expr)
    else:
        assert [t[:14] for t in fire_times(crontab(expr), START, len(ours))] == ours
