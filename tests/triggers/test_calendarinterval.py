"""Tests for greensched.triggers.calendarinterval."""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import random
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from greensched._serialization import JobEncoder, decode_object
from greensched.triggers import calendarinterval as calendarinterval_module
from greensched.triggers.calendarinterval import CalendarIntervalTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc
#: long before every start date used here: the first fire time is then start_date's
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def fire_times(
    trigger: CalendarIntervalTrigger, now: datetime = LONG_AGO, count: int = 5
) -> list[datetime]:
    """The first ``count`` fire times (fewer if the schedule ends)."""
    result: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        if previous is None:
            break
        result.append(previous)
    return result


def iso(times: list[datetime]) -> list[str]:
    """Wall time and UTC offset of each datetime."""
    return [dt.isoformat() for dt in times]


@pytest.fixture
def fixed_jitter(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Make every jitter delay ``fraction * jitter`` (0: none, 1: the largest)."""

    def set_fraction(fraction: float) -> None:
        monkeypatch.setattr(random, "uniform", lambda low, high: low + (high - low) * fraction)

    return set_fraction


# --- validation -------------------------------------------------------------------------------


def test_interval_of_zero_is_rejected() -> None:
    # APScheduler 3.11: ValueError("interval must be at least 1 day long")
    with pytest.raises(
        ValueError,
        match=r"^interval must be at least 1 day long, got: years=0, months=0, weeks=0, days=0$",
    ):
        CalendarIntervalTrigger(hour=9, start_date=date(2024, 1, 1), timezone=BERLIN)


@pytest.mark.parametrize("name", ["years", "months", "weeks", "days"])
def test_negative_length_is_rejected(name: str) -> None:
    kwargs: dict[str, Any] = {name: -1}
    with pytest.raises(ValueError, match=rf"^{name} must be zero or more, got: -1$"):
        CalendarIntervalTrigger(**kwargs, start_date=date(2024, 1, 1), timezone=BERLIN)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.5, r"1\.5"), (2.0, r"2\.0"), ("1", "'1'"), (True, "True"), (None, "None")],
    ids=["fraction", "whole-float", "str", "bool", "none"],
)
@pytest.mark.parametrize("name", ["years", "months", "weeks", "days"])
def test_length_that_is_not_an_integer_is_rejected(name: str, value: Any, shown: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name} must be an integer, got: {shown}$"):
        CalendarIntervalTrigger(**{name: value}, start_date=date(2024, 1, 1), timezone=BERLIN)


@pytest.mark.parametrize(
    ("name", "value", "highest"),
    [
        ("hour", 24, 23),
        ("hour", -1, 23),
        ("minute", 60, 59),
        ("minute", -1, 59),
        ("second", 60, 59),
        ("second", -1, 59),
    ],
    ids=["hour-24", "hour-negative", "minute-60", "minute-negative", "second-60", "second-neg"],
)
def test_time_field_out_of_range_is_rejected(name: str, value: int, highest: int) -> None:
    kwargs: dict[str, Any] = {name: value}
    with pytest.raises(
        ValueError, match=rf"^{name} must be an integer between 0 and {highest}, got: {value}$"
    ):
        CalendarIntervalTrigger(days=1, **kwargs, start_date=date(2024, 1, 1), timezone=BERLIN)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(9.5, r"9\.5"), ("9", "'9'"), (True, "True"), (None, "None")],
    ids=["float", "str", "bool", "none"],
)
@pytest.mark.parametrize(("name", "highest"), [("hour", 23), ("minute", 59), ("second", 59)])
def test_time_field_that_is_not_an_integer_is_rejected(
    name: str, highest: int, value: Any, shown: str
) -> None:
    with pytest.raises(
        TypeError, match=rf"^{name} must be an integer between 0 and {highest}, got: {shown}$"
    ):
        CalendarIntervalTrigger(
            days=1, **{name: value}, start_date=date(2024, 1, 1), timezone=BERLIN
        )


@pytest.mark.parametrize(("name", "highest"), [("hour", 23), ("minute", 59), ("second", 59)])
def test_time_field_bounds_are_accepted(name: str, highest: int) -> None:
    kwargs: dict[str, Any] = {name: highest}
    trigger = CalendarIntervalTrigger(days=1, **kwargs, start_date=date(2024, 1, 1), timezone=UTC)
    (first,) = fire_times(trigger, count=1)
    assert getattr(first, name) == highest


def test_end_date_before_start_date_is_rejected() -> None:
    # APScheduler 3.11: ValueError("end_date cannot be earlier than start_date")
    with pytest.raises(
        ValueError,
        match=r"^end_date must not be earlier than start_date \(2024-02-01\), "
        r"got: datetime\.date\(2024, 1, 31\)$",
    ):
        CalendarIntervalTrigger(
            days=1, start_date="2024-02-01", end_date="2024-01-31", timezone=BERLIN
        )


def test_end_date_before_the_default_start_date_is_rejected_when_filled_in() -> None:
    trigger = CalendarIntervalTrigger(days=1, end_date=date(2024, 6, 2), timezone=BERLIN)
    with pytest.raises(
        ValueError, match=r"^end_date must not be earlier than start_date \(2024-06-03\), "
    ):
        trigger.fill_defaults(datetime(2024, 6, 3, 12, 0, tzinfo=UTC))


def test_negative_jitter_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^jitter must be zero or more seconds, got: -1$"):
        CalendarIntervalTrigger(days=1, start_date=date(2024, 1, 1), timezone=BERLIN, jitter=-1)


def test_jitter_that_is_not_a_number_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"^jitter must be a number of seconds, got: '5'$"):
        CalendarIntervalTrigger(
            days=1,
            start_date=date(2024, 1, 1),
            timezone=BERLIN,
            jitter="5",  # type: ignore[arg-type]
        )


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^timezone must be a known IANA zone name, got: 'Mars/Olympus'$"
    ):
        CalendarIntervalTrigger(days=1, start_date=date(2024, 1, 1), timezone="Mars/Olympus")


def test_unparseable_start_date_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^start_date must be an ISO 8601 date or datetime string, got: 'tomorrow'$",
    ):
        CalendarIntervalTrigger(days=1, start_date="tomorrow", timezone=BERLIN)


def test_impossible_end_date_string_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=r"^end_date must be an ISO 8601 date or datetime string, got: '2024-02-30'$",
    ):
        CalendarIntervalTrigger(
            days=1, start_date=date(2024, 1, 1), end_date="2024-02-30", timezone=BERLIN
        )


def test_start_date_of_a_wrong_type_is_rejected() -> None:
    with pytest.raises(
        TypeError,
        match=r"^Unsupported type for start_date: int "
        r"\(expected a date, a datetime or a string\)$",
    ):
        CalendarIntervalTrigger(days=1, start_date=20240101, timezone=BERLIN)  # type: ignore[arg-type]


def test_arguments_are_keyword_only() -> None:
    # as in APScheduler 3.11, whose CalendarIntervalTrigger takes no positional arguments
    parameters = inspect.signature(CalendarIntervalTrigger).parameters.values()
    assert {parameter.kind for parameter in parameters} == {inspect.Parameter.KEYWORD_ONLY}
    with pytest.raises(TypeError):
        CalendarIntervalTrigger(1)  # type: ignore[call-arg]


# --- time zone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Berlin", BERLIN),
        (BERLIN, BERLIN),
        ("UTC", UTC),
        (timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=5, minutes=30))),
    ],
    ids=["name", "zoneinfo", "utc-name", "fixed-offset"],
)
def test_timezone_forms(zone: Any, expected: Any) -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=date(2024, 1, 1), timezone=zone)
    assert trigger.timezone == expected
    (first,) = fire_times(trigger, count=1)
    assert first.tzinfo == expected
    assert first.replace(tzinfo=None) == datetime(2024, 1, 1, 9, 0)


@pytest.mark.parametrize(
    ("make_zone", "expected"),
    [
        (lambda pytz: pytz.timezone("America/New_York"), NEW_YORK),
        (lambda pytz: pytz.utc, ZoneInfo("UTC")),
        (lambda pytz: pytz.FixedOffset(120), timezone(timedelta(hours=2))),
    ],
    ids=["zone", "utc", "fixed-offset"],
)
def test_pytz_zone_becomes_its_zoneinfo_equivalent(
    make_zone: Callable[[Any], Any], expected: Any
) -> None:
    # as APScheduler 3.11 does: a pytz zone gives wrong offsets without its localize()
    pytz = pytest.importorskip("pytz")
    trigger = CalendarIntervalTrigger(
        days=1, hour=9, start_date=date(2024, 7, 1), timezone=make_zone(pytz)
    )
    assert trigger.timezone == expected
    assert type(trigger.timezone) is type(expected)
    (first,) = fire_times(trigger, count=1)
    assert first.replace(tzinfo=None) == datetime(2024, 7, 1, 9, 0)
    assert first.utcoffset() == expected.utcoffset(datetime(2024, 7, 1, 9, 0))


def test_timezone_defaults_to_that_of_an_aware_start_date() -> None:
    trigger = CalendarIntervalTrigger(
        days=1, start_date=datetime(2024, 3, 5, 23, 30, tzinfo=NEW_YORK)
    )
    assert trigger.timezone is NEW_YORK
    assert trigger.start_date == date(2024, 3, 5)


def test_timezone_defaults_to_that_of_an_aware_end_date() -> None:
    end_date = datetime(2024, 4, 1, tzinfo=NEW_YORK)
    trigger = CalendarIntervalTrigger(days=1, start_date="2024-03-05", end_date=end_date)
    assert trigger.timezone is NEW_YORK
    assert trigger.end_date == date(2024, 4, 1)


def test_timezone_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    local = ZoneInfo("Asia/Tokyo")
    monkeypatch.setattr("greensched.triggers.base.get_localzone", lambda: local)
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=datetime(2024, 3, 5, 14, 30))
    assert trigger.timezone is local
    assert fire_times(trigger, count=1) == [datetime(2024, 3, 5, 9, 0, tzinfo=local)]


def test_fire_times_are_in_the_trigger_zone_whatever_the_zone_of_now() -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN)
    now = datetime(2024, 3, 5, 3, 0, tzinfo=NEW_YORK)  # 09:00 in Berlin
    result = trigger.get_next_fire_time(None, now)
    assert result == datetime(2024, 3, 5, 9, 0, tzinfo=BERLIN)
    assert result is not None
    assert result.tzinfo is BERLIN


# --- start and end dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "start_date",
    [
        date(2024, 3, 5),
        "2024-03-05",
        " 2024-03-05 ",
        datetime(2024, 3, 5, 14, 30),  # APScheduler 3.11 accepts a datetime and uses its date
        "2024-03-05 14:30",
        "2024-03-05T23:30:00+01:00",
        datetime(2024, 3, 5, 22, 30, tzinfo=UTC),  # 23:30 in Berlin
    ],
    ids=["date", "string", "padded", "naive", "datetime-string", "aware-string", "aware"],
)
def test_start_date_forms(start_date: date | str) -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=start_date, timezone=BERLIN)
    assert trigger.start_date == date(2024, 3, 5)
    assert type(trigger.start_date) is date
    # the time of day of a datetime does not count: the first fire time is 09:00 that day
    assert fire_times(trigger, count=1) == [datetime(2024, 3, 5, 9, 0, tzinfo=BERLIN)]


def test_aware_start_date_is_converted_to_the_trigger_zone() -> None:
    # 2024-03-05 23:30 in New York is 2024-03-06 05:30 in Berlin
    start_date = datetime(2024, 3, 5, 23, 30, tzinfo=NEW_YORK)
    trigger = CalendarIntervalTrigger(days=1, start_date=start_date, timezone=BERLIN)
    assert trigger.start_date == date(2024, 3, 6)


@pytest.mark.parametrize(
    ("clock_time", "zone", "today"),
    [
        (datetime(2024, 6, 3, 12, 0, tzinfo=UTC), BERLIN, date(2024, 6, 3)),
        (datetime(2024, 6, 3, 23, 30, tzinfo=UTC), BERLIN, date(2024, 6, 4)),
        (datetime(2024, 6, 3, 2, 30, tzinfo=UTC), NEW_YORK, date(2024, 6, 2)),
    ],
    ids=["same-day", "already-tomorrow-in-berlin", "still-yesterday-in-new-york"],
)
def test_omitted_start_date_is_today_in_the_trigger_zone(
    clock_time: datetime, zone: ZoneInfo, today: date
) -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, timezone=zone)
    assert trigger.start_date is None
    assert "start_date" not in repr(trigger)
    trigger.fill_defaults(clock_time)
    assert trigger.start_date == today
    trigger.fill_defaults(clock_time + timedelta(days=3))  # only the first call has an effect
    assert trigger.start_date == today


def test_unset_start_date_stays_unset_through_pickling() -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, timezone=BERLIN)
    restored = pickle.loads(pickle.dumps(trigger))
    assert restored.start_date is None
    now = datetime(2024, 6, 3, 6, 0, tzinfo=BERLIN)
    assert restored.get_next_fire_time(None, now) == datetime(2024, 6, 3, 9, 0, tzinfo=BERLIN)
    assert restored.start_date == date(2024, 6, 3)


def test_omitted_start_date_fires_today_if_the_time_is_still_ahead() -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, timezone=BERLIN)
    now = datetime(2024, 6, 3, 6, 0, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 3, 9, 0, tzinfo=BERLIN)


def test_omitted_start_date_fires_tomorrow_if_the_time_has_passed() -> None:
    # APScheduler 3.11 returns today 09:00, in the past; the scheduler then reports it missed
    trigger = CalendarIntervalTrigger(days=1, hour=9, timezone=BERLIN)
    now = datetime(2024, 6, 3, 10, 0, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(None, now) == datetime(2024, 6, 4, 9, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "end_date",
    [date(2024, 1, 3), "2024-01-03", datetime(2024, 1, 3, 0, 0), datetime(2024, 1, 3, 23, 59)],
    ids=["date", "string", "midnight", "evening"],
)
def test_last_fire_is_on_end_date(end_date: date | str) -> None:
    trigger = CalendarIntervalTrigger(
        days=1, hour=9, start_date=date(2024, 1, 1), end_date=end_date, timezone=BERLIN
    )
    assert trigger.end_date == date(2024, 1, 3)
    assert iso(fire_times(trigger)) == [
        "2024-01-01T09:00:00+01:00",
        "2024-01-02T09:00:00+01:00",
        "2024-01-03T09:00:00+01:00",
    ]


def test_end_date_equal_to_start_date_fires_once() -> None:
    trigger = CalendarIntervalTrigger(
        weeks=1, hour=9, start_date=date(2024, 1, 1), end_date=date(2024, 1, 1), timezone=BERLIN
    )
    assert fire_times(trigger) == [datetime(2024, 1, 1, 9, 0, tzinfo=BERLIN)]


def test_end_date_between_grid_points() -> None:
    trigger = CalendarIntervalTrigger(
        months=1, start_date=date(2024, 1, 15), end_date=date(2024, 3, 14), timezone=BERLIN
    )
    assert [fire.date() for fire in fire_times(trigger)] == [date(2024, 1, 15), date(2024, 2, 15)]


def test_nothing_fires_when_now_is_past_end_date() -> None:
    trigger = CalendarIntervalTrigger(
        days=1, hour=9, start_date=date(2024, 1, 1), end_date=date(2024, 1, 3), timezone=BERLIN
    )
    assert trigger.get_next_fire_time(None, datetime(2024, 1, 3, 9, 0, 1, tzinfo=BERLIN)) is None
    assert trigger.get_next_fire_time(None, datetime(2024, 1, 3, 9, 0, tzinfo=BERLIN)) == (
        datetime(2024, 1, 3, 9, 0, tzinfo=BERLIN)
    )


def test_schedule_ends_at_the_last_representable_date() -> None:
    trigger = CalendarIntervalTrigger(years=1, start_date=date(9998, 6, 1), timezone=UTC)
    assert iso(fire_times(trigger)) == [
        "9998-06-01T00:00:00+00:00",
        "9999-06-01T00:00:00+00:00",
    ]
    huge = CalendarIntervalTrigger(years=10**9, days=10**12, start_date=date(2024, 1, 1))
    assert len(fire_times(huge)) == 1


# --- the calendar -----------------------------------------------------------------------------

CALENDAR_CASES = [
    pytest.param(
        {"days": 1},
        date(2024, 2, 27),
        ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"],
        id="daily-through-leap-day",
    ),
    pytest.param(
        {"days": 10},
        date(2023, 2, 20),
        ["2023-02-20", "2023-03-02", "2023-03-12", "2023-03-22", "2023-04-01"],
        id="every-10-days",
    ),
    pytest.param(
        {"weeks": 1},
        date(2024, 12, 23),
        ["2024-12-23", "2024-12-30", "2025-01-06", "2025-01-13", "2025-01-20"],
        id="weekly-across-new-year",
    ),
    pytest.param(
        {"weeks": 2, "days": 3},
        date(2024, 1, 1),
        ["2024-01-01", "2024-01-18", "2024-02-04", "2024-02-21", "2024-03-09"],
        id="weeks-and-days",
    ),
    pytest.param(
        {"months": 1},
        date(2024, 1, 15),
        ["2024-01-15", "2024-02-15", "2024-03-15", "2024-04-15", "2024-05-15"],
        id="monthly",
    ),
    pytest.param(
        {"months": 5},
        date(2024, 10, 10),
        ["2024-10-10", "2025-03-10", "2025-08-10", "2026-01-10", "2026-06-10"],
        id="every-5-months-across-years",
    ),
    pytest.param(
        {"years": 1},
        date(2024, 6, 1),
        ["2024-06-01", "2025-06-01", "2026-06-01", "2027-06-01", "2028-06-01"],
        id="yearly",
    ),
    pytest.param(
        {"years": 1, "months": 6},
        date(2024, 1, 31),
        ["2024-01-31", "2025-07-31", "2027-01-31", "2028-07-31", "2030-01-31"],
        id="years-and-months",
    ),
    pytest.param(
        {"months": 1},
        date(2024, 1, 31),
        ["2024-01-31", "2024-03-31", "2024-05-31", "2024-07-31", "2024-08-31"],
        id="31st-skips-short-months",
    ),
    pytest.param(
        {"months": 1},
        date(2023, 1, 29),
        ["2023-01-29", "2023-03-29", "2023-04-29", "2023-05-29", "2023-06-29"],
        id="29th-skips-february-of-a-common-year",
    ),
    pytest.param(
        {"months": 1},
        date(2024, 1, 29),
        ["2024-01-29", "2024-02-29", "2024-03-29", "2024-04-29", "2024-05-29"],
        id="29th-in-a-leap-year",
    ),
    pytest.param(
        {"months": 2},
        date(2024, 7, 31),
        ["2024-07-31", "2025-01-31", "2025-03-31", "2025-05-31", "2025-07-31"],
        id="31st-every-2-months",
    ),
    pytest.param(
        {"years": 1},
        date(2024, 2, 29),
        ["2024-02-29", "2028-02-29", "2032-02-29", "2036-02-29", "2040-02-29"],
        id="leap-day-yearly",
    ),
    pytest.param(
        {"years": 1},
        date(2096, 2, 29),
        ["2096-02-29", "2104-02-29", "2108-02-29", "2112-02-29", "2116-02-29"],
        id="leap-day-skips-2100",
    ),
    pytest.param(
        {"years": 100},
        date(2000, 2, 29),
        ["2000-02-29", "2400-02-29", "2800-02-29", "3200-02-29", "3600-02-29"],
        id="leap-day-every-century",
    ),
    pytest.param(
        {"months": 12},
        date(2024, 2, 29),
        ["2024-02-29", "2028-02-29", "2032-02-29", "2036-02-29", "2040-02-29"],
        id="12-months-is-a-year",
    ),
    pytest.param(
        {"months": 1, "days": 1},
        date(2024, 1, 1),
        ["2024-01-01", "2024-02-02", "2024-03-03", "2024-04-04", "2024-05-05"],
        id="months-and-days",
    ),
    pytest.param(
        # the grid of start_date: k months, skipping a day that does not exist, then k days
        # (APScheduler 3.11, which moves from the previous date: 01-30, 03-31, 06-01, 07-02...)
        {"months": 1, "days": 1},
        date(2024, 1, 30),
        ["2024-01-30", "2024-04-01", "2024-05-03", "2024-06-03", "2024-07-05"],
        id="months-and-days-on-the-grid",
    ),
]


@pytest.mark.parametrize(("lengths", "start_date", "expected"), CALENDAR_CASES)
def test_fire_dates(lengths: dict[str, Any], start_date: date, expected: list[str]) -> None:
    trigger = CalendarIntervalTrigger(
        **lengths, hour=9, minute=30, second=15, start_date=start_date, timezone=UTC
    )
    fires = fire_times(trigger)
    assert [fire.date().isoformat() for fire in fires] == expected
    assert {fire.time() for fire in fires} == {time(9, 30, 15)}
    assert {fire.tzinfo for fire in fires} == {UTC}


def test_skipped_day_keeps_the_day_of_month_of_start_date() -> None:
    # pinned to APScheduler 3.11: after a skipped month the next fire is again on the 31st,
    # never on the 30th or the 1st, however many skips came before
    trigger = CalendarIntervalTrigger(
        months=1, hour=12, start_date=date(2024, 1, 31), timezone=UTC
    )
    fires = fire_times(trigger, count=14)
    assert {fire.day for fire in fires} == {31}
    assert [fire.month for fire in fires] == [1, 3, 5, 7, 8, 10, 12, 1, 3, 5, 7, 8, 10, 12]


def test_wall_time_is_kept_across_daylight_saving_changes() -> None:
    trigger = CalendarIntervalTrigger(
        months=1, hour=9, start_date=date(2024, 1, 15), timezone=BERLIN
    )
    assert iso(fire_times(trigger, count=12)) == [
        "2024-01-15T09:00:00+01:00",
        "2024-02-15T09:00:00+01:00",
        "2024-03-15T09:00:00+01:00",
        "2024-04-15T09:00:00+02:00",
        "2024-05-15T09:00:00+02:00",
        "2024-06-15T09:00:00+02:00",
        "2024-07-15T09:00:00+02:00",
        "2024-08-15T09:00:00+02:00",
        "2024-09-15T09:00:00+02:00",
        "2024-10-15T09:00:00+02:00",
        "2024-11-15T09:00:00+01:00",
        "2024-12-15T09:00:00+01:00",
    ]


# --- previous_fire_time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lengths", "count", "first_dates"),
    [
        ({"days": 1}, 366, [date(2024, 1, 1) + timedelta(days=n) for n in range(366)]),
        ({"weeks": 1}, 53, [date(2024, 1, 1) + timedelta(weeks=n) for n in range(53)]),
        ({"months": 1}, 12, [date(2024, month, 1) for month in range(1, 13)]),
    ],
    ids=["daily", "weekly", "monthly"],
)
def test_a_year_of_fire_times(
    lengths: dict[str, Any], count: int, first_dates: list[date]
) -> None:
    trigger = CalendarIntervalTrigger(
        **lengths, hour=2, minute=30, start_date=date(2024, 1, 1), timezone=NEW_YORK
    )
    fires = fire_times(trigger, count=count + 1)
    assert [fire.date() for fire in fires[:count]] == first_dates
    assert fires[count].year == 2025
    for fire in fires:
        if fire.date() == date(2024, 3, 10):  # spring forward: 02:00 -> 03:00
            assert fire.isoformat() == "2024-03-10T03:00:00-04:00"
        else:
            assert fire.time() == time(2, 30)


def test_previous_off_the_grid_is_followed_by_the_next_grid_point() -> None:
    # APScheduler 3.11 would move one week from 01-05 (to 01-12); we stay on start_date's grid
    trigger = CalendarIntervalTrigger(
        weeks=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN
    )
    previous = datetime(2024, 1, 5, 15, 0, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) == datetime(
        2024, 1, 8, 9, 0, tzinfo=BERLIN
    )


def test_previous_just_before_a_grid_point_gives_that_grid_point() -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN)
    previous = datetime(2024, 1, 5, 8, 59, 59, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) == datetime(
        2024, 1, 5, 9, 0, tzinfo=BERLIN
    )


def test_previous_before_start_date_gives_start_date() -> None:
    trigger = CalendarIntervalTrigger(
        months=1, hour=9, start_date=date(2024, 1, 31), timezone=BERLIN
    )
    previous = datetime(2023, 12, 31, 9, 0, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, previous) == datetime(
        2024, 1, 31, 9, 0, tzinfo=BERLIN
    )


def test_previous_far_in_the_past_gives_the_next_grid_point_even_if_it_has_passed() -> None:
    # as in APScheduler 3.11: the scheduler walks missed run times with previous_fire_time
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN)
    previous = datetime(2024, 1, 5, 9, 0, tzinfo=BERLIN)
    now = datetime(2024, 6, 1, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, now) == datetime(2024, 1, 6, 9, 0, tzinfo=BERLIN)


def test_previous_in_another_zone_is_an_instant() -> None:
    trigger = CalendarIntervalTrigger(days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN)
    previous = datetime(2024, 1, 5, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    result = trigger.get_next_fire_time(previous, previous)
    assert result == datetime(2024, 1, 6, 9, 0, tzinfo=BERLIN)
    assert result is not None
    assert result.tzinfo is BERLIN


# --- a start date in the past -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lengths", "start_date", "now", "expected"),
    [
        ({"days": 1}, date(2024, 1, 1), datetime(2024, 6, 3, 8, 0), "2024-06-03T09:00:00+02:00"),
        ({"days": 1}, date(2024, 1, 1), datetime(2024, 6, 3, 9, 0), "2024-06-03T09:00:00+02:00"),
        (
            {"days": 1},
            date(2024, 1, 1),
            datetime(2024, 6, 3, 9, 0, 0, 1),
            "2024-06-04T09:00:00+02:00",
        ),
        ({"days": 3}, date(2024, 1, 1), datetime(2024, 1, 5, 12, 0), "2024-01-07T09:00:00+01:00"),
        ({"weeks": 2}, date(2024, 1, 1), datetime(2024, 6, 3, 10, 0), "2024-06-17T09:00:00+02:00"),
        ({"months": 1}, date(2024, 1, 31), datetime(2024, 4, 15), "2024-05-31T09:00:00+02:00"),
        ({"months": 1}, date(1924, 1, 31), datetime(2024, 4, 15), "2024-05-31T09:00:00+02:00"),
        ({"years": 1}, date(1924, 2, 29), datetime(2025, 1, 1), "2028-02-29T09:00:00+01:00"),
        ({"days": 1}, date(1924, 6, 3), datetime(2024, 6, 3, 9, 30), "2024-06-04T09:00:00+02:00"),
        ({"days": 7}, date(1924, 6, 2), datetime(2024, 6, 3, 9, 30), "2024-06-10T09:00:00+02:00"),
        (
            {"months": 1, "days": 1},
            date(2024, 1, 1),
            datetime(2024, 4, 5),
            "2024-05-05T09:00:00+02:00",
        ),
    ],
    ids=[
        "today-ahead",
        "exactly-now",
        "just-missed",
        "every-3-days",
        "fortnightly",
        "monthly-31st",
        "monthly-31st-a-century-ago",
        "leap-day-a-century-ago",
        "daily-a-century-ago",
        "weekly-a-century-ago",
        "months-and-days",
    ],
)
def test_past_start_date_is_not_replayed(
    lengths: dict[str, Any], start_date: date, now: datetime, expected: str
) -> None:
    # APScheduler 3.11 returns start_date's fire time on the first call, however old
    trigger = CalendarIntervalTrigger(**lengths, hour=9, start_date=start_date, timezone=BERLIN)
    result = trigger.get_next_fire_time(None, now.replace(tzinfo=BERLIN))
    assert result is not None
    assert result.isoformat() == expected


@pytest.mark.parametrize(
    ("lengths", "start_date", "expected"),
    [
        ({"days": 1}, date(1924, 6, 3), datetime(2024, 6, 4, 9, 0)),
        ({"weeks": 1}, date(1924, 6, 3), datetime(2024, 6, 4, 9, 0)),
        ({"months": 1}, date(1924, 1, 31), datetime(2024, 7, 31, 9, 0)),
        ({"years": 1}, date(1924, 2, 29), datetime(2028, 2, 29, 9, 0)),
        ({"months": 5, "weeks": 3}, date(1924, 1, 31), datetime(2024, 8, 8, 9, 0)),
    ],
    ids=["daily", "weekly", "monthly", "yearly-leap-day", "months-and-weeks"],
)
def test_past_start_date_is_found_without_walking_the_past(
    monkeypatch: pytest.MonkeyPatch,
    lengths: dict[str, Any],
    start_date: date,
    expected: datetime,
) -> None:
    grid_dates: list[int] = []
    wall_times: list[datetime] = []
    real_grid_date = CalendarIntervalTrigger._grid_date
    real_localize = calendarinterval_module.localize

    def counting_grid_date(self: CalendarIntervalTrigger, index: int, *args: int) -> Any:
        grid_dates.append(index)
        return real_grid_date(self, index, *args)

    def counting_localize(dt: datetime, zone: Any) -> datetime:
        wall_times.append(dt)
        return real_localize(dt, zone)

    monkeypatch.setattr(CalendarIntervalTrigger, "_grid_date", counting_grid_date)
    monkeypatch.setattr(calendarinterval_module, "localize", counting_localize)
    trigger = CalendarIntervalTrigger(**lengths, hour=9, start_date=start_date, timezone=BERLIN)
    now = datetime(2024, 6, 3, 9, 30, tzinfo=BERLIN)
    first = trigger.get_next_fire_time(None, now)
    assert first == expected.replace(tzinfo=BERLIN)
    # a century of grid points lies behind now; only a few are computed
    assert len(grid_dates) <= 12
    assert len(wall_times) <= 3
    grid_dates.clear()
    wall_times.clear()
    assert trigger.get_next_fire_time(first, now) is not None
    assert len(grid_dates) <= 12
    assert len(wall_times) <= 3


# --- daylight saving time ---------------------------------------------------------------------
# Europe/Berlin 2024: 03-31 02:00 -> 03:00, 10-27 03:00 -> 02:00
# America/New_York 2024: 03-10 02:00 -> 03:00, 11-03 02:00 -> 01:00
# Australia/Lord_Howe 2024: 10-06 02:00 -> 02:30 (a 30-minute change)

DST_CASES = [
    pytest.param(
        BERLIN,
        date(2024, 3, 30),
        (2, 30),
        ["2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"],
        id="berlin-gap",
    ),
    pytest.param(
        BERLIN,
        date(2024, 3, 30),
        (2, 0),
        ["2024-03-30T02:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00"],
        id="berlin-gap-start",
    ),
    pytest.param(
        BERLIN,
        date(2024, 3, 30),
        (3, 0),
        ["2024-03-30T03:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T03:00:00+02:00"],
        id="berlin-gap-end",
    ),
    pytest.param(
        BERLIN,
        date(2024, 10, 26),
        (2, 30),
        ["2024-10-26T02:30:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"],
        id="berlin-overlap",
    ),
    pytest.param(
        NEW_YORK,
        date(2024, 3, 9),
        (2, 30),
        ["2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"],
        id="new-york-gap",
    ),
    pytest.param(
        NEW_YORK,
        date(2024, 11, 2),
        (1, 30),
        ["2024-11-02T01:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        id="new-york-overlap",
    ),
    pytest.param(
        NEW_YORK,
        date(2024, 11, 2),
        (2, 0),
        ["2024-11-02T02:00:00-04:00", "2024-11-03T02:00:00-05:00", "2024-11-04T02:00:00-05:00"],
        id="new-york-after-overlap",
    ),
    pytest.param(
        ZoneInfo("Australia/Lord_Howe"),
        date(2024, 10, 5),
        (2, 15),
        ["2024-10-05T02:15:00+10:30", "2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"],
        id="lord-howe-half-hour-gap",
    ),
    pytest.param(
        # the whole of 2011-12-30 does not exist in Samoa: its noon fires at the first instant
        # after the gap, midnight on the 31st
        ZoneInfo("Pacific/Apia"),
        date(2011, 12, 29),
        (12, 0),
        ["2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"],
        id="apia-missing-day",
    ),
    pytest.param(
        # the gap's fire time and the next day's are the same instant: it fires once
        ZoneInfo("Pacific/Apia"),
        date(2011, 12, 29),
        (0, 0),
        ["2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"],
        id="apia-missing-midnight",
    ),
]


@pytest.mark.parametrize(("zone", "start_date", "wall_time", "expected"), DST_CASES)
def test_daylight_saving_changes(
    zone: ZoneInfo, start_date: date, wall_time: tuple[int, int], expected: list[str]
) -> None:
    hour, minute = wall_time
    trigger = CalendarIntervalTrigger(
        days=1, hour=hour, minute=minute, start_date=start_date, timezone=zone
    )
    fires = fire_times(trigger, count=3)
    assert iso(fires) == expected
    for fire in fires:
        assert fire.tzinfo is zone
        # a real instant: converting to UTC and back gives the same wall time and offset
        back = fire.astimezone(UTC).astimezone(zone)
        assert (back.replace(tzinfo=None), back.utcoffset()) == (
            fire.replace(tzinfo=None),
            fire.utcoffset(),
        )


def test_gap_fire_time_is_also_the_first_fire_time_from_now() -> None:
    trigger = CalendarIntervalTrigger(
        weeks=1, hour=2, minute=30, start_date=date(2024, 3, 3), timezone=NEW_YORK
    )
    now = datetime(2024, 3, 9, 12, 0, tzinfo=NEW_YORK)
    result = trigger.get_next_fire_time(None, now)
    assert result is not None
    assert result.isoformat() == "2024-03-10T03:00:00-04:00"
    following = trigger.get_next_fire_time(result, now)
    assert following is not None
    assert following.isoformat() == "2024-03-17T02:30:00-04:00"


def test_gap_fire_time_on_the_next_day_is_found_from_now() -> None:
    # 2011-12-30 12:00 does not exist in Samoa: it fires at 2011-12-31 00:00, the very instant
    # of now (a grid date before the date of now can still give a fire time at or after now)
    apia = ZoneInfo("Pacific/Apia")
    trigger = CalendarIntervalTrigger(days=1, hour=12, start_date=date(2011, 12, 1), timezone=apia)
    now = datetime(2011, 12, 31, 0, 0, tzinfo=apia)
    result = trigger.get_next_fire_time(None, now)
    assert result is not None
    assert result.isoformat() == "2011-12-31T00:00:00+14:00"


def test_overlap_fire_time_equal_to_now_is_returned() -> None:
    # now (UTC) is exactly the first 02:00 of 2024-10-27 in Berlin; an aware datetime in the
    # overlap never compares equal to one in another zone, so this needs care
    trigger = CalendarIntervalTrigger(
        days=1, hour=2, start_date=date(2024, 10, 1), timezone=BERLIN
    )
    now = datetime(2024, 10, 27, 0, 0, tzinfo=UTC)
    result = trigger.get_next_fire_time(None, now)
    assert result is not None
    assert result.isoformat() == "2024-10-27T02:00:00+02:00"
    following = trigger.get_next_fire_time(now, now)
    assert following is not None
    assert following.isoformat() == "2024-10-28T02:00:00+01:00"


def test_overlap_fires_once_from_now_inside_the_overlap() -> None:
    # now is 01:45 EDT, after the day's first 01:30 and before its second: no second run
    trigger = CalendarIntervalTrigger(
        days=1, hour=1, minute=30, start_date=date(2024, 11, 1), timezone=NEW_YORK
    )
    now = datetime(2024, 11, 3, 1, 45, tzinfo=NEW_YORK)  # fold=0: EDT
    result = trigger.get_next_fire_time(None, now)
    assert result is not None
    assert result.isoformat() == "2024-11-04T01:30:00-05:00"


# --- jitter -----------------------------------------------------------------------------------


def test_jitter_delays_within_bounds(fixed_jitter: Callable[[float], None]) -> None:
    trigger = CalendarIntervalTrigger(
        days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN, jitter=30
    )
    fixed_jitter(0.0)
    assert fire_times(trigger, count=1) == [datetime(2024, 1, 1, 9, 0, tzinfo=BERLIN)]
    fixed_jitter(1.0)
    assert fire_times(trigger, count=1) == [datetime(2024, 1, 1, 9, 0, 30, tzinfo=BERLIN)]


def test_jittered_schedule_does_not_drift_over_1000_fires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "uniform", random.Random(1234).uniform)
    jitter = 600.0
    trigger = CalendarIntervalTrigger(
        days=1, hour=23, minute=55, start_date=date(2024, 1, 1), timezone=BERLIN, jitter=jitter
    )
    previous = None
    delays = []
    for index in range(1000):
        previous = trigger.get_next_fire_time(previous, LONG_AGO)
        assert previous is not None
        grid_point = datetime.combine(
            date(2024, 1, 1) + timedelta(days=index), time(23, 55), tzinfo=BERLIN
        )
        delay = (previous.astimezone(UTC) - grid_point.astimezone(UTC)).total_seconds()
        assert 0 <= delay <= jitter, (index, previous)
        delays.append(delay)
    assert len(set(delays)) > 900  # the delays really were random
    # many delays crossed midnight, none of them moved the schedule a day
    assert sum(delay > 300 for delay in delays) > 300


def test_largest_jitter_every_time_does_not_drift(fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(1.0)
    trigger = CalendarIntervalTrigger(
        months=1, hour=23, minute=59, start_date=date(2024, 1, 31), timezone=BERLIN, jitter=3600
    )
    assert iso(fire_times(trigger, count=4)) == [
        "2024-02-01T00:59:00+01:00",
        "2024-04-01T00:59:00+02:00",
        "2024-06-01T00:59:00+02:00",
        "2024-08-01T00:59:00+02:00",
    ]


def test_jitter_across_the_gap_is_elapsed_time(fixed_jitter: Callable[[float], None]) -> None:
    # 01:59:50 CET + 20 s is 03:00:10 CEST, never the non-existent 02:00:10
    fixed_jitter(1.0)
    trigger = CalendarIntervalTrigger(
        days=1,
        hour=1,
        minute=59,
        second=50,
        start_date=date(2024, 3, 31),
        timezone=BERLIN,
        jitter=20,
    )
    (result,) = fire_times(trigger, count=1)
    assert result.isoformat() == "2024-03-31T03:00:10+02:00"


def test_jitter_past_the_end_of_end_date_ends_the_schedule(
    fixed_jitter: Callable[[float], None],
) -> None:
    trigger = CalendarIntervalTrigger(
        days=1,
        hour=23,
        minute=59,
        start_date=date(2024, 1, 1),
        end_date=date(2024, 1, 2),
        timezone=BERLIN,
        jitter=120,
    )
    fixed_jitter(0.25)  # 23:59:30, still on end_date
    assert iso(fire_times(trigger)) == ["2024-01-01T23:59:30+01:00", "2024-01-02T23:59:30+01:00"]
    fixed_jitter(0.75)  # 00:00:30 the next day: past end_date
    assert iso(fire_times(trigger)) == ["2024-01-02T00:00:30+01:00"]


def test_zero_jitter_is_no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: pytest.fail("jitter was drawn"))
    trigger = CalendarIntervalTrigger(
        days=1, hour=9, start_date=date(2024, 1, 1), timezone=BERLIN, jitter=0
    )
    assert trigger.jitter == 0
    assert fire_times(trigger, count=1) == [datetime(2024, 1, 1, 9, 0, tzinfo=BERLIN)]


# --- str, repr, state -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"months": 1, "hour": 9, "timezone": "Europe/Berlin"},
            (
                "CalendarIntervalTrigger(months=1, time='09:00:00', start_date='2024-01-31', "
                "timezone='Europe/Berlin')"
            ),
        ),
        (
            {
                "years": 2,
                "months": 3,
                "weeks": 4,
                "days": 5,
                "hour": 23,
                "minute": 5,
                "second": 7,
                "end_date": "2030-12-31",
                "timezone": BERLIN,
                "jitter": 5,
            },
            (
                "CalendarIntervalTrigger(years=2, months=3, weeks=4, days=5, time='23:05:07', "
                "start_date='2024-01-31', end_date='2030-12-31', timezone='Europe/Berlin')"
            ),
        ),
        (
            {"weeks": 2, "hour": 9, "timezone": "UTC"},
            (
                "CalendarIntervalTrigger(weeks=2, time='09:00:00+00:00', start_date='2024-01-31', "
                "timezone='datetime.timezone.utc')"
            ),
        ),
        (
            {"days": 1, "timezone": timezone(timedelta(hours=2))},
            (
                "CalendarIntervalTrigger(days=1, time='00:00:00+02:00', start_date='2024-01-31', "
                "timezone='datetime.timezone(datetime.timedelta(seconds=7200))')"
            ),
        ),
    ],
    ids=["zone-name", "every-field", "utc", "fixed-offset"],
)
def test_repr_and_str(kwargs: dict[str, Any], expected: str) -> None:
    # APScheduler 3.11's format; it has no __str__ of its own, so str() is the same
    trigger = CalendarIntervalTrigger(start_date=date(2024, 1, 31), **kwargs)
    assert repr(trigger) == expected
    assert str(trigger) == expected


def test_state_is_versioned() -> None:
    trigger = CalendarIntervalTrigger(
        years=1,
        months=2,
        weeks=3,
        days=4,
        hour=5,
        minute=6,
        second=7,
        start_date="2024-01-31",
        end_date="2030-01-01",
        timezone=BERLIN,
        jitter=2.5,
    )
    # APScheduler 3.11's keys and layout
    assert trigger.__getstate__() == {
        "version": 1,
        "interval": [1, 2, 3, 4],
        "time": [5, 6, 7],
        "start_date": date(2024, 1, 31),
        "end_date": date(2030, 1, 1),
        "timezone": BERLIN,
        "jitter": 2.5,
    }


@pytest.mark.parametrize("jitter", [None, 3], ids=["no-jitter", "jitter"])
def test_pickle_round_trip(jitter: float | None, fixed_jitter: Callable[[float], None]) -> None:
    fixed_jitter(0.5)
    trigger = CalendarIntervalTrigger(
        months=1,
        days=2,
        hour=9,
        minute=15,
        start_date=date(2024, 1, 31),
        end_date=date(2025, 1, 1),
        timezone=NEW_YORK,
        jitter=jitter,
    )
    restored = pickle.loads(pickle.dumps(trigger))
    assert type(restored) is CalendarIntervalTrigger
    assert restored.__getstate__() == trigger.__getstate__()
    assert repr(restored) == repr(trigger)
    assert fire_times(restored, count=20) == fire_times(trigger, count=20)


def test_json_export_round_trip() -> None:
    # the format of export_jobs / import_jobs
    trigger = CalendarIntervalTrigger(
        months=1,
        hour=9,
        start_date=date(2024, 1, 31),
        end_date=date(2025, 1, 1),
        timezone=BERLIN,
        jitter=5,
    )
    restored = json.loads(json.dumps(trigger, cls=JobEncoder), object_hook=decode_object)
    assert type(restored) is CalendarIntervalTrigger
    assert restored.__getstate__() == trigger.__getstate__()


def test_trigger_exported_by_apscheduler_is_imported() -> None:
    aps_class = _apscheduler_trigger_class()
    theirs = aps_class(
        months=1,
        days=2,
        hour=9,
        minute=30,
        start_date=date(2024, 1, 31),
        end_date=date(2025, 1, 1),
        timezone=BERLIN,
        jitter=5,
    )
    exported = json.dumps(
        {
            "__apscheduler_class__": "apscheduler.triggers.calendarinterval:"
            "CalendarIntervalTrigger",
            "__apscheduler_state__": theirs.__getstate__(),
        },
        cls=JobEncoder,
    )
    ours = json.loads(exported, object_hook=decode_object)
    assert type(ours) is CalendarIntervalTrigger
    assert ours.__getstate__() == theirs.__getstate__()
    assert repr(ours) == repr(theirs)


def test_state_with_a_datetime_start_date_is_read_as_a_date() -> None:
    # APScheduler 3.11 keeps a datetime start_date as given, and so saves it
    trigger = CalendarIntervalTrigger.__new__(CalendarIntervalTrigger)
    trigger.__setstate__(
        {
            "version": 1,
            "interval": [0, 0, 0, 1],
            "time": [9, 0, 0],
            "start_date": datetime(2024, 3, 5, 14, 30),
            "end_date": datetime(2024, 3, 6, 0, 0),
            "timezone": BERLIN,
            "jitter": None,
        }
    )
    assert (trigger.start_date, trigger.end_date) == (date(2024, 3, 5), date(2024, 3, 6))
    assert iso(fire_times(trigger)) == ["2024-03-05T09:00:00+01:00", "2024-03-06T09:00:00+01:00"]


def test_state_from_a_newer_release_is_rejected() -> None:
    state = CalendarIntervalTrigger(days=1, start_date=date(2024, 1, 1)).__getstate__()
    state["version"] = 2
    trigger = CalendarIntervalTrigger.__new__(CalendarIntervalTrigger)
    with pytest.raises(
        ValueError,
        match=r"^Cannot restore CalendarIntervalTrigger from state version 2: this release of "
        r"greensched reads versions up to 1 \(the state was saved by a newer release\)$",
    ):
        trigger.__setstate__(state)


def test_has_no_instance_dict() -> None:
    assert not hasattr(CalendarIntervalTrigger(days=1, start_date=date(2024, 1, 1)), "__dict__")


def test_module_exports_the_trigger_under_its_public_path() -> None:
    assert calendarinterval_module.__all__ == ("CalendarIntervalTrigger",)
    assert CalendarIntervalTrigger.__module__ == "greensched.triggers.calendarinterval"


# --- side by side with APScheduler 3.11 -------------------------------------------------------


def _apscheduler_trigger_class() -> Any:
    module = pytest.importorskip("apscheduler.triggers.calendarinterval")
    return module.CalendarIntervalTrigger


AGREEING_CASES = [
    pytest.param({"days": 1}, date(2024, 1, 1), BERLIN, id="daily"),
    pytest.param({"days": 3}, date(2024, 2, 27), NEW_YORK, id="every-3-days"),
    pytest.param({"weeks": 1, "days": 2}, date(2024, 1, 1), BERLIN, id="weeks-and-days"),
    pytest.param({"months": 1}, date(2024, 1, 31), BERLIN, id="monthly-31st"),
    pytest.param({"months": 1}, date(2023, 1, 29), NEW_YORK, id="monthly-29th"),
    pytest.param({"months": 7}, date(2024, 3, 30), BERLIN, id="every-7-months-30th"),
    pytest.param({"years": 1}, date(2024, 2, 29), BERLIN, id="yearly-leap-day"),
    pytest.param({"years": 1, "months": 1}, date(2024, 1, 31), UTC, id="years-and-months"),
]


@pytest.mark.parametrize(("lengths", "start_date", "zone"), AGREEING_CASES)
@pytest.mark.parametrize("wall_time", [(9, 0, 0), (23, 59, 59), (2, 30, 0)], ids=str)
def test_fire_times_agree_with_apscheduler(
    lengths: dict[str, Any], start_date: date, zone: Any, wall_time: tuple[int, int, int]
) -> None:
    """Where APScheduler 3.11 has no bug to fix (only months/years or only weeks/days, a start
    date ahead, no wall time inside a gap), the fire times are the same."""
    aps_class = _apscheduler_trigger_class()
    hour, minute, second = wall_time
    kwargs: dict[str, Any] = dict(
        lengths, hour=hour, minute=minute, second=second, start_date=start_date
    )
    ours = CalendarIntervalTrigger(**kwargs, timezone=zone)
    theirs = aps_class(**kwargs, timezone=zone)
    now = datetime.combine(start_date, time(), tzinfo=UTC) - timedelta(days=1)
    expected = []
    previous = None
    for _ in range(40):
        previous = theirs.get_next_fire_time(previous, now)
        expected.append(previous)
    result = fire_times(ours, now, 40)
    if wall_time == (2, 30, 0) and zone is not UTC:
        # APScheduler 3.11 skips the days whose 02:30 is in a gap; compare the others
        result = [fire for fire in result if fire.time() == time(2, 30)]
        result = result[: len(expected)]
        expected = expected[: len(result)]
    assert result == expected
    assert [fire.utcoffset() for fire in result] == [fire.utcoffset() for fire in expected]
    assert repr(ours) == repr(theirs)
    assert ours.__getstate__() == theirs.__getstate__()


def test_apscheduler_skips_the_day_of_a_gap_and_we_fire_after_it() -> None:
    aps_class = _apscheduler_trigger_class()
    kwargs: dict[str, Any] = {"days": 1, "hour": 2, "minute": 30, "start_date": date(2024, 3, 9)}
    theirs = aps_class(**kwargs, timezone=NEW_YORK)
    ours = CalendarIntervalTrigger(**kwargs, timezone=NEW_YORK)
    assert iso(fire_times(theirs, count=2)) == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-11T02:30:00-04:00",
    ]
    assert iso(fire_times(ours, count=2)) == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:00:00-04:00",
    ]


def test_apscheduler_replays_a_past_start_date_and_we_do_not() -> None:
    aps_class = _apscheduler_trigger_class()
    kwargs: dict[str, Any] = {
        "days": 1,
        "hour": 9,
        "start_date": date(2024, 1, 1),
        "timezone": BERLIN,
    }
    now = datetime(2024, 6, 3, 12, 0, tzinfo=BERLIN)
    assert aps_class(**kwargs).get_next_fire_time(None, now) == datetime(
        2024, 1, 1, 9, 0, tzinfo=BERLIN
    )
    assert CalendarIntervalTrigger(**kwargs).get_next_fire_time(None, now) == datetime(
        2024, 6, 4, 9, 0, tzinfo=BERLIN
    )


def test_apscheduler_drifts_with_months_and_days_and_we_keep_the_grid() -> None:
    aps_class = _apscheduler_trigger_class()
    kwargs: dict[str, Any] = {
        "months": 1,
        "days": 1,
        "start_date": date(2024, 1, 30),
        "timezone": UTC,
    }
    assert [fire.date() for fire in fire_times(aps_class(**kwargs), count=4)] == [
        date(2024, 1, 30),
        date(2024, 3, 31),
        date(2024, 6, 1),
        date(2024, 7, 2),
    ]
    assert [fire.date() for fire in fire_times(CalendarIntervalTrigger(**kwargs), count=4)] == [
        date(2024, 1, 30),
        date(2024, 4, 1),
        date(2024, 5, 3),
        date(2024, 6, 3),
    ]


def test_apscheduler_loses_days_to_jitter_past_midnight_and_we_do_not(
    fixed_jitter: Callable[[float], None],
) -> None:
    # APScheduler 3.11 moves on from the date of the jittered fire time
    aps_class = _apscheduler_trigger_class()
    fixed_jitter(0.75)
    kwargs: dict[str, Any] = {
        "days": 1,
        "hour": 23,
        "minute": 59,
        "start_date": date(2024, 1, 1),
        "timezone": BERLIN,
        "jitter": 120,
    }
    assert iso(fire_times(aps_class(**kwargs), count=3)) == [
        "2024-01-02T00:00:30+01:00",
        "2024-01-04T00:00:30+01:00",
        "2024-01-06T00:00:30+01:00",
    ]
    assert iso(fire_times(CalendarIntervalTrigger(**kwargs), count=3)) == [
        "2024-01-02T00:00:30+01:00",
        "2024-01-03T00:00:30+01:00",
        "2024-01-04T00:00:30+01:00",
    ]


def test_apscheduler_module_path_matches() -> None:
    pytest.importorskip("apscheduler.triggers.calendarinterval")
    theirs = importlib.import_module("apscheduler.triggers.calendarinterval")
    assert theirs.CalendarIntervalTrigger.__name__ == CalendarIntervalTrigger.__name__
    aps_parameters = inspect.signature(theirs.CalendarIntervalTrigger).parameters
    our_parameters = inspect.signature(CalendarIntervalTrigger).parameters
    assert [
        (name, parameter.kind, parameter.default) for name, parameter in aps_parameters.items()
    ] == [(name, parameter.kind, parameter.default) for name, parameter in our_parameters.items()]
